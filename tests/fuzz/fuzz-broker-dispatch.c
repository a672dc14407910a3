/*
 * Fuzz target for the broker's request handling: a real broker (registry, ranges, clients,
 * event loop) without a listener, whose connections are socketpairs this target holds the other
 * end of. Each record of the input is dispatched as a frame received on one connection; then
 * every connection closes. Checked after every frame: every frame the broker sent decodes, and
 * the registry, ranges and connections agree; at the end nothing is left registered.
 */
#include "fuzz-broker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "ranges.h"
#include "registry.h"

/* Far above any pid_max: the clean-up's shm_unlink/mq_unlink can hit nobody's names. */

struct fuzz_broker_counts fuzz_broker_counts;

static union agnocast_frame_buffer frame;
static union agnocast_frame_buffer reply;

struct slot {
    struct client *c; /* NULL once the broker closed it */
    int peer;         /* our end */
};

static void require(int cond)
{
    if (!cond)
        abort();
}

static GLogWriterOutput silent_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                                      gpointer data)
{
    return G_LOG_WRITER_HANDLED;
}

/* The broker logs every refusal; millions of inputs would drown the fuzzer's own output. */
static void quiet_log_setup(void)
{
    static int done;

    if (!done && getenv("FUZZ_BROKER_VERBOSE") == NULL)
        g_log_set_writer_func(silent_writer, NULL, NULL);
    done = 1;
}

/* Reads and checks everything the broker sent on one connection. */
static void drain(struct slot *s)
{
    for (;;) {
        int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;
        struct agnocast_frame f;
        ssize_t n = agnocast_proto_recv(s->peer, reply.bytes, sizeof(reply.bytes), fds, &nfds);

        if (n <= 0)
            return;
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        require(agnocast_proto_decode(reply.bytes, (size_t)n, &f) == 0);
        if (f.kind == AGNOCAST_MSG_ERROR)
            fuzz_broker_counts.replies_error++;
        else if (f.kind >= AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED &&
                 f.kind <= AGNOCAST_MSG_NOTICE_PROCESS_GONE)
            fuzz_broker_counts.notices++;
        else
            fuzz_broker_counts.replies_ok++;
    }
}

static void process_check(struct reg_process *p, void *data)
{
    struct broker *b = data;

    require(g_hash_table_contains(b->clients, p->owner));
    require(((struct client *)p->owner)->proc == p);
}

/* Registry, ranges and connections tell the same story. */
static void check_consistent(struct broker *b, struct slot *slots)
{
    guint registered = 0, ranges = 0;

    for (int i = 0; i < FUZZ_BROKER_CLIENTS; i++) {
        if (slots[i].c != NULL && slots[i].c->proc != NULL) {
            registered++;
            /* its own range and the ones it found occupied (RELOCATE) */
            ranges += 1 + slots[i].c->proc->nquarantine + slots[i].c->proc->nareas;
        }
    }
    require(registry_process_count(b->reg) == registered);
    require(ranges_count(b->ranges) == ranges);
    registry_foreach_process(b->reg, process_check, b);
}

static void run_loop(struct broker *b, struct slot *slots)
{
    for (int round = 0; round < 4; round++) {
        for (int i = 0; i < FUZZ_BROKER_CLIENTS; i++)
            drain(&slots[i]);
        event_base_loop(b->base, EVLOOP_NONBLOCK);
        for (int i = 0; i < FUZZ_BROKER_CLIENTS; i++)
            if (slots[i].c != NULL && !g_hash_table_contains(b->clients, slots[i].c)) {
                slots[i].c = NULL;
                fuzz_broker_counts.drops++;
            }
    }
}

