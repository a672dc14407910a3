/* The 200-topic scene over agnocast: one context per process, a publisher per owned topic, a
 * callback subscription per read topic, subscribers event-driven (asleep between messages). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>

#include "agnocast.h"
#include "bench-scene.h"
#include "bench-util.h"

/* Keep-last 4 on both sides: a subscription that covers the publisher's ring takes the fast
 * path (docs/benchmarks.md); iceoryx's subscribers get the same queue. */
#define PUB_DEPTH 4
#define SUB_DEPTH 4

struct pub_state {
    struct bench_scene *sc;
    struct agnocast_publisher *pubs[BENCH_SCENE_MAX_PER_PROCESS];
};

static int report_error(struct bench_scene *sc, const char *what, int r)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s: %s (%s)", what, agnocast_strerror(r), agnocast_last_error());
    return bench_scene_fail(sc, buf);
}

static int send_one(void *arg, unsigned i, uint64_t *stamp)
{
    struct pub_state *ps = arg;
    struct bench_scene_msg *m;
    void *data;
    int r;

    /* A full pool frees up as subscribers release; the slot is late then, not lost. */
    while ((r = agnocast_publisher_loan(ps->pubs[i], ps->sc->size, &data)) == -ENOMEM)
        sched_yield();
    if (r < 0)
        return report_error(ps->sc, "loan", r), -1;
    m = data;
    m->topic = bench_scene_pub_topic(ps->sc, ps->sc->index, i);
    m->publisher = ps->sc->index;
    ((volatile char *)data)[ps->sc->size - 1] = 1;
    *stamp = m->stamp_ns = bench_now_ns();
    if ((r = agnocast_publisher_publish(ps->pubs[i], data)) < 0)
        return report_error(ps->sc, "publish", r), -1;
    return 0;
}

static int publisher(struct bench_scene *sc)
{
    struct pub_state ps = {.sc = sc};
    struct agnocast_context *ctx;
    unsigned n = bench_scene_per_pub(sc);
    char name[96];
    int r, rc;

    if ((r = agnocast_context_new(&ctx)) < 0)
        return report_error(sc, "context", r);
    for (unsigned i = 0; i < n; i++) {
        bench_scene_topic_name(sc, name, sizeof(name), "/bench/scene",
                               bench_scene_pub_topic(sc, sc->index, i));
        if ((r = agnocast_publisher_new(ctx, name, PUB_DEPTH, 0, &ps.pubs[i])) < 0)
            return report_error(sc, "publisher", r);
    }
    rc = bench_scene_ready(sc) ? bench_scene_publish_loop(sc, send_one, &ps) : -1;
    for (unsigned i = 0; i < n; i++)
        agnocast_publisher_free(ps.pubs[i]);
    agnocast_context_free(ctx);
    return rc < 0;
}

static void on_message(struct agnocast_subscription *sub, struct agnocast_message *msg,
                       void *userdata)
{
    (void)sub;
    if (agnocast_message_size(msg) >= sizeof(struct bench_scene_msg))
        bench_scene_record(userdata, agnocast_message_data(msg));
}

static int subscriber(struct bench_scene *sc)
{
    struct agnocast_subscription *subs[BENCH_SCENE_MAX_PER_PROCESS];
    struct agnocast_context *ctx;
    uint32_t topics[BENCH_SCENE_MAX_PER_PROCESS];
    unsigned n = bench_scene_sub_topics(sc, sc->index, topics);
    char name[96];
    int r = 0;

    if ((r = agnocast_context_new(&ctx)) < 0)
        return report_error(sc, "context", r);
    for (unsigned i = 0; i < n; i++) {
        bench_scene_topic_name(sc, name, sizeof(name), "/bench/scene", topics[i]);
        if ((r = agnocast_subscription_new(ctx, name, SUB_DEPTH, 0, on_message, sc, &subs[i])) < 0)
            return report_error(sc, "subscription", r);
    }
    if (bench_scene_ready(sc)) {
        /* Asleep in epoll_wait between messages; the timeout only lets it see the stop. */
        while (!bench_scene_stopping(sc) && (r = agnocast_context_spin(ctx, 50)) >= 0)
            ;
        if (r >= 0)
            r = agnocast_context_dispatch(ctx);
    }
    for (unsigned i = 0; i < n; i++)
        agnocast_subscription_free(subs[i]);
    agnocast_context_free(ctx);
    return r < 0 ? report_error(sc, "spin", r) : 0;
}

const struct bench_scene_ops bench_scene_agnocast = {
    .publisher = publisher,
    .subscriber = subscriber,
};
