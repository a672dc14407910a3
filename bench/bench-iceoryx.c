/* agnocast-bench-iceoryx: the paced latency case and the 200-topic scene over Eclipse iceoryx's
 * public C binding (busy-poll on take, or blocking on a WaitSet), against a RouDi the harness
 * started. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-case.h"
#include "bench-scene.h"
#include "bench-stats.h"
#include "bench-util.h"

/* The binding declares iox_runtime_shutdown() without (void). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "iceoryx_binding_c/notification_info.h"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"
#pragma GCC diagnostic pop

#define SERVICE "agnocast-bench"

/* Leaves iceoryx the way it expects: the runtime unregisters from RouDi in its static
 * destructor, which the _exit() of a forked case process would skip; RouDi, finding the
 * process registered but gone at its own shutdown, then aborts and leaves its shared memory
 * behind. Not iox_runtime_shutdown() first: its request to RouDi goes out on the runtime's
 * keep-alive thread while the destructor sends its own on the same channel, and with 30
 * processes leaving at once the answers crossed and processes hung in exit(). */
static _Noreturn void runtime_exit(int rc)
{
    exit(rc);
}

static void runtime(const char *role)
{
    char name[64];

    snprintf(name, sizeof(name), "bench-%s-%d", role, (int)getpid());
    iox_runtime_init(name);
}

/* Takes every queued chunk; returns true when the last message was handled. */
static bool drain(struct bench_case *c, iox_sub_t sub)
{
    const void *chunk;
    bool stop = false;

    while (iox_sub_take_chunk(sub, &chunk) == ChunkReceiveResult_SUCCESS) {
        stop |= bench_record(c->s, c->index, chunk);
        iox_sub_release_chunk(sub, chunk);
    }
    return stop;
}

static int sub_main(void *arg)
{
    struct bench_case *c = arg;
    iox_sub_storage_t storage;
    iox_sub_options_t opts;
    iox_ws_storage_t ws_storage;
    iox_ws_t ws = NULL;
    iox_sub_t sub;

    bench_case_pin(c, false);
    runtime("sub");
    iox_sub_options_init(&opts);
    opts.queueCapacity = 16;
    sub = iox_sub_init(&storage, SERVICE, c->topic, "latency", &opts);
    if (!c->busy) {
        ws = iox_ws_init(&ws_storage);
        if (iox_ws_attach_subscriber_state(ws, sub, SubscriberState_HAS_DATA, 0, NULL) !=
            WaitSetResult_SUCCESS) {
            fputs("bench iceoryx: cannot attach the subscriber to a WaitSet\n", stderr);
            iox_sub_deinit(sub);
            runtime_exit(1);
        }
    }
    bench_case_ready(c);
    for (;;) {
        if (ws) {
            iox_notification_info_t info[4];
            uint64_t missed;
            iox_ws_wait(ws, info, 4, &missed);
        }
        if (drain(c, sub))
            break;
    }
    if (ws)
        iox_ws_deinit(ws);
    iox_sub_deinit(sub);
    runtime_exit(0);
}

struct pub_state {
    struct bench_case *c;
    iox_pub_t pub;
};

static int send_one(void *arg, uint64_t seq)
{
    struct pub_state *ps = arg;
    struct bench_hdr *h;
    void *chunk;
    enum iox_AllocationResult r = iox_pub_loan_chunk(ps->pub, &chunk, (uint32_t)ps->c->size);

    if (r != AllocationResult_SUCCESS) {
        fprintf(stderr, "bench iceoryx: loan of %zu bytes failed (%d): check the RouDi mempools\n",
                ps->c->size, (int)r);
        return -1;
    }
    /* Like agnocast: the header and the last byte, not the whole payload. */
    h = chunk;
    h->seq = seq;
    ((volatile char *)chunk)[ps->c->size - 1] = (char)seq;
    h->stamp_ns = bench_now_ns();
    iox_pub_publish_chunk(ps->pub, chunk);
    return 0;
}

static int pub_main(void *arg)
{
    struct bench_case *c = arg;
    struct pub_state ps = {.c = c};
    iox_pub_storage_t storage;
    iox_pub_options_t opts;
    int rc;

    bench_case_pin(c, true);
    runtime("pub");
    iox_pub_options_init(&opts);
    ps.pub = iox_pub_init(&storage, SERVICE, c->topic, "latency", &opts);
    rc = bench_publish_paced(c->s, send_one, &ps, c->warm);
    iox_pub_deinit(ps.pub);
    runtime_exit(rc < 0);
}

/* ---- the 200-topic scene ---- */

/* One queue slot per message kept, as agnocast's scene subscriptions keep 4. */
#define SCENE_QUEUE 4

struct scene_pub {
    struct bench_scene *sc;
    iox_pub_storage_t storage[BENCH_SCENE_MAX_PER_PROCESS];
    iox_pub_t pubs[BENCH_SCENE_MAX_PER_PROCESS];
};

static int scene_send(void *arg, unsigned i, uint64_t *stamp)
{
    struct scene_pub *ps = arg;
    struct bench_scene_msg *m;
    void *chunk;

    /* An exhausted mempool is RouDi's configuration, not a lost message: report it. */
    if (iox_pub_loan_chunk(ps->pubs[i], &chunk, (uint32_t)ps->sc->size) != AllocationResult_SUCCESS)
        return 1;
    m = chunk;
    m->topic = bench_scene_pub_topic(ps->sc, ps->sc->index, i);
    m->publisher = ps->sc->index;
    ((volatile char *)chunk)[ps->sc->size - 1] = 1;
    *stamp = m->stamp_ns = bench_now_ns();
    iox_pub_publish_chunk(ps->pubs[i], chunk);
    return 0;
}

