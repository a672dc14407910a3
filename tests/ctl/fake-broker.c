/* A stand-in broker on a temporary socket that answers the CLI's queries with canned replies.
 * Frames are laid out by hand from the header's structs, not with agnocast_proto_encode, so the
 * CLI's decoding is checked against the wire layout itself. */
#include "fake-broker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "shm-layout.h"

struct fake_broker {
    struct fake_broker_config cfg;
    char *path;
    int listen_fd;
    int stop_pipe[2];
    GThread *thread;
    GMutex lock;
    GArray *requests;
    unsigned connections;
};

static union agnocast_frame_buffer fake_out;

/* Sends one frame with up to one descriptor (-1: none). */
static void fake_send_fd(int fd, uint16_t version, uint16_t kind, uint32_t id, const void *payload,
                         size_t len, int attach)
{
    struct agnocast_wire_header h = {
        .magic = AGNOCAST_PROTO_MAGIC,
        .version = version,
        .kind = kind,
        .length = (uint32_t)len,
        .request_id = id,
    };
    memcpy(fake_out.bytes, &h, sizeof h);
    if (len > 0)
        memcpy(fake_out.bytes + sizeof h, payload, len);
    (void)agnocast_proto_send(fd, fake_out.bytes, sizeof h + len, &attach, attach >= 0 ? 1 : 0);
}

static void fake_send(int fd, uint16_t version, uint16_t kind, uint32_t id, const void *payload,
                      size_t len)
{
    fake_send_fd(fd, version, kind, id, payload, len, -1);
}

static void fake_send_error(int fd, uint16_t version, uint32_t id, int32_t code,
                            uint16_t err_version, const char *message)
{
    struct agnocast_wire_error e = {.code = code, .version = err_version};
    g_strlcpy(e.message, message, sizeof e.message);
    fake_send(fd, version, AGNOCAST_MSG_ERROR, id, &e, sizeof e);
}

/* Sends entries [start, start + page) of a list of `total` entries of `size` bytes. */
static void fake_send_list(const struct fake_broker *fb, int fd, uint16_t kind, uint32_t id,
                           const void *entries, size_t size, uint32_t total, uint32_t start)
{
    uint32_t page = fb->cfg.page_size ? fb->cfg.page_size : AGNOCAST_PROTO_LIST_MAX;
    uint32_t count = start >= total ? 0 : MIN(page, total - start);
    size_t len = sizeof(struct agnocast_wire_list) + count * size;
    g_autofree unsigned char *payload = g_malloc0(len);
    struct agnocast_wire_list l = {.total = total, .count = count};

    memcpy(payload, &l, sizeof l);
    if (count > 0)
        memcpy(payload + sizeof l, (const unsigned char *)entries + start * size, count * size);
    fake_send(fd, AGNOCAST_PROTO_VERSION, kind, id, payload, len);
}

static void fake_answer_topics(const struct fake_broker *fb, int fd, uint32_t id, uint32_t start)
{
    g_autofree struct agnocast_wire_topic_entry *t =
        g_new0(struct agnocast_wire_topic_entry, MAX(fb->cfg.topics, 1));
    for (unsigned i = 0; i < fb->cfg.topics; i++) {
        g_snprintf(t[i].topic, sizeof t[i].topic, "/topic_%02u", i);
        t[i].publishers = i;
        t[i].subscriptions = 2 * i;
    }
    fake_send_list(fb, fd, AGNOCAST_MSG_TOPIC_LIST, id, t, sizeof *t, fb->cfg.topics, start);
}

static void fake_answer_topic_info(const struct fake_broker *fb, int fd, uint32_t id,
                                   const struct agnocast_wire_query *q)
{
    static const struct agnocast_wire_endpoint_entry e[2] = {
        {.pid = 100,
         .index = 3,
         .qos = {.depth = 10, .durability = 1, .reliability = 1},
         .is_publisher = 1},
        {.pid = 200,
         .index = 0,
         .qos = {.depth = 5, .durability = 0, .reliability = 0, .ignore_local = 1}},
    };
    if (strcmp(q->topic, "/chatter") != 0) {
        char msg[AGNOCAST_ERROR_TEXT_MAX];
        g_snprintf(msg, sizeof msg, "unknown topic %s: no process publishes or subscribes to it",
                   q->topic);
        fake_send_error(fd, AGNOCAST_PROTO_VERSION, id, -ENOENT, AGNOCAST_PROTO_VERSION, msg);
        return;
    }
    /* Subscription listed first here: the CLI must still print publishers first. */
    const struct agnocast_wire_endpoint_entry order[2] = {e[1], e[0]};
    fake_send_list(fb, fd, AGNOCAST_MSG_TOPIC_INFO_REPLY, id, order, sizeof order[0], 2, q->start);
}

static const struct agnocast_wire_process_entry fake_processes[2] = {
    {.pid = 100, .uid = 1000, .base = 0x40000000000ull, .size = 128ull << 20, .publishers = 1},
    {.pid = 200, .uid = 0, .base = 0x40008000000ull, .size = 1536ull << 10, .subscriptions = 2},
};

