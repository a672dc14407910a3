/* The baselines run beside agnocast: Unix socket, one shared-memory copy, POSIX mqueue, and the
 * machine's floors (bare eventfd wake-up, the pipe + epoll wake-up agnocast's wake channels
 * use, cache-line ping-pong, fan-out of bare wake-ups). */
#include "bench-baseline.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-stats.h"

/* A message and its sequence number on their own cache line, for the ping-pong floor. */
struct line {
    _Atomic uint64_t seq;
    uint64_t stamp_ns;
} __attribute__((aligned(64)));

struct base_state {
    int kind;
    int sock[2];
    int efd[BENCH_MAX_SUBS]; /* eventfds; for pipe-epoll, the pipes' read ends */
    int wfd[BENCH_MAX_SUBS]; /* pipe-epoll: the write ends */
    int epoll;               /* pipe-epoll: the subscriber's own epoll instance */
    mqd_t mq;
    void *shm; /* shared buffer of c->size bytes (shm-copy) or one page */
    struct line *line;
    char *buf; /* the process's private message buffer */
};

enum { UDS, SHM_COPY, MQUEUE, EVENTFD, EVENTFD_POLL, PIPE_EPOLL, CACHELINE };

static const char *const kinds[] = {"uds",          "shm-copy",   "mqueue",   "eventfd",
                                    "eventfd-poll", "pipe-epoll", "cacheline"};

static char *private_buffer(size_t size)
{
    char *b = malloc(size);

    if (b)
        memset(b, 0, size); /* fault every page in before timing */
    return b;
}

static int wait_event(struct base_state *st, int fd)
{
    uint64_t v;

    if (st->kind == PIPE_EPOLL) {
        /* What a sleeping agnocast subscriber does: wait on its wake set, read the pipe. */
        struct epoll_event ev;
        char byte;
        if (epoll_wait(st->epoll, &ev, 1, -1) != 1)
            return -1;
        return read(fd, &byte, 1) == 1 ? 0 : -1;
    }
    if (st->kind == EVENTFD_POLL) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0)
            return -1;
    }
    return read(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

/* Receives one message into `h`; 0 or -1. */
static int receive(struct bench_case *c, struct base_state *st, struct bench_hdr *h)
{
    switch (st->kind) {
    case UDS:
        if (bench_full_io(st->sock[1], st->buf, c->size, false) < 0)
            return -1;
        memcpy(h, st->buf, sizeof(*h));
        return 0;
    case MQUEUE:
        if (mq_receive(st->mq, st->buf, c->size, NULL) != (ssize_t)c->size)
            return -1;
        memcpy(h, st->buf, sizeof(*h));
        return 0;
    case CACHELINE: {
        uint64_t seq, last = atomic_load_explicit(&c->s->acked[c->index], memory_order_relaxed);
        while ((seq = atomic_load_explicit(&st->line->seq, memory_order_acquire)) == last)
            __builtin_ia32_pause();
        h->seq = seq;
        h->stamp_ns = st->line->stamp_ns;
        return 0;
    }
    default: /* SHM_COPY, EVENTFD, EVENTFD_POLL: the message is in shared memory */
        if (wait_event(st, st->efd[c->index]) < 0)
            return -1;
        memcpy(h, st->shm, sizeof(*h));
        return 0;
    }
}

static int sub_main(void *arg)
{
    struct bench_case *c = arg;
    struct base_state *st = c->state;
    struct bench_hdr h;

    bench_case_pin(c, false);
    if ((st->kind == UDS || st->kind == MQUEUE) && !(st->buf = private_buffer(c->size)))
        return 1;
    if (st->kind == PIPE_EPOLL) {
        struct epoll_event ev = {.events = EPOLLIN};
        st->epoll = epoll_create1(EPOLL_CLOEXEC);
        if (st->epoll < 0 || epoll_ctl(st->epoll, EPOLL_CTL_ADD, st->efd[c->index], &ev) < 0)
            return 1;
    }
    bench_case_ready(c);
    for (;;) {
        if (receive(c, st, &h) < 0) {
            perror("bench baseline receive");
            return 1;
        }
        if (bench_record(c->s, c->index, &h))
            return 0;
    }
}

static int send_one(void *arg, uint64_t seq)
{
    struct bench_case *c = arg;
    struct base_state *st = c->state;
    struct bench_hdr *h = (struct bench_hdr *)st->buf;
    uint64_t one = 1;

    h->seq = seq;
    h->stamp_ns = bench_now_ns();
    switch (st->kind) {
    case UDS:
        return bench_full_io(st->sock[0], st->buf, c->size, true);
    case MQUEUE:
        return mq_send(st->mq, st->buf, c->size, 0);
    case CACHELINE:
        st->line->stamp_ns = h->stamp_ns;
        atomic_store_explicit(&st->line->seq, seq, memory_order_release);
        return 0;
    case SHM_COPY:
        memcpy(st->shm, st->buf, c->size);
        return write(st->efd[0], &one, sizeof(one)) == sizeof(one) ? 0 : -1;
    case PIPE_EPOLL:
        memcpy(st->shm, h, sizeof(*h));
        return write(st->wfd[0], "\1", 1) == 1 ? 0 : -1;
    default: /* the floors: the header only, then one wake-up per subscriber */
        memcpy(st->shm, h, sizeof(*h));
        for (unsigned i = 0; i < c->s->nsubs; i++)
            if (write(st->efd[i], &one, sizeof(one)) != sizeof(one))
                return -1;
        return 0;
    }
}

static int pub_main(void *arg)
{
    struct bench_case *c = arg;
    struct base_state *st = c->state;

    bench_case_pin(c, true);
    st->buf =
        private_buffer(c->size < sizeof(struct bench_hdr) ? sizeof(struct bench_hdr) : c->size);
    if (!st->buf)
        return 1;
    return bench_publish_paced(c->s, send_one, c, c->warm) < 0;
}

static int setup(struct bench_case *c, struct base_state *st)
{
    if (st->kind == UDS)
        return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st->sock);
    if (st->kind == MQUEUE) {
        char name[64];
        struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = (long)c->size};
        snprintf(name, sizeof(name), "/agnocast-bench-%d", (int)getpid());
        st->mq = mq_open(name, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600, &attr);
        if (st->mq == (mqd_t)-1) {
            char why[160];
            snprintf(why, sizeof(why), "mq_open with msgsize %zu: %s", c->size, strerror(errno));
            bench_print_skip(stdout, "latency", c->transport, why);
            return 1;
        }
        mq_unlink(name); /* the descriptors live on in the children; nothing is left behind */
        return 0;
    }
    if (st->kind == CACHELINE)
        return (st->line = bench_shared_map(sizeof(*st->line))) ? 0 : -1;
    st->shm = bench_shared_map(st->kind == SHM_COPY ? c->size : 4096);
    if (!st->shm)
        return -1;
    for (unsigned i = 0; i < c->s->nsubs; i++) {
        int p[2];
        if (st->kind != PIPE_EPOLL) {
            if ((st->efd[i] = eventfd(0, EFD_CLOEXEC)) < 0)
                return -1;
        } else if (pipe2(p, O_CLOEXEC) == 0) {
            st->efd[i] = p[0];
            st->wfd[i] = p[1];
        } else {
            return -1;
        }
    }
    return 0;
}