static int scene_publisher(struct bench_scene *sc)
{
    static struct scene_pub ps;
    unsigned n = bench_scene_per_pub(sc);
    iox_pub_options_t opts;
    char instance[32], event[32];
    int rc;

    ps.sc = sc;
    runtime("scene-pub");
    iox_pub_options_init(&opts);
    snprintf(instance, sizeof(instance), "s%d", sc->run_id);
    for (unsigned i = 0; i < n; i++) {
        snprintf(event, sizeof(event), "t%u", (unsigned)bench_scene_pub_topic(sc, sc->index, i));
        ps.pubs[i] = iox_pub_init(&ps.storage[i], SERVICE, instance, event, &opts);
    }
    rc = bench_scene_ready(sc) ? bench_scene_publish_loop(sc, scene_send, &ps) : -1;
    for (unsigned i = 0; i < n; i++)
        iox_pub_deinit(ps.pubs[i]);
    runtime_exit(rc < 0);
}

static void scene_drain(struct bench_scene *sc, iox_sub_t sub)
{
    const void *chunk;

    while (iox_sub_take_chunk(sub, &chunk) == ChunkReceiveResult_SUCCESS) {
        bench_scene_record(sc, chunk);
        iox_sub_release_chunk(sub, chunk);
    }
}

static int scene_subscriber(struct bench_scene *sc)
{
    static iox_sub_storage_t storage[BENCH_SCENE_MAX_PER_PROCESS];
    iox_sub_t subs[BENCH_SCENE_MAX_PER_PROCESS];
    iox_notification_info_t info[BENCH_SCENE_MAX_PER_PROCESS];
    uint32_t topics[BENCH_SCENE_MAX_PER_PROCESS];
    unsigned n = bench_scene_sub_topics(sc, sc->index, topics);
    iox_sub_options_t opts;
    iox_ws_storage_t ws_storage;
    iox_ws_t ws;
    char instance[32], event[32];
    int rc = 0;

    runtime("scene-sub");
    iox_sub_options_init(&opts);
    opts.queueCapacity = SCENE_QUEUE;
    snprintf(instance, sizeof(instance), "s%d", sc->run_id);
    ws = iox_ws_init(&ws_storage);
    for (unsigned i = 0; i < n; i++) {
        snprintf(event, sizeof(event), "t%u", (unsigned)topics[i]);
        subs[i] = iox_sub_init(&storage[i], SERVICE, instance, event, &opts);
        if (iox_ws_attach_subscriber_state(ws, subs[i], SubscriberState_HAS_DATA, i, NULL) !=
            WaitSetResult_SUCCESS) {
            rc = bench_scene_fail(sc, "cannot attach a subscriber to the WaitSet");
            n = i + 1;
            goto out;
        }
    }
    if (!bench_scene_ready(sc)) {
        rc = 1;
        goto out;
    }
    while (!bench_scene_stopping(sc)) {
        /* Asleep on the WaitSet between messages; the timeout only lets it see the stop. */
        struct timespec timeout = {0, 50000000};
        uint64_t missed, k = iox_ws_timed_wait(ws, timeout, info, n, &missed);
        for (uint64_t e = 0; e < k; e++) {
            uint64_t id = iox_notification_info_get_notification_id(info[e]);
            if (id < n)
                scene_drain(sc, subs[id]);
        }
    }
    for (unsigned i = 0; i < n; i++)
        scene_drain(sc, subs[i]);
out:
    iox_ws_deinit(ws);
    for (unsigned i = 0; i < n; i++)
        iox_sub_deinit(subs[i]);
    runtime_exit(rc);
}

static const struct bench_scene_ops scene_ops = {
    .publisher = scene_publisher,
    .subscriber = scene_subscriber,
};

static int scene_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        BENCH_SCENE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct bench_scene sc;
    int opt;

    bench_scene_defaults(&sc);
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (opt == 's')
            sc.size = strtoull(optarg, NULL, 0);
        else if (!bench_scene_option(&sc, opt, optarg))
            return 2;
    }
    sc.transport = "iceoryx-waitset";
    return bench_scene_run(&sc, &scene_ops) < 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        BENCH_CASE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct bench_case c = {.size = 64, .count = 1000, .warm = 100, .nsubs = 1};
    int opt, rc;

    if (argc >= 2 && strcmp(argv[1], "scene") == 0)
        return scene_main(argc, argv);
    if (argc < 2 || strcmp(argv[1], "latency") != 0) {
        fputs("usage: agnocast-bench-iceoryx latency --size BYTES [--busy] [--count N] "
              "[--warm N] [--samples FILE]\n"
              "       agnocast-bench-iceoryx scene --size BYTES [--seconds S] [--topics N]\n"
              "              [--publishers N] [--subscribers N] [--rate HZ] [--daemon-pid PID]\n"
              "(needs iox-roudi running with mempools for the size)\n",
              stderr);
        return 2;
    }
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (!bench_case_option(&c, opt, optarg))
            return 2;
    }
    if (c.size < sizeof(struct bench_hdr) || c.count < 1)
        return 2;
    c.transport = c.busy ? "iceoryx-busy" : "iceoryx-waitset";
    if (bench_case_init(&c) < 0)
        return 1;
    /* iceoryx names are limited to 100 characters and take no "/": use the pid alone. */
    snprintf(c.topic, sizeof(c.topic), "c%d", (int)getpid());
    rc = bench_case_run(&c, sub_main, pub_main);
    if (rc == 0)
        bench_case_report(&c, "latency", NULL);
    bench_case_fini(&c);
    return rc < 0;
}
