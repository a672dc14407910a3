/* Example subscriber: follows the pointers in each message, verifies it, reports latency. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <agnocast.h>

#include "demo-message.h"
#include "example-args.h"

struct listener {
    struct agnocast_context *ctx;
    unsigned long long want;
    unsigned long long received, corrupt;
    uint64_t *latency_ns;
    size_t nlatency, cap;
    int verbose;
};

static struct agnocast_context *signal_ctx;
static volatile sig_atomic_t stopped;

static void on_signal(int sig)
{
    (void)sig;
    stopped = 1;
    if (signal_ctx)
        agnocast_context_stop(signal_ctx);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Checks everything a corrupt or torn message would get wrong, following pointers only after
 * checking they lie in the publisher's segment. */
static int verify(const struct agnocast_message *msg)
{
    const struct demo_message *m = agnocast_message_data(msg);

    if (agnocast_message_size(msg) < sizeof(*m))
        return 0;
    if (m->self != (uint64_t)(uintptr_t)m)
        return 0; /* not at the address the talker saw: the zero-copy promise is broken */
    if (m->sequence != agnocast_message_sequence(msg))
        return 0;
    if (!agnocast_message_contains(msg, m->payload, m->payload_size) ||
        !agnocast_message_contains(msg, m->text, m->text_size) || m->text_size == 0 ||
        m->payload_size < 8)
        return 0;
    if (m->text[m->text_size - 1] != '\0')
        return 0;
    return demo_checksum(m) == m->checksum;
}

static void handle(struct listener *l, struct agnocast_message *msg)
{
    uint64_t lat = now_ns() - agnocast_message_timestamp_ns(msg);
    int ok = verify(msg);

    l->received++;
    if (!ok)
        l->corrupt++;
    if (l->nlatency == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->latency_ns = realloc(l->latency_ns, l->cap * sizeof(*l->latency_ns));
    }
    l->latency_ns[l->nlatency++] = lat;
    if (l->verbose)
        printf("received %" PRIu64 " from %d at %p latency %.1f us%s\n",
               agnocast_message_sequence(msg), (int)agnocast_message_publisher_pid(msg),
               agnocast_message_data(msg), lat / 1000.0, ok ? "" : " CORRUPT");
    if (l->want && l->received >= l->want)
        agnocast_context_stop(l->ctx);
}

static void on_message(struct agnocast_subscription *sub, struct agnocast_message *msg, void *ud)
{
    (void)sub;
    handle(ud, msg);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static double percentile_us(const uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    return v[(size_t)(p * (double)(n - 1) + 0.5)] / 1000.0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: listener [--topic T] [--take] [--count N] [--depth D] [--transient-local]\n"
            "                [--busy-poll] [--timeout SEC] [--json] [--verbose]\n"
            "Receives messages on T (default /chatter) with keep-last depth D (1 to 1024,\n"
            "default 10), verifies every pointer and checksum, and prints received, missed\n"
            "and corrupt counts and latency percentiles at exit (after N messages, SEC\n"
            "seconds, or SIGINT). Exit status 2: a bad command line; 1: a failure, or a\n"
            "corrupt message.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'},
        {"take", no_argument, NULL, 'T'},
        {"count", required_argument, NULL, 'n'},
        {"depth", required_argument, NULL, 'd'},
        {"transient-local", no_argument, NULL, 'l'},
        {"busy-poll", no_argument, NULL, 'b'},
        {"timeout", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct listener l = {0};
    const char *topic = "/chatter";
    uint64_t want = 0, depth = 10;
    unsigned flags = 0;
    int take = 0, json = 0, busy = 0, c, r = 0;
    double timeout = -1;
    struct agnocast_subscription *sub;
    uint64_t missed, unreachable;

    while ((c = getopt_long(argc, argv, "t:Tn:d:lbw:jvh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'T':
            take = 1;
            break;
        case 'n':
            r = example_arg_u64("listener", "count", optarg, 0, UINT64_MAX, &want);
            break;
        case 'd':
            r = example_arg_u64("listener", "depth", optarg, 1, 1024, &depth);
            break;
        case 'l':
            flags |= AGNOCAST_TRANSIENT_LOCAL;
            break;
        case 'b':
            busy = 1;
            break;
        case 'w':
            r = example_arg_double("listener", "timeout", optarg, 0, 1e6, &timeout);
            break;
        case 'j':
            json = 1;
            break;
        case 'v':
            l.verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXAMPLE_EXIT_USAGE;
        }
        if (r < 0)
            return EXAMPLE_EXIT_USAGE;
    }
    l.want = want;
    if ((r = agnocast_context_new(&l.ctx)) < 0) {
        fprintf(stderr, "listener: %s\n", agnocast_last_error());
        return 1;
    }
    signal_ctx = l.ctx;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    r = agnocast_subscription_new(l.ctx, topic, (unsigned)depth, flags, take ? NULL : on_message,
                                  &l, &sub);
    if (r < 0) {
        fprintf(stderr, "listener: %s\n", agnocast_last_error());
        agnocast_context_free(l.ctx);
        return 1;
    }
    agnocast_context_set_busy_poll(l.ctx, busy);
    if (take) {
        /* Take mode drives its own loop: one call waits for a wake-up and empties the
         * descriptor (it runs no callback here: this subscription has none), then take until
         * empty. A program with its own poll loop calls agnocast_context_dispatch() when the
         * descriptor is readable instead. */
        uint64_t deadline = timeout >= 0 ? now_ns() + (uint64_t)(timeout * 1e9) : UINT64_MAX;
        while (!(l.want && l.received >= l.want) && now_ns() < deadline) {
            struct agnocast_message *msg;
            if (!busy)
                agnocast_context_spin_once(l.ctx, 100);
            while ((r = agnocast_subscription_take(sub, &msg)) == 1) {
                handle(&l, msg);
                agnocast_message_release(msg);
            }
            if (r < 0) {
                fprintf(stderr, "listener: take failed: %s\n", agnocast_strerror(r));
                break;
            }
            if (stopped)
                break;
        }
    } else {
        r = agnocast_context_spin(l.ctx, timeout >= 0 ? (int)(timeout * 1000) : -1);
        if (r < 0)
            fprintf(stderr, "listener: %s\n", agnocast_last_error());
    }
    missed = agnocast_subscription_missed(sub);
    unreachable = agnocast_subscription_unreachable(sub);
    qsort(l.latency_ns, l.nlatency, sizeof(*l.latency_ns), cmp_u64);
    if (json)
        printf("{\"received\": %llu, \"missed\": %" PRIu64 ", \"corrupt\": %llu, "
               "\"unreachable\": %" PRIu64 ", "
               "\"p50_us\": %.3f, \"p99_us\": %.3f, \"max_us\": %.3f}\n",
               l.received, missed, l.corrupt, unreachable,
               percentile_us(l.latency_ns, l.nlatency, 0.5),
               percentile_us(l.latency_ns, l.nlatency, 0.99),
               percentile_us(l.latency_ns, l.nlatency, 1.0));
    else
        printf("listener: received %llu, missed %" PRIu64 ", corrupt %llu, unreachable %" PRIu64
               "; latency p50 %.1f us, p99 %.1f us, max %.1f us\n",
               l.received, missed, l.corrupt, unreachable,
               percentile_us(l.latency_ns, l.nlatency, 0.5),
               percentile_us(l.latency_ns, l.nlatency, 0.99),
               percentile_us(l.latency_ns, l.nlatency, 1.0));
    free(l.latency_ns);
    agnocast_subscription_free(sub);
    agnocast_context_free(l.ctx);
    return l.corrupt ? 1 : 0;
}
