/* The 200-topic scene's floor: what any transport that wakes a sleeping subscriber must pay and
 * nothing else. Each topic is one slot in memory shared before fork (a seqlock over the 16-byte
 * header, no payload, no pool, no bookkeeping); each subscriber process sleeps in a blocking
 * read() of its own eventfd, which the publishers of its topics write after filling the slot:
 * one system call on each side per wake-up, the fewest a sleeping reader can have. Zero-copy
 * transports differ from it only by their own work, so their CPU time and tails over it are
 * their cost; the wake-ups themselves are the machine's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench-scene.h"
#include "bench-util.h"

struct floor_slot {
    _Atomic uint64_t seq; /* odd while the publisher writes the header */
    struct bench_scene_msg msg;
} __attribute__((aligned(64)));

struct floor_state {
    struct floor_slot *slots; /* [topic] */
    size_t map_size;
    bool pipes; /* the pipe variant: wake-ups as agnocast makes them (libagnocast/wake.c) */
    int efd[BENCH_SCENE_MAX_SUBS];
    int pipe[BENCH_SCENE_MAX_PUBS][BENCH_SCENE_MAX_SUBS][2];
};

static struct floor_state state;

static int setup(struct bench_scene *sc)
{
    state.map_size = sc->topics * sizeof(struct floor_slot);
    state.slots =
        mmap(NULL, state.map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (state.slots == MAP_FAILED) {
        perror("bench scene floor: mmap");
        return -1;
    }
    for (unsigned j = 0; j < sc->subscribers; j++) {
        state.efd[j] = -1;
        for (unsigned p = 0; p < sc->publishers; p++)
            state.pipe[p][j][0] = state.pipe[p][j][1] = -1;
    }
    for (unsigned j = 0; j < sc->subscribers; j++) {
        if ((state.efd[j] = eventfd(0, EFD_CLOEXEC)) < 0) {
            perror("bench scene floor: eventfd");
            return -1;
        }
        for (unsigned p = 0; state.pipes && p < sc->publishers; p++) {
            if (pipe2(state.pipe[p][j], O_CLOEXEC | O_NONBLOCK) < 0) {
                perror("bench scene floor: pipe2");
                return -1;
            }
        }
    }
    sc->state = &state;
    return 0;
}

static void ring(int efd)
{
    uint64_t one = 1;

    (void)!write(efd, &one, sizeof(one));
}

static void ring_sub(unsigned p, unsigned j)
{
    static const char byte = 1;

    if (state.pipes)
        (void)!write(state.pipe[p][j][1], &byte, 1);
    else
        ring(state.efd[j]);
}

static int send_one(void *arg, unsigned i, uint64_t *stamp)
{
    struct bench_scene *sc = arg;
    uint32_t t = bench_scene_pub_topic(sc, sc->index, i);
    struct floor_slot *s = &state.slots[t];
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    unsigned subs[2];

    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    s->msg.topic = t;
    s->msg.publisher = sc->index;
    *stamp = s->msg.stamp_ns = bench_now_ns();
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
    bench_scene_topic_subs(sc, t, subs);
    ring_sub(sc->index, subs[0]);
    ring_sub(sc->index, subs[1]);
    return 0;
}

static int publisher(struct bench_scene *sc)
{
    if (!bench_scene_ready(sc))
        return 1;
    return bench_scene_publish_loop(sc, send_one, sc) < 0;
}

/* Takes the slot's header if it changed since `*last`; false if not (or torn: the publisher was
 * writing it, and rings again once it is done). */
static bool take_slot(struct floor_slot *s, uint64_t *last, struct bench_scene_msg *out)
{
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);

    if (seq == *last || (seq & 1))
        return false;
    *out = s->msg;
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
        return false;
    *last = seq;
    return true;
}

/* Sleeps until woken: a blocking read of the eventfd, or (pipes) epoll_wait on the eventfd and
 * every publisher's pipe, then a read of each pipe it named. */
static int sleep_once(struct bench_scene *sc, int ep)
{
    struct epoll_event ev[16];
    char buf[256];
    uint64_t count;
    int n;

    if (ep < 0)
        return read(state.efd[sc->index], &count, sizeof(count)) < 0 && errno != EINTR ? -1 : 0;
    if ((n = epoll_wait(ep, ev, 16, -1)) < 0)
        return errno == EINTR ? 0 : -1;
    for (int k = 0; k < n; k++)
        if (read(ev[k].data.fd, buf, ev[k].data.fd == state.efd[sc->index] ? 8 : sizeof(buf)) < 0 &&
            errno != EAGAIN)
            return -1;
    return 0;
}

static int subscriber(struct bench_scene *sc)
{
    uint32_t topics[BENCH_SCENE_MAX_PER_PROCESS];
    uint64_t last[BENCH_SCENE_MAX_PER_PROCESS] = {0};
    unsigned n = bench_scene_sub_topics(sc, sc->index, topics);
    int ep = -1;

    if (state.pipes) {
        if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
            return bench_scene_fail(sc, strerror(errno));
        for (unsigned p = 0; p <= sc->publishers; p++) {
            int fd = p < sc->publishers ? state.pipe[p][sc->index][0] : state.efd[sc->index];
            struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
                return bench_scene_fail(sc, strerror(errno));
        }
    }
    if (!bench_scene_ready(sc))
        return 1;
    while (!bench_scene_stopping(sc)) {
        struct bench_scene_msg m;
        if (sleep_once(sc, ep) < 0)
            return bench_scene_fail(sc, strerror(errno));
        for (unsigned i = 0; i < n; i++)
            if (take_slot(&state.slots[topics[i]], &last[i], &m))
                bench_scene_record(sc, &m);
    }
    return 0;
}

/* The subscribers sleep in read() with no timeout: the runner's stop (or a failure) rings them. */
static void stopping(struct bench_scene *sc)
{
    for (unsigned j = 0; j < sc->subscribers; j++)
        if (state.efd[j] >= 0)
            ring(state.efd[j]);
}

static void teardown(struct bench_scene *sc)
{
    for (unsigned j = 0; j < sc->subscribers; j++) {
        if (state.efd[j] >= 0)
            close(state.efd[j]);
        for (unsigned p = 0; p < sc->publishers; p++)
            for (int e = 0; e < 2; e++)
                if (state.pipe[p][j][e] >= 0)
                    close(state.pipe[p][j][e]);
    }
    munmap(state.slots, state.map_size);
}

static int setup_pipes(struct bench_scene *sc)
{
    state.pipes = true;
    return setup(sc);
}

const struct bench_scene_ops bench_scene_floor = {
    .setup = setup,
    .publisher = publisher,
    .subscriber = subscriber,
    .stopping = stopping,
    .teardown = teardown,
};

const struct bench_scene_ops bench_scene_floor_pipes = {
    .setup = setup_pipes,
    .publisher = publisher,
    .subscriber = subscriber,
    .stopping = stopping,
    .teardown = teardown,
};
