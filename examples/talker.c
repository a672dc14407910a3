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
#include "example-args.h"

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
                 "(8 to 2^30, default 1024), N messages (default 0: until SIGINT), HZ per second\n"
                 "(default 10, 0: as fast as possible), keep-last depth D (1 to 1024, default\n"
                 "10). After the last message it stays MS milliseconds (default 500) so\n"
                 "subscribers can read it. Exit status 2: a bad command line; 1: a failure.\n");
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
        {"topic", required_argument, NULL, 't'},  {"size", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'},  {"rate", required_argument, NULL, 'r'},
        {"depth", required_argument, NULL, 'd'},  {"transient-local", no_argument, NULL, 'l'},
        {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
        {"linger", required_argument, NULL, 'L'}, {NULL, 0, NULL, 0},
    };
    const char *topic = "/chatter";
    unsigned long long seq = 0;
    uint64_t count = 0, size = 1024, depth = 10, linger_ms = 500;
    double rate = 10;
    unsigned flags = 0;
    int verbose = 0, c, r = 0;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct timespec next;

    while ((c = getopt_long(argc, argv, "t:s:n:r:d:lvhL:", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 's':
            r = example_arg_u64("talker", "size", optarg, 8, 1u << 30, &size);
            break;
        case 'n':
            r = example_arg_u64("talker", "count", optarg, 0, UINT64_MAX, &count);
            break;
        case 'r':
            r = example_arg_double("talker", "rate", optarg, 0, 1e9, &rate);
            break;
        case 'd':
            r = example_arg_u64("talker", "depth", optarg, 1, 1024, &depth);
            break;
        case 'l':
            flags |= AGNOCAST_TRANSIENT_LOCAL;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'L':
            r = example_arg_u64("talker", "linger", optarg, 0, 3600000, &linger_ms);
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
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if ((r = agnocast_context_new(&ctx)) < 0) {
        fprintf(stderr, "talker: %s\n", agnocast_last_error());
        return 1;
    }
    if ((r = agnocast_publisher_new(ctx, topic, (unsigned)depth, flags, &pub)) < 0) {
        fprintf(stderr, "talker: %s\n", agnocast_last_error());
        agnocast_context_free(ctx);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!stop && (count == 0 || seq < count)) {
        r = publish_one(pub, ++seq, (size_t)size, verbose);
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
    for (uint64_t i = 0; i < linger_ms / 10 && !stop; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    printf("talker: published %llu messages on %s\n",
           (unsigned long long)agnocast_publisher_published(pub), topic);
    agnocast_publisher_free(pub);
    agnocast_context_free(ctx);
    return r < 0 && r != -ENOMEM ? 1 : 0;
}
