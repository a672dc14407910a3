/* agnocast-bench-bridge: one-way latency between two hosts (half the round trip) through
 * agnocast and agnocast-bridge, and through Cyclone DDS alone, interleaved in one run.
 * scripts/bench makes the hosts (network namespaces), their brokers and bridges, and starts
 * `echo` on host B and `ping` on host A. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench-bridge.h"
#include "bench-stats.h"
#include "bench-util.h"

#define MAX_SIZES 8
/* Waits for an echo: past this a round trip counts as lost. */
#define ECHO_TIMEOUT_MS 2000
/* Lost round trips (reliable on both paths: there should be none) before the run gives up. */
#define MAX_LOST 20
/* While the peers are still being found, a round trip is retried this often. */
#define MATCH_RETRY_MS 200

static const struct bench_rt_ops *const transports[] = {&bench_rt_agnocast, &bench_rt_dds};
#define NTRANSPORTS (sizeof(transports) / sizeof(transports[0]))

volatile sig_atomic_t bench_rt_stopping;
static void (*stop_also)(void);

static void on_stop(int sig)
{
    (void)sig;
    bench_rt_stopping = 1;
    if (stop_also)
        stop_also();
}

void bench_rt_catch_stop(void (*also)(void))
{
    struct sigaction sa = {.sa_handler = on_stop};

    stop_also = also;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
}

struct series {
    uint64_t *ns; /* one-way: round trip / 2 */
    size_t n;
    uint64_t lost;
};

struct ping {
    size_t sizes[MAX_SIZES];
    unsigned nsizes, rounds;
    uint64_t count, warm;
    int domain, match_ms;
    void *state[NTRANSPORTS];
    uint64_t seq[NTRANSPORTS];
    struct series s[NTRANSPORTS][MAX_SIZES];
    uint64_t lost;
};

/* Round trips until one comes back: the last endpoints are matched (DDS discovery between the
 * hosts, the echo's subscription at the bridge on B). */
static int match(struct ping *p, unsigned t)
{
    const struct bench_rt_ops *ops = transports[t];
    uint64_t end = bench_now_ns() + (uint64_t)p->match_ms * 1000000ull, rtt;
    int r;

    do {
        if (ops->send(p->state[t], p->sizes[0], ++p->seq[t]) < 0)
            return -1;
        if ((r = ops->wait(p->state[t], p->sizes[0], p->seq[t], MATCH_RETRY_MS, &rtt)) != 0)
            return r < 0 ? -1 : 0;
    } while (bench_now_ns() < end);
    fprintf(stderr, "bench %s: no echo from host B in %d ms\n", ops->name, p->match_ms);
    return -1;
}

/* `warm` round trips not counted, then `n` counted into series `k` of transport t. */
static int block(struct ping *p, unsigned t, unsigned k, uint64_t n)
{
    const struct bench_rt_ops *ops = transports[t];
    struct series *s = &p->s[t][k];

    for (uint64_t i = 0; i < p->warm + n; i++) {
        uint64_t rtt = 0, seq = ++p->seq[t];
        int r;

        bench_gap();
        if (ops->send(p->state[t], p->sizes[k], seq) < 0 ||
            (r = ops->wait(p->state[t], p->sizes[k], seq, ECHO_TIMEOUT_MS, &rtt)) < 0)
            return -1;
        if (r == 0) {
            s->lost += i >= p->warm;
            if (++p->lost > MAX_LOST) {
                fprintf(stderr, "bench %s: more than %d round trips lost (%zu B)\n", ops->name,
                        MAX_LOST, p->sizes[k]);
                return -1;
            }
            continue;
        }
        if (i >= p->warm)
            s->ns[s->n++] = (rtt + 1) / 2;
    }
    return 0;
}

static void report(struct ping *p)
{
    for (unsigned k = 0; k < p->nsizes; k++) {
        for (unsigned t = 0; t < NTRANSPORTS; t++) {
            struct series *s = &p->s[t][k];
            struct bench_stats st;
            char extra[96];

            bench_stats_compute(s->ns, s->n, &st);
            snprintf(extra, sizeof(extra), ",\"rounds\":%u,\"lost\":%llu", p->rounds,
                     (unsigned long long)s->lost);
            bench_stats_print(stdout, "bridge", transports[t]->name, p->sizes[k], &st, extra);
        }
    }
}

