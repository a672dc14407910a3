/* A C subscriber for the C++ interop tests: takes COUNT images from TOPIC and checks every one
 * through image-message.h (head, every nested pointer, every pixel, the checksum), in order.
 * Exit 0 when all COUNT arrived good and none was missed; 1 otherwise, saying why. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <agnocast.h>

#include "image-message.h"

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    unsigned long long want, got = 0, bad = 0, expect = 1;
    long long deadline;
    int r;

    if (argc != 3) {
        fprintf(stderr, "usage: image-checker TOPIC COUNT\n");
        return 2;
    }
    want = strtoull(argv[2], NULL, 10);
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, argv[1], 1024, 0, NULL, NULL, &sub) < 0) {
        fprintf(stderr, "image-checker: %s\n", agnocast_last_error());
        return 1;
    }
    deadline = now_ms() + 20000;
    while (got < want && now_ms() < deadline) {
        struct pollfd pfd = {.fd = agnocast_context_fd(ctx), .events = POLLIN};
        struct agnocast_message *msg;
        if (poll(&pfd, 1, 100) > 0)
            agnocast_context_dispatch(ctx);
        while ((r = agnocast_subscription_take(sub, &msg)) == 1) {
            const char *why = image_check(msg);
            const struct image_header *h = agnocast_message_data(msg);
            got++;
            if (!why && h->sequence != expect)
                why = "out of order";
            if (why) {
                bad++;
                fprintf(stderr, "image-checker: image %llu: %s\n",
                        (unsigned long long)agnocast_message_sequence(msg), why);
            }
            expect = agnocast_message_sequence(msg) + 1;
            agnocast_message_release(msg);
        }
        if (r < 0) {
            fprintf(stderr, "image-checker: take: %s\n", agnocast_last_error());
            break;
        }
    }
    printf("image-checker: %llu of %llu images, %llu bad, %llu missed\n", got, want, bad,
           (unsigned long long)agnocast_subscription_missed(sub));
    r = got == want && bad == 0 && agnocast_subscription_missed(sub) == 0 ? 0 : 1;
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
    return r;
}
