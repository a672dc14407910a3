/* One connection: SO_PEERCRED identity, frame receive loop, queued sends with fds, closing. */
#include "client.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "broker.h"
#include "cleanup.h"
#include "dispatch.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59 /* Linux 4.13; older C libraries lack the name */
#endif

#define READ_BATCH          32 /* frames taken from one client per loop turn, for fairness */
#define CLOSE_FLUSH_SECONDS 5  /* how long a closing client gets to read what is queued */
/* A refused connection waits this long for its first frame, to answer it with the reason; at
 * most REFUSED_MAX of them wait at once (past that they are told at once and closed). */
#define REFUSED_WAIT_SECONDS 2
#define REFUSED_MAX          64
#define TRIM_BYTES           (1u << 20) /* freeing a queue this large gives memory back */

struct outframe {
    size_t len;
    int nfds;
    int fds[AGNOCAST_PROTO_FDS_MAX];
    unsigned char data[];
};

/* One frame at a time is received and dispatched, so static buffers are enough. */
static union agnocast_frame_buffer recv_buf;
static union agnocast_frame_buffer send_buf;

static void outframe_free(gpointer p)
{
    struct outframe *o = p;

    for (int i = 0; i < o->nfds; i++)
        close(o->fds[i]);
    g_free(o);
}

static size_t uid_queued(struct broker *b, uid_t uid)
{
    return GPOINTER_TO_SIZE(g_hash_table_lookup(b->uid_queued, GUINT_TO_POINTER(uid)));
}

/* Adds `delta` (wrapping arithmetic: a subtraction is a negative delta) to uid's queued bytes. */
static void uid_queued_add(struct broker *b, uid_t uid, size_t delta)
{
    size_t n = uid_queued(b, uid) + delta;

    if (n == 0)
        g_hash_table_remove(b->uid_queued, GUINT_TO_POINTER(uid));
    else
        g_hash_table_insert(b->uid_queued, GUINT_TO_POINTER(uid), GSIZE_TO_POINTER(n));
}

/* Frees everything queued for `c`; a large queue's memory goes back to the system. */
static void release_queue(struct client *c)
{
    size_t freed = c->out_bytes;

    g_queue_clear_full(&c->out, outframe_free);
    uid_queued_add(c->broker, c->uid, -freed);
    c->out_bytes = 0;
#ifdef __GLIBC__
    /* malloc keeps freed heap pages for reuse; a dropped flood would stay resident for good. */
    if (freed >= TRIM_BYTES)
        malloc_trim(0);
#endif
}

static void schedule_close(struct client *c, int seconds)
{
    struct timeval tv = {seconds, 0};

    event_del(c->ev_close);
    event_add(c->ev_close, &tv);
}

void client_drop(struct client *c, const char *fmt, ...)
{
    va_list ap;
    char *why;

    if (c->dead)
        return;
    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_warning("dropping client pid %d (uid %u): %s", (int)c->pid, (unsigned)c->uid, why);
    g_free(why);
    c->dead = true;
    event_del(c->ev_read);
    event_del(c->ev_write);
    release_queue(c); /* nothing more is sent to it */
    schedule_close(c, 0);
}

static void flush(struct client *c)
{
    struct outframe *o;

    while ((o = g_queue_peek_head(&c->out)) != NULL) {
        int rc = agnocast_proto_send(c->fd, o->data, o->len, o->fds, o->nfds);
        if (rc == -EAGAIN) {
            event_add(c->ev_write, NULL);
            return;
        }
        if (rc < 0) {
            client_drop(c, "cannot send to it: %s", g_strerror(-rc));
            return;
        }
        c->out_bytes -= sizeof(*o) + o->len;
        uid_queued_add(c->broker, c->uid, -(sizeof(*o) + o->len));
        outframe_free(g_queue_pop_head(&c->out));
    }
    event_del(c->ev_write);
    if (c->closing)
        schedule_close(c, 0);
}

