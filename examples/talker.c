/* Example publisher: pointer-rich messages with a checksum, at a given size, rate and count. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <agnocast.h>

#include "demo-message.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: talker [--topic T] [--size BYTES] [--count N] [--rate HZ] [--depth D]\n"
                 "              [--transient-local] [--linger MS] [--verbose]\n"
                 "Publishes pointer-rich messages on T (default /chatter): BYTES of payload\n"
                 "(default 1024), N messages (default 0: until SIGINT), HZ per second (default\n"
                 "10, 0: as fast as possible), keep-last depth D (default 10). After the last\n"
                 "message it stays MS milliseconds (default 500) so subscribers can read it.\n");
}

static int publish_one(struct agnocast_publisher *pub, uint64_t seq, size_t size, int verbose)
{
    struct demo_message *m;
    char text[64];
    int r, len = snprintf(text, sizeof(text), "message %llu", (unsigned long long)seq);

    if ((r = agnocast_publisher_loan(pub, sizeof(*m), (void **)&m)) < 0)
        return r;
    m->sequence = seq;
    m->self = (uint64_t)(uintptr_t)m;
    m->payload_size = size;
    m->text_size = (uint64_t)len + 1;
    if ((r = agnocast_loan_alloc(pub, m, size, (void **)&m->payload)) < 0 ||
        (r = agnocast_loan_alloc(pub, m, m->text_size, (void **)&m->text)) < 0) {
        agnocast_publisher_drop(pub, m);
        return r;
    }
    memset(m->payload, (int)(seq & 0xff), size);
    memcpy(m->text, text, m->text_size);
    m->checksum = demo_checksum(m);
    if (verbose)
        printf("published %llu at %p\n", (unsigned long long)seq, (void *)m);
    return agnocast_publisher_publish(pub, m);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'}, {"size", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'}, {"rate", required_argument, NULL, 'r'},
        {"depth", required_argument, NULL, 'd'}, {"transient-local", no_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},     {"help", no_argument, NULL, 'h'},
        {"linger", required_argument, NULL, 'L'},
        {NULL, 0, NULL, 0},
    };
    const char *topic = "/chatter";
    unsigned long long count = 0, seq = 0;
    size_t size = 1024;
    double rate = 10;
    unsigned depth = 10, flags = 0;
    int verbose = 0, linger_ms = 500, c, r = 0;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct timespec next;

    while ((c = getopt_long(argc, argv, "t:s:n:r:d:lvhL:", opts, NULL)) != -1) {
        switch (c) {
        case 't': topic = optarg; break;
        case 's': size = strtoull(optarg, NULL, 0); break;
        case 'n': count = strtoull(optarg, NULL, 0); break;
        case 'r': rate = strtod(optarg, NULL); break;
        case 'd': depth = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'l': flags |= AGNOCAST_TRANSIENT_LOCAL; break;
        case 'v': verbose = 1; break;
        case 'L': linger_ms = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 64;
        }
    }
    if (size < 8) {
        fprintf(stderr, "talker: --size must be at least 8 bytes\n");
        return 64;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if ((r = agnocast_context_new(&ctx)) < 0) {
        fprintf(stderr, "talker: %s\n", agnocast_last_error());
        return 1;
    }
    if ((r = agnocast_publisher_new(ctx, topic, depth, flags, &pub)) < 0) {
        fprintf(stderr, "talker: %s\n", agnocast_last_error());
        agnocast_context_free(ctx);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!stop && (count == 0 || seq < count)) {
        r = publish_one(pub, ++seq, size, verbose);
        if (r == -ENOMEM) {
            /* Subscribers hold everything: wait for releases rather than give up. */
            seq--;
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "talker: publish failed: %s\n", agnocast_last_error());
            break;
        }
        if (rate > 0) {
            long long ns = (long long)(1e9 / rate);
            next.tv_nsec += ns % 1000000000;
            next.tv_sec += ns / 1000000000 + next.tv_nsec / 1000000000;
            next.tv_nsec %= 1000000000;
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR && !stop)
                ;
        }
    }
    /* Our messages vanish with us: give subscribers time to read the last ones. */
    for (int i = 0; i < linger_ms / 10 && !stop; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    printf("talker: published %llu messages on %s\n", (unsigned long long)agnocast_publisher_published(pub), topic);
    agnocast_publisher_free(pub);
    agnocast_context_free(ctx);
    return r < 0 && r != -ENOMEM ? 1 : 0;
}