static void open_slot(struct broker *b, struct slot *s, int i)
{
    int sv[2];

    require(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    s->peer = sv[0];
    s->c = client_attach(b, sv[1], FUZZ_BROKER_PID_BASE + i % 3, 1000, 1000);
}

/* A sealed memfd for an ATTACH_SEGMENT in frame.bytes, whose range is first set to the one the
 * connection's process was given for that area (a fuzzer cannot guess the broker's ranges). */
static int segment_for(struct slot *s, size_t len)
{
    struct agnocast_wire_header h;
    struct agnocast_wire_segment seg;
    uint64_t size = 4096;
    int fd;

    if (len >= sizeof(h) + sizeof(seg) && s->c->proc != NULL) {
        memcpy(&h, frame.bytes, sizeof(h));
        memcpy(&seg, frame.bytes + sizeof(h), sizeof(seg));
        if (h.kind == AGNOCAST_MSG_ATTACH_SEGMENT && seg.area <= s->c->proc->nareas) {
            seg.base = seg.area == 0 ? s->c->proc->base : s->c->proc->areas[seg.area - 1];
            seg.size = seg.area == 0 ? s->c->proc->size : s->c->proc->area_sizes[seg.area - 1];
            memcpy(frame.bytes + sizeof(h), &seg, sizeof(seg));
            size = seg.size;
        }
    }
    fd = memfd_create("fuzz-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd >= 0 &&
        (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS) < 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void deliver(struct slot *s, uint8_t flags, const uint8_t *data, size_t len)
{
    int fds[AGNOCAST_PROTO_FDS_MAX] = {-1, -1}, nfds = 0, p[2];

    /* Received frames land in an aligned buffer; so do these. */
    memcpy(frame.bytes, data, len);
    if (flags & FUZZ_BROKER_EVENTFD)
        fds[nfds++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if ((flags & FUZZ_BROKER_EXTRA_FD) && pipe2(p, O_CLOEXEC) == 0) {
        close(p[1]);
        fds[nfds++] = p[0];
    }
    if ((flags & FUZZ_BROKER_SEGMENT) && nfds < AGNOCAST_PROTO_FDS_MAX)
        fds[nfds++] = segment_for(s, len);
    if ((flags & FUZZ_BROKER_WAKE) && nfds < AGNOCAST_PROTO_FDS_MAX && pipe2(p, O_CLOEXEC) == 0) {
        close(p[1]);
        fds[nfds++] = p[0];
    }
    fuzz_broker_counts.frames++;
    /* What read_cb does with a frame, minus the socket. */
    if (!s->c->dead && !s->c->closing)
        dispatch_frame(s->c, frame.bytes, len, fds, nfds);
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct broker b;
    struct slot slots[FUZZ_BROKER_CLIENTS];
    size_t pos = 0;

    quiet_log_setup();
    memset(&b, 0, sizeof(b));
    b.cfg.socket_mode = 0660;
    b.cfg.pool_size = 1u << 20;
    b.cfg.max_pool_size = 64u << 20;
    b.cfg.window_base = RANGES_DEFAULT_BASE;
    b.cfg.window_size = 1ull << 30; /* small: running out of room is reachable */
    b.cfg.max_clients = 16;
    b.cfg.max_connections_per_uid = 16;
    b.cfg.max_endpoints = 8; /* small: the limits are reachable in a short input */
    b.cfg.max_topics = 6;
    /* One uid (1000) for every connection: its quotas are reachable too. */
    b.cfg.max_processes_per_uid = 2;
    b.cfg.max_space_per_uid = 512u << 20;
    b.cfg.max_endpoints_per_uid = 12;
    b.cfg.max_topics_per_uid = 5;
    b.cfg.max_queued_per_uid = 4u << 20;
    broker_init(&b, event_base_new());
    for (int i = 0; i < FUZZ_BROKER_CLIENTS; i++)
        open_slot(&b, &slots[i], i);

    while (pos + 3 <= size) {
        uint8_t flags = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        struct slot *s = &slots[flags & 3];

        pos += 3;
        if (len > size - pos)
            len = size - pos;
        if (len > AGNOCAST_PROTO_FRAME_MAX)
            len = AGNOCAST_PROTO_FRAME_MAX;
        if (s->c != NULL)
            deliver(s, flags, data + pos, len);
        pos += len;
        run_loop(&b, slots);
        check_consistent(&b, slots);
    }

    /* Every process leaves: its clean-up runs and nothing may stay behind. */
    for (int i = 0; i < FUZZ_BROKER_CLIENTS; i++) {
        close(slots[i].peer);
        slots[i].peer = -1;
        if (slots[i].c != NULL && !slots[i].c->dead)
            client_close(slots[i].c);
        slots[i].c = NULL;
    }
    /* A dropped connection closes on a timer of 0 s: give the loop a few turns. */
    for (int i = 0; i < 8 && g_hash_table_size(b.clients) > 0; i++)
        event_base_loop(b.base, EVLOOP_NONBLOCK);
    require(g_hash_table_size(b.clients) == 0);
    require(registry_process_count(b.reg) == 0);
    require(registry_topic_count(b.reg) == 0);
    require(ranges_count(b.ranges) == 0);
    require(g_hash_table_size(b.uid_conns) == 0);
    struct event_base *base = b.base;
    broker_fini(&b);
    event_base_free(base);
    return 0;
}
