/* agnocast-bench-iceoryx: the same paced latency case over Eclipse iceoryx's public C binding
 * (busy-poll on take, or blocking on a WaitSet), against a RouDi the harness started. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench-case.h"
#include "bench-stats.h"
#include "bench-util.h"

/* The binding declares iox_runtime_shutdown() without (void). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "iceoryx_binding_c/publisher.h"
#include "iceoryx_binding_c/runtime.h"
#include "iceoryx_binding_c/subscriber.h"
#include "iceoryx_binding_c/wait_set.h"
#pragma GCC diagnostic pop

#define SERVICE "agnocast-bench"

/* Leaves iceoryx the way it expects: the runtime unregisters from RouDi in its static
 * destructor, which the _exit() of a forked case process would skip; RouDi, finding the
 * process registered but gone at its own shutdown, then aborts and leaves its shared memory
 * behind. */
static _Noreturn void runtime_exit(int rc)
{
    iox_runtime_shutdown();
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

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        BENCH_CASE_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct bench_case c = {.size = 64, .count = 1000, .warm = 100, .nsubs = 1};
    int opt, rc;

    if (argc < 2 || strcmp(argv[1], "latency") != 0) {
        fputs("usage: agnocast-bench-iceoryx latency --size BYTES [--busy] [--count N] "
              "[--warm N] [--samples FILE]\n(needs iox-roudi running with mempools for the size)\n",
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