static int queue_frame(struct client *c, const void *frame, size_t len, const int *fds, int nfds)
{
    struct broker *b = c->broker;
    struct outframe *o;
    size_t cost = sizeof(*o) + len, held = uid_queued(b, c->uid);

    if (g_queue_get_length(&c->out) >= CLIENT_QUEUE_MAX_FRAMES ||
        c->out_bytes + cost > CLIENT_QUEUE_MAX_BYTES) {
        client_drop(c, "it does not read its socket (%u frames, %zu bytes queued)",
                    g_queue_get_length(&c->out), c->out_bytes);
        return -ENOBUFS;
    }
    /* Across connections too: many that each stay under the cap above add up. */
    if (held + cost > b->cfg.max_queued_per_uid) {
        client_drop(c,
                    "uid %u would hold more than %" G_GUINT64_FORMAT " bytes in frames its "
                    "connections do not read (%zu in this one's queue, %zu in all); "
                    "--max-queued-bytes-per-uid caps it",
                    (unsigned)c->uid, b->cfg.max_queued_per_uid, c->out_bytes, held);
        return -ENOBUFS;
    }
    o = g_malloc(sizeof(*o) + len);
    o->len = len;
    o->nfds = 0;
    memcpy(o->data, frame, len);
    /* A queued descriptor must outlive its owner (a process may leave before this is sent). */
    for (int i = 0; i < nfds; i++) {
        int d = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        if (d < 0) {
            outframe_free(o);
            client_drop(c, "cannot keep a descriptor for it: %s", g_strerror(errno));
            return -errno;
        }
        o->fds[o->nfds++] = d;
    }
    g_queue_push_tail(&c->out, o);
    c->out_bytes += cost;
    uid_queued_add(b, c->uid, cost);
    event_add(c->ev_write, NULL);
    return 0;
}

void client_send(struct client *c, uint16_t kind, uint32_t request_id, const void *payload,
                 size_t len, const int *fds, int nfds)
{
    ssize_t flen;
    int rc;

    if (c->dead)
        return;
    flen = agnocast_proto_encode(send_buf.bytes, sizeof(send_buf.bytes), kind, request_id, payload,
                                 len);
    if (flen < 0) {
        g_warning("cannot encode a %s frame of %zu bytes: %s", agnocast_proto_kind_name(kind), len,
                  g_strerror((int)-flen));
        return;
    }
    if (g_queue_is_empty(&c->out)) {
        rc = agnocast_proto_send(c->fd, send_buf.bytes, (size_t)flen, fds, nfds);
        if (rc == 0)
            return;
        if (rc != -EAGAIN) {
            client_drop(c, "cannot send to it: %s", g_strerror(-rc));
            return;
        }
    }
    queue_frame(c, send_buf.bytes, (size_t)flen, fds, nfds);
}

void client_send_error(struct client *c, uint32_t request_id, int code, const char *fmt, ...)
{
    struct agnocast_wire_error e;
    va_list ap;

    memset(&e, 0, sizeof(e));
    e.code = code;
    e.version = AGNOCAST_PROTO_VERSION;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof(e.message), fmt, ap);
    va_end(ap);
    client_send(c, AGNOCAST_MSG_ERROR, request_id, &e, sizeof(e), NULL, 0);
}

void client_close_after_flush(struct client *c)
{
    if (c->dead || c->closing)
        return;
    c->closing = true;
    event_del(c->ev_read);
    schedule_close(c, g_queue_is_empty(&c->out) ? 0 : CLOSE_FLUSH_SECONDS);
}

