/* The round trip through agnocast on both hosts: host A's agnocast-bridge carries the ping over
 * DDS to host B's, host B's carries the echo back; this process only publishes and receives
 * local messages. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agnocast.h"
#include "bench-bridge.h"
#include "bench-util.h"

struct ping_state {
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *sub;
    /* the last echo, recorded by the callback */
    uint64_t seq, rtt_ns;
    size_t size;
    bool got;
};

static int fail(const char *what, int r)
{
    fprintf(stderr, "bench agnocast-bridge: %s: %s (%s)\n", what, agnocast_strerror(r),
            agnocast_last_error());
    return -1;
}

static void on_echo(struct agnocast_subscription *sub, struct agnocast_message *msg, void *ud)
{
    uint64_t now = bench_now_ns();
    struct ping_state *st = ud;
    const struct bench_hdr *h = agnocast_message_data(msg);

    (void)sub;
    if (agnocast_message_size(msg) < sizeof(*h))
        return;
    st->seq = h->seq;
    st->rtt_ns = now > h->stamp_ns ? now - h->stamp_ns : 1;
    st->size = agnocast_message_size(msg);
    st->got = true;
}

static void ping_close(void *state)
{
    struct ping_state *st = state;

    if (!st)
        return;
    agnocast_subscription_free(st->sub);
    agnocast_publisher_free(st->pub);
    agnocast_context_free(st->ctx);
    free(st);
}

static int ping_open(int domain, size_t max_size, int timeout_ms, void **state)
{
    struct ping_state *st = calloc(1, sizeof(*st));
    int r;

    (void)domain;
    (void)max_size;
    *state = st;
    if (!st)
        return -1;
    if ((r = agnocast_context_new(&st->ctx)) < 0)
        return fail("context", r);
    if ((r = agnocast_publisher_new(st->ctx, BENCH_BRIDGE_PING, BENCH_BRIDGE_PUB_KEEP,
                                    AGNOCAST_RELIABLE, &st->pub)) < 0)
        return fail("publisher on " BENCH_BRIDGE_PING, r);
    if ((r = agnocast_subscription_new(st->ctx, BENCH_BRIDGE_PONG, BENCH_BRIDGE_DEPTH,
                                       AGNOCAST_RELIABLE, on_echo, st, &st->sub)) < 0)
        return fail("subscription on " BENCH_BRIDGE_PONG, r);
    /* The local half: host A's bridge subscribes to the ping and publishes the echo. The
     * remote half (DDS, the echo program) is found by the first round trips. */
    if ((r = agnocast_publisher_wait_matched(st->pub, 1, timeout_ms)) < 0)
        return fail("waiting for host A's bridge to subscribe to " BENCH_BRIDGE_PING, r);
    if ((r = agnocast_subscription_wait_matched(st->sub, 1, timeout_ms)) < 0)
        return fail("waiting for host A's bridge to publish " BENCH_BRIDGE_PONG, r);
    return 0;
}

static int ping_send(void *state, size_t size, uint64_t seq)
{
    struct ping_state *st = state;
    struct bench_hdr *h;
    void *data;
    int r;

    if ((r = agnocast_publisher_loan(st->pub, size, &data)) < 0)
        return fail("loan", r);
    h = data;
    h->seq = seq;
    ((volatile char *)data)[size - 1] = (char)seq;
    h->stamp_ns = bench_now_ns();
    if ((r = agnocast_publisher_publish(st->pub, data)) < 0)
        return fail("publish", r);
    return 0;
}

static int ping_wait(void *state, size_t size, uint64_t seq, int timeout_ms, uint64_t *rtt_ns)
{
    struct ping_state *st = state;
    uint64_t deadline = bench_now_ns() + (uint64_t)timeout_ms * 1000000ull;

    for (;;) {
        uint64_t now = bench_now_ns();
        int r;

        if (st->got && st->seq == seq) {
            st->got = false;
            if (st->size != size) {
                fprintf(stderr, "bench agnocast-bridge: the echo of %zu bytes has %zu\n", size,
                        st->size);
                return -1;
            }
            *rtt_ns = st->rtt_ns;
            return 1;
        }
        st->got = false;
        if (now >= deadline)
            return 0;
        /* Asleep on the context's descriptor until the echo's wake-up, as an event-driven
         * subscriber is. */
        r = agnocast_context_spin_once(st->ctx, (int)((deadline - now + 999999) / 1000000));
        if (r < 0)
            return fail("spin", r);
    }
}

/* The echo side: one callback that loans a message of the same size and publishes it with the
 * same header (and the last byte written, as the ping does). */
struct echo_state {
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    int failed;
};

static struct agnocast_context *echo_ctx;

static void echo_stop(void)
{
    if (echo_ctx)
        agnocast_context_stop(echo_ctx);
}

static void on_ping(struct agnocast_subscription *sub, struct agnocast_message *msg, void *ud)
{
    struct echo_state *st = ud;
    size_t size = agnocast_message_size(msg);
    void *data;
    int r;

    (void)sub;
    if (size < sizeof(struct bench_hdr))
        return;
    if ((r = agnocast_publisher_loan(st->pub, size, &data)) < 0) {
        st->failed = fail("echo loan", r);
        agnocast_context_stop(st->ctx);
        return;
    }
    memcpy(data, agnocast_message_data(msg), sizeof(struct bench_hdr));
    ((volatile char *)data)[size - 1] = ((const char *)agnocast_message_data(msg))[size - 1];
    if ((r = agnocast_publisher_publish(st->pub, data)) < 0) {
        st->failed = fail("echo publish", r);
        agnocast_context_stop(st->ctx);
    }
}

static int echo(int domain)
{
    struct echo_state st = {0};
    struct agnocast_subscription *sub = NULL;
    int r, rc = -1;

    (void)domain;
    if ((r = agnocast_context_new(&st.ctx)) < 0)
        return fail("context", r);
    if ((r = agnocast_publisher_new(st.ctx, BENCH_BRIDGE_PONG, BENCH_BRIDGE_PUB_KEEP,
                                    AGNOCAST_RELIABLE, &st.pub)) < 0) {
        fail("publisher on " BENCH_BRIDGE_PONG, r);
        goto out;
    }
    if ((r = agnocast_subscription_new(st.ctx, BENCH_BRIDGE_PING, BENCH_BRIDGE_DEPTH,
                                       AGNOCAST_RELIABLE, on_ping, &st, &sub)) < 0) {
        fail("subscription on " BENCH_BRIDGE_PING, r);
        goto out;
    }
    echo_ctx = st.ctx;
    bench_rt_catch_stop(echo_stop);
    printf("echo agnocast-bridge: ready\n");
    fflush(stdout);
    while (!bench_rt_stopping && !st.failed) {
        if ((r = agnocast_context_spin(st.ctx, -1)) < 0) {
            fail("spin", r);
            goto out;
        }
    }
    rc = st.failed;
out:
    echo_ctx = NULL;
    agnocast_subscription_free(sub);
    agnocast_publisher_free(st.pub);
    agnocast_context_free(st.ctx);
    return rc;
}

const struct bench_rt_ops bench_rt_agnocast = {
    .name = "agnocast-bridge",
    .open = ping_open,
    .send = ping_send,
    .wait = ping_wait,
    .close = ping_close,
    .echo = echo,
};