static void fake_answer_processes(const struct fake_broker *fb, int fd, uint32_t id, uint32_t start)
{
    fake_send_list(fb, fd, AGNOCAST_MSG_PROCESS_LIST, id, fake_processes, sizeof fake_processes[0],
                   2, start);
}

/* The segment of a canned process, as its library would hand it over: a memfd (sealed unless
 * the config says otherwise) with a header, and process 100's ring or process 200's counters. */
static int fake_segment(const struct fake_broker *fb, const struct agnocast_wire_process_entry *p)
{
    int fd = memfd_create("agnocast-fake", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    struct agn_seg_header *h;

    if (fd < 0 || ftruncate(fd, (off_t)p->size) < 0 ||
        (h = mmap(NULL, p->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        fprintf(stderr, "fake broker: cannot make a segment: %s\n", g_strerror(errno));
        abort();
    }
    h->magic = AGN_SEG_MAGIC;
    h->layout = AGN_SEG_LAYOUT;
    h->pid = p->pid;
    h->base = p->base;
    h->size = p->size;
    h->heap_off = (sizeof *h + 4095) & ~4095ull;
    h->heap_size = p->size - h->heap_off;
    if (p->publishers > 0) {
        h->pubs[3].depth = 10;
        h->pubs[3].ring_off = h->heap_off;
        atomic_store(&h->pubs[3].head, 42);
        atomic_store(&h->pubs[3].active, 1);
    } else {
        atomic_store(&h->subs[0].active, 1);
        atomic_store(&h->subs[0].received, 40);
        atomic_store(&h->subs[0].missed, 2);
        atomic_store(&h->subs[0].unreachable, 1);
    }
    munmap(h, p->size);
    if (fb->cfg.segments != FAKE_SEGMENTS_UNSEALED &&
        fcntl(fd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS) < 0) {
        fprintf(stderr, "fake broker: cannot seal a segment: %s\n", g_strerror(errno));
        abort();
    }
    return fd;
}

static void fake_answer_segment(const struct fake_broker *fb, int fd, uint32_t id,
                                const struct agnocast_wire_segment_query *q)
{
    const struct agnocast_wire_process_entry *p = NULL;
    char msg[AGNOCAST_ERROR_TEXT_MAX];

    for (size_t i = 0; i < G_N_ELEMENTS(fake_processes); i++)
        if (fake_processes[i].pid == q->pid)
            p = &fake_processes[i];
    if (p == NULL || fb->cfg.segments == FAKE_SEGMENTS_GONE) {
        g_snprintf(msg, sizeof msg, "no process %u is registered", q->pid);
        fake_send_error(fd, AGNOCAST_PROTO_VERSION, id, -ESRCH, AGNOCAST_PROTO_VERSION, msg);
        return;
    }
    if (fb->cfg.segments == FAKE_SEGMENTS_REFUSE || q->area != 0) {
        g_snprintf(msg, sizeof msg, "uid %u may not read process %u", (unsigned)getuid(), q->pid);
        fake_send_error(fd, AGNOCAST_PROTO_VERSION, id, -EACCES, AGNOCAST_PROTO_VERSION, msg);
        return;
    }
    struct agnocast_wire_segment r = {.pid = p->pid, .area = 0, .base = p->base, .size = p->size};
    int seg = fb->cfg.segments == FAKE_SEGMENTS_NO_FD ? -1 : fake_segment(fb, p);
    fake_send_fd(fd, AGNOCAST_PROTO_VERSION, AGNOCAST_MSG_SEGMENT_REPLY, id, &r, sizeof r, seg);
    if (seg >= 0)
        close(seg);
}

static void fake_answer_stats(const struct fake_broker *fb, int fd, uint32_t id)
{
    static const struct agnocast_wire_stats_entry s[3] = {
        {.kind = AGNOCAST_MSG_HELLO, .count = 7},
        {.kind = AGNOCAST_MSG_ADD_PUBLISHER, .count = 12345678901ull},
        {.kind = 777, .count = 1},
    };
    fake_send_list(fb, fd, AGNOCAST_MSG_STATS_REPLY, id, s, sizeof s[0], 3, 0);
}

/* Serves one connection until the client closes it; returns FALSE to hang up. */
static gboolean fake_answer(struct fake_broker *fb, int fd, const unsigned char *buf, size_t len)
{
    struct agnocast_wire_header h;
    const unsigned char *payload = buf + sizeof h;
    struct agnocast_wire_query q = {0};
    struct agnocast_wire_segment_query sq = {0};

    if (len < sizeof h)
        return FALSE;
    memcpy(&h, buf, sizeof h);
    if (h.kind != AGNOCAST_MSG_STATS && h.kind != AGNOCAST_MSG_HELLO && len >= sizeof h + sizeof q)
        memcpy(&q, payload, sizeof q);
    if (h.kind == AGNOCAST_MSG_GET_SEGMENT && len >= sizeof h + sizeof sq)
        memcpy(&sq, payload, sizeof sq);

    g_mutex_lock(&fb->lock);
    struct fake_broker_request r = {
        .kind = h.kind, .start = q.start, .pid = sq.pid, .area = sq.area};
    g_array_append_val(fb->requests, r);
    g_mutex_unlock(&fb->lock);

    if (fb->cfg.mode == FAKE_BROKER_SILENT)
        return TRUE;
    switch (h.kind) {
    case AGNOCAST_MSG_HELLO:
        if (fb->cfg.mode == FAKE_BROKER_OLD_HEADER_VERSION) {
            /* A broker one version ahead: its header says so. */
            fake_send_error(fd, AGNOCAST_PROTO_VERSION + 1, h.request_id, -EPROTONOSUPPORT,
                            AGNOCAST_PROTO_VERSION + 1, "protocol version mismatch");
            return FALSE;
        }
        if (fb->cfg.mode == FAKE_BROKER_ERROR_VERSION) {
            fake_send_error(fd, AGNOCAST_PROTO_VERSION, h.request_id, -EPROTONOSUPPORT, 7,
                            "protocol version mismatch");
            return FALSE;
        }
        struct agnocast_wire_hello_reply hr = {.broker_pid = FAKE_BROKER_PID};
        fake_send(fd, AGNOCAST_PROTO_VERSION, AGNOCAST_MSG_HELLO_REPLY, h.request_id, &hr,
                  sizeof hr);
        return fb->cfg.mode != FAKE_BROKER_HANG_UP;
    case AGNOCAST_MSG_LIST_TOPICS:
        fake_answer_topics(fb, fd, h.request_id, q.start);
        return TRUE;
    case AGNOCAST_MSG_TOPIC_INFO:
        fake_answer_topic_info(fb, fd, h.request_id, &q);
        return TRUE;
    case AGNOCAST_MSG_LIST_PROCESSES:
        fake_answer_processes(fb, fd, h.request_id, q.start);
        return TRUE;
    case AGNOCAST_MSG_STATS:
        fake_answer_stats(fb, fd, h.request_id);
        return TRUE;
    case AGNOCAST_MSG_GET_SEGMENT:
        fake_answer_segment(fb, fd, h.request_id, &sq);
        return TRUE;
    default:
        return FALSE;
    }
}

static gpointer fake_broker_thread(gpointer data)
{
    struct fake_broker *fb = data;
    static union agnocast_frame_buffer in;

    for (;;) {
        struct pollfd pfd[2] = {{fb->listen_fd, POLLIN, 0}, {fb->stop_pipe[0], POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        if (!(pfd[0].revents & POLLIN))
            continue;
        int fd = accept4(fb->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        g_mutex_lock(&fb->lock);
        fb->connections++;
        g_mutex_unlock(&fb->lock);
        for (;;) {
            struct pollfd cp[2] = {{fd, POLLIN, 0}, {fb->stop_pipe[0], POLLIN, 0}};
            if (poll(cp, 2, -1) < 0 && errno != EINTR)
                break;
            if (cp[1].revents)
                break;
            ssize_t n = recv(fd, in.bytes, sizeof in.bytes, 0);
            if (n <= 0 || !fake_answer(fb, fd, in.bytes, (size_t)n))
                break;
        }
        close(fd);
    }
    return NULL;
}

struct fake_broker *fake_broker_start(const char *dir, const struct fake_broker_config *cfg)
{
    struct fake_broker *fb = g_new0(struct fake_broker, 1);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};

    fb->cfg = *cfg;
    fb->path = g_build_filename(dir, "fake.sock", NULL);
    g_strlcpy(sa.sun_path, fb->path, sizeof sa.sun_path);
    fb->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fb->listen_fd < 0 || bind(fb->listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(fb->listen_fd, 8) < 0 || pipe2(fb->stop_pipe, O_CLOEXEC) < 0) {
        fprintf(stderr, "fake broker on %s: %s\n", fb->path, g_strerror(errno));
        abort();
    }
    g_mutex_init(&fb->lock);
    fb->requests = g_array_new(FALSE, TRUE, sizeof(struct fake_broker_request));
    fb->thread = g_thread_new("fake-broker", fake_broker_thread, fb);
    return fb;
}

const char *fake_broker_path(const struct fake_broker *fb)
{
    return fb->path;
}

GArray *fake_broker_stop(struct fake_broker *fb, unsigned *connections)
{
    ssize_t w = write(fb->stop_pipe[1], "x", 1);
    (void)w;
    g_thread_join(fb->thread);
    close(fb->listen_fd);
    close(fb->stop_pipe[0]);
    close(fb->stop_pipe[1]);
    unlink(fb->path);
    g_mutex_clear(&fb->lock);
    if (connections != NULL)
        *connections = fb->connections;
    GArray *requests = fb->requests;
    g_free(fb->path);
    g_free(fb);
    return requests;
}