static void close_fds(int *fds, int nfds)
{
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* A refused connection's reason, as the reply to its first frame (or unasked, if it sent none). */
static void answer_refused(struct client *c, const void *buf, size_t len)
{
    struct agnocast_frame f;
    int rc = buf != NULL ? agnocast_proto_decode(buf, len, &f) : -EINVAL;

    client_send_error(c, rc == 0 || rc == -EPROTONOSUPPORT ? f.request_id : 0, c->refused, "%s",
                      c->refused_why);
    client_close_after_flush(c);
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    for (int n = 0; n < READ_BATCH && !c->dead && !c->closing; n++) {
        int fds[AGNOCAST_PROTO_FDS_MAX];
        int nfds = AGNOCAST_PROTO_FDS_MAX, has_cred = 0;
        struct ucred cred;
        ssize_t len = agnocast_proto_recv_cred(c->fd, recv_buf.bytes, sizeof(recv_buf.bytes), fds,
                                               &nfds, &cred, &has_cred);
        if (len == -EAGAIN || len == -EINTR)
            return;
        if (len == 0) {
            g_debug("client pid %d closed its connection", (int)c->pid);
            client_close(c);
            return;
        }
        if (len < 0) {
            if (len == -EMSGSIZE)
                client_drop(c, "it sent a frame over %d bytes", AGNOCAST_PROTO_FRAME_MAX);
            else if (len == -ECONNRESET)
                client_close(c);
            else
                client_drop(c, "cannot receive from it: %s", g_strerror((int)-len));
            return;
        }
        c->frame_cred = has_cred != 0;
        c->frame_pid = has_cred ? cred.pid : 0;
        if (c->refused)
            answer_refused(c, recv_buf.bytes, (size_t)len);
        else
            dispatch_frame(c, recv_buf.bytes, (size_t)len, fds, nfds);
        close_fds(fds, nfds);
    }
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    flush(arg);
}

static void close_cb(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;

    if (c->refused && !c->closing && !c->dead)
        answer_refused(c, NULL, 0); /* it sent nothing in time: tell it unasked */
    else
        client_close(c);
}

static guint uid_conns(struct broker *b, uid_t uid)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(b->uid_conns, GUINT_TO_POINTER(uid)));
}

static void uid_conns_set(struct broker *b, uid_t uid, guint n)
{
    if (n == 0)
        g_hash_table_remove(b->uid_conns, GUINT_TO_POINTER(uid));
    else
        g_hash_table_insert(b->uid_conns, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(n));
}

static void client_destroy(struct client *c)
{
    if (c->refused)
        c->broker->refused--;
    else
        uid_conns_set(c->broker, c->uid, uid_conns(c->broker, c->uid) - 1);
    g_hash_table_remove(c->broker->clients, c);
    event_free(c->ev_read);
    event_free(c->ev_write);
    event_free(c->ev_close);
    release_queue(c);
    close(c->fd);
    g_free(c->groups);
    g_free(c->refused_why);
    g_free(c);
}

void client_close(struct client *c)
{
    struct reg_process *proc = c->proc;

    /* Out of every table first, so the clean-up sends nothing to this connection. */
    c->dead = true;
    c->proc = NULL;
    g_hash_table_remove(c->broker->clients, c);
    if (proc != NULL)
        cleanup_process_leave(c->broker, proc, c);
    client_destroy(c);
}

void client_free(struct client *c)
{
    client_destroy(c);
}

bool client_pid_connected(struct broker *b, pid_t pid, const struct client *except)
{
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init(&it, b->clients);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        const struct client *o = key;
        if (o != except && o->pid == pid && !o->dead)
            return true;
    }
    return false;
}

/*
 * Refuses `c` (already counted as open): it no longer counts towards the limits, and its first
 * frame is answered with ERROR `code` and `why` (taken), then it closes.
 */
static void refuse(struct client *c, int code, char *why)
{
    struct broker *b = c->broker;

    uid_conns_set(b, c->uid, uid_conns(b, c->uid) - 1);
    b->refused++;
    c->refused = code;
    c->refused_why = why;
    if (b->refused > REFUSED_MAX) {
        answer_refused(c, NULL, 0); /* too many waiting: no more time for this one */
        return;
    }
    event_add(c->ev_read, NULL);
    schedule_close(c, REFUSED_WAIT_SECONDS);
}

struct client *client_attach(struct broker *b, int fd, pid_t pid, uid_t uid, gid_t gid)
{
    struct client *c = g_new0(struct client, 1);
    guint same_uid;