static void teardown(struct bench_case *c, struct base_state *st)
{
    if (st->kind == UDS) {
        close(st->sock[0]);
        close(st->sock[1]);
    } else if (st->kind == MQUEUE) {
        mq_close(st->mq);
    } else if (st->kind == CACHELINE) {
        munmap(st->line, sizeof(*st->line));
    } else {
        munmap(st->shm, st->kind == SHM_COPY ? c->size : 4096);
        for (unsigned i = 0; i < c->s->nsubs; i++) {
            close(st->efd[i]);
            if (st->kind == PIPE_EPOLL)
                close(st->wfd[i]);
        }
    }
}

int bench_baseline_latency(struct bench_case *c)
{
    struct base_state st = {.kind = -1, .mq = (mqd_t)-1};
    int rc;

    for (int k = 0; k < (int)(sizeof(kinds) / sizeof(kinds[0])); k++)
        if (strcmp(c->transport, kinds[k]) == 0)
            st.kind = k;
    if (st.kind < 0 || (st.kind != EVENTFD && c->fanout)) {
        fprintf(stderr, "bench: unknown baseline transport \"%s\" (or not for fan-out)\n",
                c->transport);
        return -1;
    }
    if (c->size < sizeof(struct bench_hdr))
        c->size = sizeof(struct bench_hdr);
    if (bench_case_init(c) < 0)
        return -1;
    c->state = &st;
    rc = setup(c, &st);
    if (rc == 0) {
        rc = bench_case_run(c, sub_main, pub_main);
        if (rc == 0)
            bench_case_report(c, "latency", NULL);
        teardown(c, &st);
    }
    bench_case_fini(c);
    return rc;
}
