/* The 200-topic scene over Unix stream sockets, the copying baseline: one connection per pair of
 * publisher and subscriber processes, each message written whole to both of its topic's
 * subscribers, which poll() their connections and read whole messages. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-scene.h"
#include "bench-util.h"

/* fd[p * subscribers + j]: publisher p's end [0] and subscriber j's end [1], or -1 both where
 * subscriber j reads no topic of p. */
struct uds_state {
    int (*fd)[2];
    unsigned pairs;
    char *buf;
    struct bench_scene *sc;
};

static int (*pair(struct bench_scene *sc, unsigned p, unsigned j))[2]
{
    struct uds_state *st = sc->state;

    return &st->fd[p * sc->subscribers + j];
}

/* Raises the soft descriptor limit to what the pairs need (every process inherits them all). */
static int room_for(unsigned fds)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    if (rl.rlim_cur >= fds + 64)
        return 0;
    if (rl.rlim_max < fds + 64) {
        fprintf(stderr, "bench scene uds: %u descriptors needed, the hard limit is %llu\n",
                fds + 64, (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = fds + 64;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

static int setup(struct bench_scene *sc)
{
    static struct uds_state st;
    unsigned subs[2];

    st.pairs = sc->publishers * sc->subscribers;
    if (!(st.fd = malloc(st.pairs * sizeof(*st.fd))))
        return -1;
    memset(st.fd, 0xff, st.pairs * sizeof(*st.fd));
    sc->state = &st;
    if (room_for(st.pairs * 2) < 0)
        return -1;
    for (unsigned p = 0; p < sc->publishers; p++) {
        for (unsigned i = 0; i < bench_scene_per_pub(sc); i++) {
            bench_scene_topic_subs(sc, bench_scene_pub_topic(sc, p, i), subs);
            for (int k = 0; k < 2; k++) {
                int(*fd)[2] = pair(sc, p, subs[k]);
                if ((*fd)[0] < 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, *fd) < 0) {
                    perror("bench scene uds: socketpair");
                    return -1;
                }
            }
        }
    }
    return 0;
}

static void teardown(struct bench_scene *sc)
{
    struct uds_state *st = sc->state;

    for (unsigned i = 0; st && i < st->pairs; i++) {
        if (st->fd[i][0] >= 0) {
            close(st->fd[i][0]);
            close(st->fd[i][1]);
        }
    }
    if (st)
        free(st->fd);
}

static char *message_buffer(size_t size)
{
    char *b = malloc(size);

    if (b)
        memset(b, 0, size); /* fault every page in before the window */
    return b;
}

static int send_one(void *arg, unsigned i, uint64_t *stamp)
{
    struct uds_state *st = arg;
    struct bench_scene *sc = st->sc;
    struct bench_scene_msg *m = (struct bench_scene_msg *)st->buf;
    unsigned subs[2];

    m->topic = bench_scene_pub_topic(sc, sc->index, i);
    m->publisher = sc->index;
    bench_scene_topic_subs(sc, m->topic, subs);
    *stamp = m->stamp_ns = bench_now_ns();
    for (int k = 0; k < 2; k++)
        if (bench_full_io((*pair(sc, sc->index, subs[k]))[0], st->buf, sc->size, true) < 0)
            return bench_scene_fail(sc, "write"), -1;
    return 0;
}

static int publisher(struct bench_scene *sc)
{
    struct uds_state *st = sc->state;

    st->sc = sc;
    if (!(st->buf = message_buffer(sc->size)))
        return bench_scene_fail(sc, "out of memory");
    if (!bench_scene_ready(sc))
        return 1;
    return bench_scene_publish_loop(sc, send_one, st) < 0;
}

static int subscriber(struct bench_scene *sc)
{
    struct uds_state *st = sc->state;
    struct pollfd pfd[BENCH_SCENE_MAX_PUBS];
    unsigned n = 0;

    if (!(st->buf = message_buffer(sc->size)))
        return bench_scene_fail(sc, "out of memory");
    for (unsigned p = 0; p < sc->publishers; p++) {
        int fd = (*pair(sc, p, sc->index))[1];
        if (fd >= 0)
            pfd[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    if (!bench_scene_ready(sc))
        return 1;
    for (;;) {
        /* Once stopped, the publishers are gone: read what their last writes left, then go. */
        bool stopping = bench_scene_stopping(sc);
        int r = poll(pfd, n, stopping ? 0 : 50);
        if (r < 0 && errno != EINTR)
            return bench_scene_fail(sc, "poll");
        if (r <= 0 && stopping)
            return 0;
        for (unsigned k = 0; r > 0 && k < n; k++) {
            if (!(pfd[k].revents & POLLIN))
                continue;
            if (bench_full_io(pfd[k].fd, st->buf, sc->size, false) < 0)
                return bench_scene_fail(sc, "read");
            bench_scene_record(sc, (const struct bench_scene_msg *)st->buf);
        }
    }
}

const struct bench_scene_ops bench_scene_uds = {
    .setup = setup,
    .publisher = publisher,
    .subscriber = subscriber,
    .teardown = teardown,
};