    c->broker = b;
    c->fd = fd;
    c->pid = pid;
    c->uid = uid;
    c->gid = gid;
    g_queue_init(&c->out);
    c->ev_read = event_new(b->base, fd, EV_READ | EV_PERSIST, read_cb, c);
    c->ev_write = event_new(b->base, fd, EV_WRITE | EV_PERSIST, write_cb, c);
    c->ev_close = evtimer_new(b->base, close_cb, c);
    g_hash_table_add(b->clients, c);
    same_uid = uid_conns(b, uid) + 1;
    uid_conns_set(b, uid, same_uid);
    if (g_hash_table_size(b->clients) - b->refused > b->cfg.max_clients) {
        g_warning("refusing a connection from pid %d (uid %u): %u clients already (--max-clients)",
                  (int)c->pid, (unsigned)c->uid, b->cfg.max_clients);
        refuse(c, -EUSERS,
               g_strdup_printf("the broker serves at most %u clients (--max-clients) and has "
                               "that many; retry later or raise --max-clients",
                               b->cfg.max_clients));
        return c;
    }
    /* Root too: a runaway process of any user must not starve the others of connections. */
    if (same_uid > b->cfg.max_connections_per_uid) {
        g_warning("refusing a connection from pid %d (uid %u): that uid has %u open already "
                  "(--max-connections-per-uid)",
                  (int)c->pid, (unsigned)c->uid, b->cfg.max_connections_per_uid);
        refuse(c, -EUSERS,
               g_strdup_printf("uid %u already has %u connections to the broker, the most "
                               "--max-connections-per-uid allows; close some or raise "
                               "--max-connections-per-uid",
                               (unsigned)c->uid, b->cfg.max_connections_per_uid));
        return c;
    }
    g_debug("connection from pid %d (uid %u)", (int)c->pid, (unsigned)c->uid);
    event_add(c->ev_read, NULL);
    return c;
}

void client_set_groups(struct client *c, const gid_t *groups, size_t n)
{
    g_free(c->groups);
    c->groups = n > 0 ? g_new(gid_t, n) : NULL;
    if (n > 0)
        memcpy(c->groups, groups, n * sizeof(gid_t));
    c->ngroups = n;
}

/*
 * The peer's supplementary groups as the kernel recorded them at connect (SO_PEERGROUPS), for
 * the access rules' @group names. Returns how many, or a negative errno; *out is g_free'd.
 */
static int peer_groups(int fd, gid_t **out)
{
    socklen_t len = 64 * sizeof(gid_t);

    /* ERANGE says how much room the list needs; it cannot change, so two tries suffice. */
    for (int tries = 0; tries < 3; tries++) {
        gid_t *g = g_malloc(len > 0 ? len : sizeof(gid_t));
        socklen_t got = len;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &got) == 0) {
            *out = g;
            return (int)(got / sizeof(gid_t));
        }
        g_free(g);
        if (errno != ERANGE)
            return -errno;
        len = got;
    }
    return -ERANGE;
}

void client_accept(int fd, void *arg)
{
    static bool warned;
    struct broker *b = arg;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct client *c;
    gid_t *groups = NULL;
    int n;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
        g_warning("cannot read the credentials of a new connection: %s", g_strerror(errno));
        close(fd);
        return;
    }
    /* From now on every frame carries its sender's pid (session_register compares them). */
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &(int){1}, sizeof(int)) < 0) {
        g_warning("cannot turn on SO_PASSCRED on a new connection: %s", g_strerror(errno));
        close(fd);
        return;
    }
    n = peer_groups(fd, &groups);
    if (n < 0 && !warned) {
        /* Fails closed: a rule naming @group then matches only peers with that primary group. */
        g_warning("cannot read the supplementary groups of connections (SO_PEERGROUPS, Linux "
                  "4.13): %s; access rules see only each peer's primary group",
                  g_strerror(-n));
        warned = true;
    }
    c = client_attach(b, fd, cred.pid, cred.uid, cred.gid);
    c->check_sender = true;
    if (n > 0)
        client_set_groups(c, groups, (size_t)n);
    g_free(groups);
}
