/* Roles run under valgrind --tool=callgrind: instructions per publish and per receive+release. */
#include "bench-callgrind.h"

#include <stdio.h>
#include <unistd.h>

#include "agnocast.h"
#include "bench-agnocast.h"

#define CG_TOPIC "/bench/callgrind"

/* Kept out of line and out of identical-code folding so --toggle-collect can name them. */
__attribute__((noinline, noipa)) int bench_cg_publish(struct agnocast_publisher *pub, size_t size,
                                                      uint64_t seq);
__attribute__((noinline, noipa)) int bench_cg_publish_uncounted(struct agnocast_publisher *pub,
                                                                size_t size, uint64_t seq);
__attribute__((noinline, noipa)) int bench_cg_receive(struct agnocast_subscription *sub);
__attribute__((noinline, noipa)) int bench_cg_receive_uncounted(struct agnocast_subscription *sub);

int bench_cg_publish(struct agnocast_publisher *pub, size_t size, uint64_t seq)
{
    return bench_agnocast_send(pub, size, seq);
}

int bench_cg_publish_uncounted(struct agnocast_publisher *pub, size_t size, uint64_t seq)
{
    return bench_agnocast_send(pub, size, seq);
}

static inline __attribute__((always_inline)) int receive_one(struct agnocast_subscription *sub)
{
    struct agnocast_message *msg;
    int r = agnocast_subscription_take(sub, &msg);

    if (r == 1)
        agnocast_message_release(msg);
    return r;
}

int bench_cg_receive(struct agnocast_subscription *sub)
{
    return receive_one(sub);
}

int bench_cg_receive_uncounted(struct agnocast_subscription *sub)
{
    return receive_one(sub);
}

static int say(int fd, char c)
{
    return write(fd, &c, 1) == 1 ? 0 : -1;
}

static int hear(int fd)
{
    char c;

    return read(fd, &c, 1) == 1 ? c : -1;
}

int bench_cg_pub_role(int in_fd, int out_fd, size_t size, uint64_t warm, uint64_t count)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    uint64_t seq = 0, got = 0;
    int r;

    if ((r = agnocast_context_new(&ctx)) < 0 ||
        (r = agnocast_publisher_new(ctx, CG_TOPIC, 1, 0, &pub)) < 0) {
        fprintf(stderr, "bench cg-pub: %s (%s)\n", agnocast_strerror(r), agnocast_last_error());
        return 1;
    }
    if (hear(in_fd) != 'r') /* the subscription exists */
        return 1;
    /* Matching: publish until the subscriber gets one, then the warm rounds. */
    while (got < warm + 1) {
        if (bench_cg_publish_uncounted(pub, size, ++seq) < 0 || say(out_fd, 'p') < 0)
            return 1;
        int a = hear(in_fd);
        if (a < 0)
            return 1;
        if (a == 'y' || got > 0)
            got++;
        if (got == 0)
            usleep(1000);
    }
    for (uint64_t i = 0; i < count; i++) {
        if (bench_cg_publish(pub, size, ++seq) < 0 || say(out_fd, 'm') < 0 || hear(in_fd) != 'y')
            return 1;
    }
    say(out_fd, 'q');
    agnocast_publisher_free(pub);
    agnocast_context_free(ctx);
    return 0;
}

int bench_cg_sub_role(int in_fd, int out_fd, uint64_t warm, uint64_t count)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    uint64_t measured = 0;
    int r, c;

    if ((r = agnocast_context_new(&ctx)) < 0 ||
        (r = agnocast_subscription_new(ctx, CG_TOPIC, 1, 0, NULL, NULL, &sub)) < 0) {
        fprintf(stderr, "bench cg-sub: %s (%s)\n", agnocast_strerror(r), agnocast_last_error());
        return 1;
    }
    say(out_fd, 'r');
    while ((c = hear(in_fd)) == 'p' || c == 'm') {
        if (c == 'm') {
            r = bench_cg_receive(sub);
            measured++;
        } else {
            r = bench_cg_receive_uncounted(sub);
        }
        if (r < 0 || say(out_fd, r == 1 ? 'y' : 'n') < 0)
            return 1;
    }
    (void)warm;
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
    return measured == count ? 0 : 1;
}
