/* The agnocast cases: paced latency (event or busy-poll), fan-out, and throughput. */
#include "bench-agnocast.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "agnocast.h"
#include "bench-stats.h"

#define PUB_DEPTH 4
#define SUB_DEPTH 16

struct sub_state {
    struct bench_case *c;
    struct agnocast_context *ctx;
};

static void on_message(struct agnocast_subscription *sub, struct agnocast_message *msg,
                       void *userdata)
{
    struct sub_state *st = userdata;
    const struct bench_hdr *h = agnocast_message_data(msg);

    if (agnocast_message_size(msg) < sizeof(*h))
        return;
    if (bench_record(st->c->s, st->c->index, h))
        agnocast_context_stop(st->ctx);
}

static int fail(struct bench_case *c, const char *what, int r)
{
    fprintf(stderr, "bench %s: %s: %s (%s)\n", c->transport, what, agnocast_strerror(r),
            agnocast_last_error());
    atomic_store(&c->s->failed, 1);
    return 1;
}

static int sub_main(void *arg)
{
    struct bench_case *c = arg;
    struct sub_state st = {.c = c};
    struct agnocast_subscription *sub;
    int r;

    bench_case_pin(c, false);
    if ((r = agnocast_context_new(&st.ctx)) < 0)
        return fail(c, "context", r);
    if ((r = agnocast_context_set_busy_poll(st.ctx, c->busy)) < 0)
        return fail(c, "busy poll", r);
    if ((r = agnocast_subscription_new(st.ctx, c->topic, SUB_DEPTH, 0, on_message, &st, &sub)) < 0)
        return fail(c, "subscription", r);
    bench_case_ready(c);
    r = agnocast_context_spin(st.ctx, -1);
    agnocast_subscription_free(sub);
    agnocast_context_free(st.ctx);
    return r < 0 ? fail(c, "spin", r) : 0;
}

int bench_agnocast_send(struct agnocast_publisher *pub, size_t size, uint64_t seq)
{
    struct bench_hdr *h;
    void *data;
    int r;

    while ((r = agnocast_publisher_loan(pub, size, &data)) == -ENOMEM)
        sched_yield(); /* throughput: subscribers still hold the pool; they release soon */
    if (r < 0)
        return r;
    h = data;
    h->seq = seq;
    ((volatile char *)data)[size - 1] = (char)seq;
    h->stamp_ns = bench_now_ns();
    return agnocast_publisher_publish(pub, data);
}

struct pub_state {
    struct bench_case *c;
    struct agnocast_publisher *pub;
};

static int paced_send(void *arg, uint64_t seq)
{
    struct pub_state *ps = arg;
    int r = bench_agnocast_send(ps->pub, ps->c->size, seq);

    if (r < 0)
        return fail(ps->c, "publish", r), -1;
    return 0;
}

static int pub_open(struct bench_case *c, struct agnocast_context **ctx,
                    struct agnocast_publisher **pub)
{
    int r;

    bench_case_pin(c, true);
    if ((r = agnocast_context_new(ctx)) < 0)
        return fail(c, "context", r), -1;
    if ((r = agnocast_publisher_new(*ctx, c->topic, PUB_DEPTH, 0, pub)) < 0)
        return fail(c, "publisher", r), -1;
    return 0;
}

static int pub_main(void *arg)
{
    struct bench_case *c = arg;
    struct agnocast_context *ctx;
    struct pub_state ps = {.c = c};
    int rc;

    if (pub_open(c, &ctx, &ps.pub) < 0)
        return 1;
    rc = bench_publish_paced(c->s, paced_send, &ps, c->warm);
    agnocast_publisher_free(ps.pub);
    agnocast_context_free(ctx);
    return rc < 0;
}

int bench_agnocast_latency(struct bench_case *c)
{
    int rc;

    if (bench_case_init(c) < 0)
        return -1;
    rc = bench_case_run(c, sub_main, pub_main);
    if (rc == 0)
        bench_case_report(c, "latency", NULL);
    bench_case_fini(c);
    return rc;
}

/* Throughput: after matching, publish `count` messages back to back; the subscriber records
 * what it receives (keep-last may skip some: a slow subscriber never blocks the publisher). */
static int burst_main(void *arg)
{
    struct bench_case *c = arg;
    struct agnocast_context *ctx;
    struct pub_state ps = {.c = c};
    uint64_t seq = 0;
    int rc = 1;

    if (pub_open(c, &ctx, &ps.pub) < 0)
        return 1;
    for (int tries = 0; tries < 500; tries++) {
        if (paced_send(&ps, ++seq) < 0)
            goto out;
        if (bench_wait_acked(c->s, seq, 10))
            break;
    }
    if (!atomic_load(&c->s->acked[0]))
        goto out;
    atomic_store_explicit(&c->s->base, seq + 1, memory_order_release);
    for (uint64_t i = 0; i < c->count; i++)
        if (paced_send(&ps, ++seq) < 0)
            goto out;
    atomic_store_explicit(&c->s->done, seq + 1, memory_order_release);
    /* The newest message always survives keep-last, so this one arrives. */
    if (paced_send(&ps, ++seq) < 0 || !bench_wait_acked(c->s, seq, 5000))
        goto out;
    rc = 0;
out:
    agnocast_publisher_free(ps.pub);
    agnocast_context_free(ctx);
    return rc;
}

int bench_agnocast_throughput(struct bench_case *c)
{
    char extra[160];
    uint64_t span;
    int rc;

    if (bench_case_init(c) < 0)
        return -1;
    rc = bench_case_run(c, sub_main, burst_main);
    if (rc == 0) {
        struct bench_shared *s = c->s;
        struct bench_stats st;
        span = s->last_ns[0] > s->first_ns[0] ? s->last_ns[0] - s->first_ns[0] : 1;
        snprintf(extra, sizeof(extra), ",\"msgs_per_s\":%.0f,\"published\":%llu,\"received\":%llu",
                 s->received[0] > 1 ? (double)(s->received[0] - 1) * 1e9 / (double)span : 0.0,
                 (unsigned long long)s->count, (unsigned long long)s->received[0]);
        bench_stats_compute(s->samples, s->count, &st);
        bench_stats_print(stdout, "throughput", c->transport, c->size, &st, extra);
    }
    bench_case_fini(c);
    return rc;
}
