/* The agnocast cases: paced latency (event or busy-poll), fan-out, and throughput. */
#include "bench-agnocast.h"

#include <errno.h>
#include <stdbool.h>
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

/*
 * The take path: a take subscription (no callback) read in a tight loop of take and release,
 * as a program with its own busy loop does. Busy polling is on, as in agnocast-busy, so the
 * publishers know this subscriber never sleeps; the loop does not pause between empty takes,
 * like the library's own busy spin, so the two paths compare like for like.
 */
static int take_main(void *arg)
{
    struct bench_case *c = arg;
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct agnocast_message *msg;
    bool stop = false;
    int r;

    bench_case_pin(c, false);
    if ((r = agnocast_context_new(&ctx)) < 0)
        return fail(c, "context", r);
    if ((r = agnocast_context_set_busy_poll(ctx, 1)) < 0)
        return fail(c, "busy poll", r);
    if ((r = agnocast_subscription_new(ctx, c->topic, SUB_DEPTH, 0, NULL, NULL, &sub)) < 0)
        return fail(c, "subscription", r);
    bench_case_ready(c);
    while (!stop) {
        if ((r = agnocast_subscription_take(sub, &msg)) < 0)
            break;
        if (r == 0)
            continue;
        if (agnocast_message_size(msg) >= sizeof(struct bench_hdr))
            stop = bench_record(c->s, c->index, agnocast_message_data(msg));
        agnocast_message_release(msg);
    }
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
    return r < 0 ? fail(c, "take", r) : 0;
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
    rc = bench_case_run(c, c->take ? take_main : sub_main, pub_main);
    if (rc == 0)
        bench_case_report(c, "latency", NULL);
    bench_case_fini(c);
    return rc;
}

/* Throughput: once every subscriber got one message, publish `count` messages back to back;
 * each subscriber records what it receives (keep-last may skip some: a slow subscriber never
 * blocks the publisher). */
static int burst_main(void *arg)
{
    struct bench_case *c = arg;
    struct agnocast_context *ctx;
    struct pub_state ps = {.c = c};
    uint64_t seq = 0;
    int rc = 1;

    if (pub_open(c, &ctx, &ps.pub) < 0)
        return 1;
    for (int tries = 0;; tries++) {
        if (tries > 500) {
            fprintf(stderr, "bench: subscribers never received a message after 5 s\n");
            goto out;
        }
        if (paced_send(&ps, ++seq) < 0)
            goto out;
        if (bench_wait_acked(c->s, seq, 10))
            break;
    }
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

/* The rate one subscriber received at: messages after its first over the time since then. */
static double sub_rate(const struct bench_shared *s, unsigned k)
{
    uint64_t span = s->last_ns[k] > s->first_ns[k] ? s->last_ns[k] - s->first_ns[k] : 1;

    return s->received[k] > 1 ? (double)(s->received[k] - 1) * 1e9 / (double)span : 0.0;
}

/* "[a,b,...]" of one value per subscriber into buf. */
static void per_sub(char *buf, size_t len, const struct bench_shared *s, bool rate)
{
    size_t n = 0;

    for (unsigned k = 0; k < s->nsubs && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s%.0f", k ? "," : "[",
                              rate ? sub_rate(s, k) : (double)s->received[k]);
    if (n < len)
        snprintf(buf + n, len - n, "]");
}

/* One line: msgs_per_s and received are the slowest subscriber's (with one subscriber, its
 * own), the _each arrays every subscriber's; the latency columns are over every message every
 * subscriber received. */
static void throughput_report(struct bench_case *c)
{
    struct bench_shared *s = c->s;
    struct bench_stats st;
    char rates[BENCH_MAX_SUBS * 16], received[BENCH_MAX_SUBS * 24], extra[sizeof(rates) * 3];
    double slowest = sub_rate(s, 0);
    uint64_t fewest = s->received[0];

    for (unsigned k = 1; k < s->nsubs; k++) {
        if (sub_rate(s, k) < slowest)
            slowest = sub_rate(s, k);
        if (s->received[k] < fewest)
            fewest = s->received[k];
    }
    per_sub(rates, sizeof(rates), s, true);
    per_sub(received, sizeof(received), s, false);
    snprintf(extra, sizeof(extra),
             ",\"subscribers\":%u,\"msgs_per_s\":%.0f,\"published\":%llu,\"received\":%llu,"
             "\"msgs_per_s_each\":%s,\"received_each\":%s",
             s->nsubs, slowest, (unsigned long long)s->count, (unsigned long long)fewest, rates,
             received);
    bench_stats_compute(s->samples, (size_t)s->nsubs * s->count, &st);
    bench_stats_print(stdout, "throughput", c->transport, c->size, &st, extra);
}

int bench_agnocast_throughput(struct bench_case *c)
{
    int rc;

    if (bench_case_init(c) < 0)
        return -1;
    rc = bench_case_run(c, sub_main, burst_main);
    if (rc == 0)
        throughput_report(c);
    bench_case_fini(c);
    return rc;
}