static int ping(struct ping *p)
{
    uint64_t per = p->count / p->rounds ? p->count / p->rounds : 1;
    size_t max_size = 0;
    int rc = -1;

    for (unsigned k = 0; k < p->nsizes; k++) {
        max_size = p->sizes[k] > max_size ? p->sizes[k] : max_size;
        for (unsigned t = 0; t < NTRANSPORTS; t++)
            if (!(p->s[t][k].ns = calloc(per * p->rounds, sizeof(uint64_t))))
                goto out;
    }
    for (unsigned t = 0; t < NTRANSPORTS; t++)
        if (transports[t]->open(p->domain, max_size, p->match_ms, &p->state[t]) < 0 ||
            match(p, t) < 0)
            goto out;
    /* Round-robin over sizes and transports, a slice of each per round: drift of a shared
     * machine then moves both paths alike. */
    for (unsigned r = 0; r < p->rounds; r++)
        for (unsigned k = 0; k < p->nsizes; k++)
            for (unsigned t = 0; t < NTRANSPORTS; t++)
                if (block(p, t, k, per) < 0)
                    goto out;
    report(p);
    rc = 0;
out:
    for (unsigned t = 0; t < NTRANSPORTS; t++) {
        if (p->state[t])
            transports[t]->close(p->state[t]);
        for (unsigned k = 0; k < p->nsizes; k++)
            free(p->s[t][k].ns);
    }
    return rc;
}

static int parse_sizes(struct ping *p, const char *arg)
{
    char *copy = strdup(arg), *save = NULL;

    p->nsizes = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        unsigned long long v = strtoull(tok, &end, 10);
        if (*end || p->nsizes == MAX_SIZES || v < sizeof(struct bench_hdr) || v > UINT32_MAX) {
            free(copy);
            return -1;
        }
        p->sizes[p->nsizes++] = (size_t)v;
    }
    free(copy);
    return p->nsizes ? 0 : -1;
}

static void usage(FILE *out)
{
    fputs("usage: agnocast-bench-bridge ping [--sizes BYTES,...] [--count N] [--rounds N]\n"
          "                                  [--warm N] [--domain D] [--match-timeout MS]\n"
          "       agnocast-bench-bridge echo --transport agnocast-bridge|cyclonedds [--domain D]\n"
          "ping (host A): round trips to the echo on host B, through agnocast and the hosts'\n"
          "agnocast-bridges (" BENCH_BRIDGE_PING " A->B, " BENCH_BRIDGE_PONG " B->A, type flat)\n"
          "and through Cyclone DDS alone (" BENCH_DDS_PING ", " BENCH_DDS_PONG "), interleaved;\n"
          "COUNT per size and path over ROUNDS rounds, WARM more per size, path and round not\n"
          "counted; prints one JSON line per size and path, one-way = round trip / 2.\n"
          "echo (host B): sends back what arrives until SIGTERM. Both need $AGNOCAST_SOCKET\n"
          "(their host's broker) and $CYCLONEDDS_URI; scripts/bench sets them up.\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"sizes", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'},
        {"warm", required_argument, NULL, 'w'},
        {"domain", required_argument, NULL, 'd'},
        {"match-timeout", required_argument, NULL, 'm'},
        {"transport", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ping p = {
        .sizes = {64}, .nsizes = 1, .rounds = 4, .count = 400, .warm = 20, .match_ms = 30000};
    const char *transport = NULL;
    int opt;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            if (parse_sizes(&p, optarg) < 0) {
                fprintf(stderr,
                        "agnocast-bench-bridge: --sizes takes up to %d sizes from %zu "
                        "bytes, separated by commas\n",
                        MAX_SIZES, sizeof(struct bench_hdr));
                return 2;
            }
            break;
        case 'n':
            p.count = strtoull(optarg, NULL, 10);
            break;
        case 'r':
            p.rounds = (unsigned)atoi(optarg);
            break;
        case 'w':
            p.warm = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            p.domain = atoi(optarg);
            break;
        case 'm':
            p.match_ms = atoi(optarg);
            break;
        case 't':
            transport = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(argv[1], "echo") == 0) {
        for (unsigned t = 0; t < NTRANSPORTS; t++)
            if (transport && strcmp(transport, transports[t]->name) == 0)
                return transports[t]->echo(p.domain) < 0;
        fprintf(stderr, "agnocast-bench-bridge echo: --transport %s or %s\n", transports[0]->name,
                transports[1]->name);
        return 2;
    }
    if (strcmp(argv[1], "ping") != 0 || p.count < 1 || p.rounds < 1 || p.match_ms < 1) {
        usage(stderr);
        return 2;
    }
    return ping(&p) < 0;
}
