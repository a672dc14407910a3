/* The connection to agnocastd: connect, handshake, requests and their replies. */
#include "broker.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context.h"
#include "log.h"

/* The name of group `gid` from /etc/group, without NSS: this library must not allocate (it may
 * run inside malloc under the heap hook). "gid N" when it is not there. */
static void group_name(gid_t gid, char *out, size_t cap)
{
    char buf[16384]; /* not thread-local: the static TLS must stay small (log.c) */
    int fd = open("/etc/group", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

    if (fd >= 0)
        close(fd);
    snprintf(out, cap, "gid %u", (unsigned)gid);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (char *line = buf; line;) {
        char *next = strchr(line, '\n'), *c1, *c2;
        if (next)
            *next++ = '\0';
        c1 = strchr(line, ':');
        c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c1 && c2 && strtoul(c2 + 1, NULL, 10) == gid && c2[1] >= '0' && c2[1] <= '9') {
            size_t len = (size_t)(c1 - line) < cap - 1 ? (size_t)(c1 - line) : cap - 1;
            memcpy(out, line, len);
            out[len] = '\0';
            return;
        }
        line = next;
    }
}

static int fail_connect(const char *path, int err)
{
    struct stat st;
    char group[64];

    if (err == -EACCES || err == -EPERM) {
        char dir[108];
        const char *slash = strrchr(path, '/');
        size_t n = slash && slash > path ? (size_t)(slash - path) : 1;
        /* The socket, or the directory that keeps us from it: whose group lets one in. */
        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        if (stat(path, &st) < 0 && stat(dir, &st) < 0)
            return agn_fail(err,
                            "permission denied on the broker socket %s or its directory: ask "
                            "its owner to let you in (the system service's group is "
                            "`agnocast`), then log in again",
                            path);
        group_name(st.st_gid, group, sizeof(group));
        return agn_fail(err,
                        "permission denied on the broker socket %s: it belongs to the group "
                        "`%s`; join it (`sudo usermod -aG %s $USER`) and log in again",
                        path, group, group);
    }
    return agn_fail(err,
                    "no broker at %s (%s): start it with `systemctl start agnocastd` or "
                    "`agnocastd --socket %s &`, or point AGNOCAST_SOCKET at a running broker",
                    path, strerror(-err), path);
}

/* Reads the next frame synchronously (before the control thread runs). */
static ssize_t recv_sync(struct agnocast_context *ctx, void *buf, size_t cap, int *fds, int *nfds)
{
    struct pollfd pfd = {.fd = ctx->broker.sock, .events = POLLIN};
    int r = poll(&pfd, 1, AGN_REQUEST_TIMEOUT_MS);

    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    return agnocast_proto_recv(ctx->broker.sock, buf, cap, fds, nfds);
}

static int reply_error(const struct agnocast_frame *f)
{
    const struct agnocast_wire_error *e = f->payload;

    if (f->kind != AGNOCAST_MSG_ERROR)
        return 0;
    return agn_fail(e->code < 0 ? e->code : -EPROTO, "the broker refused: %s", e->message);
}

int agn_broker_connect(struct agnocast_context *ctx)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct agnocast_wire_hello hello = {0};
    struct agnocast_frame reply;
    int r;

    if (strlen(ctx->broker.socket_path) >= sizeof(addr.sun_path))
        return agn_fail(-ENAMETOOLONG, "broker socket path %s is too long",
                        ctx->broker.socket_path);
    strcpy(addr.sun_path, ctx->broker.socket_path);
    if (ctx->broker.sock >= 0)
        close(ctx->broker.sock);
    ctx->broker.sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (ctx->broker.sock < 0)
        return agn_fail(-errno, "cannot create a socket: %s", strerror(errno));
    if (connect(ctx->broker.sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return fail_connect(ctx->broker.socket_path, -errno);
    r = agn_broker_request(ctx, AGNOCAST_MSG_HELLO, &hello, sizeof(hello), NULL, 0, &reply);
    if (r == -EPROTONOSUPPORT)
        return agn_fail(r,
                        "the broker at %s speaks protocol version %u, this library version %u: "
                        "use a client and broker from the same release",
                        ctx->broker.socket_path, reply.version, AGNOCAST_PROTO_VERSION);
    if (r < 0)
        return r;
    if (reply.kind != AGNOCAST_MSG_HELLO_REPLY)
        return agn_fail(-EPROTO, "unexpected reply %s to HELLO",
                        agnocast_proto_kind_name(reply.kind));
    return 0;
}

static int wait_reply(struct agnocast_context *ctx)
{
    struct timespec deadline;
    int r = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += AGN_REQUEST_TIMEOUT_MS / 1000;
    agn_lock(&ctx->broker.reply_lock);
    while (!ctx->broker.reply_ready && !ctx->broker.lost && r == 0)
        r = pthread_cond_timedwait(&ctx->broker.reply_cond, &ctx->broker.reply_lock, &deadline);
    if (ctx->broker.reply_ready)
        r = 0;
    else if (ctx->broker.lost)
        r = -ENOTCONN;
    else
        r = -ETIMEDOUT;
    ctx->broker.waiting_id = 0;
    agn_unlock(&ctx->broker.reply_lock);
    return r;
}

int agn_broker_request(struct agnocast_context *ctx, uint16_t kind, const void *payload, size_t len,
                       const int *fds, int nfds, struct agnocast_frame *reply)
{
    union {
        uint64_t align;
        unsigned char bytes[1024];
    } out;
    ssize_t flen;
    uint32_t id;
    int r;
    /* The control thread reads the socket itself: before it runs, and when it re-registers. */
    bool on_control = ctx->control.started && pthread_equal(pthread_self(), ctx->control.thread);
    bool sync = !ctx->control.started || on_control;

    if (ctx->broker.lost && !on_control)
        return agn_fail(-ENOTCONN,
                        "the broker at %s is gone; publishers and subscriptions already set up "
                        "keep working, new ones need it back (`systemctl start agnocastd`)",
                        ctx->broker.socket_path);
    agn_lock(&ctx->broker.request_lock);
    id = ++ctx->broker.next_request_id;
    if (id == 0)
        id = ++ctx->broker.next_request_id;
    flen = agnocast_proto_encode(out.bytes, sizeof(out.bytes), kind, id, payload, len);
    if (flen < 0) {
        agn_unlock(&ctx->broker.request_lock);
        return agn_fail((int)flen, "cannot encode %s", agnocast_proto_kind_name(kind));
    }
    agn_lock(&ctx->broker.reply_lock);
    ctx->broker.waiting_id = id;
    ctx->broker.reply_ready = false;
    agn_unlock(&ctx->broker.reply_lock);
    r = agnocast_proto_send(ctx->broker.sock, out.bytes, (size_t)flen, fds, nfds);
    if (r < 0) {
        agn_unlock(&ctx->broker.request_lock);
        return agn_fail(r, "cannot send %s to the broker at %s: %s", agnocast_proto_kind_name(kind),
                        ctx->broker.socket_path, strerror(-r));
    }
    if (!sync) {
        r = wait_reply(ctx);
    } else {
        for (;;) {
            int in_fds[AGNOCAST_PROTO_FDS_MAX], nfd = AGNOCAST_PROTO_FDS_MAX;
            ssize_t n = recv_sync(ctx, ctx->broker.reply.bytes, sizeof(ctx->broker.reply.bytes),
                                  in_fds, &nfd);
            struct agnocast_frame f;
            if (n <= 0) {
                r = n == 0 ? -ECONNRESET : (int)n;
                break;
            }
            r = agnocast_proto_decode(ctx->broker.reply.bytes, (size_t)n, &f);
            if ((r == 0 || r == -EPROTONOSUPPORT) && f.request_id == id) {
                for (int i = 0; i < nfd; i++)
                    close(in_fds[i]);
                ctx->broker.reply_len = (size_t)n;
                break;
            }
            if (r == 0 && f.request_id == 0) {
                /* A notice in between (re-registration makes the broker send them). */
                ctx->broker.on_notice(ctx, &f, in_fds, nfd);
                for (int i = 0; i < nfd; i++)
                    if (in_fds[i] >= 0)
                        close(in_fds[i]);
                continue;
            }
            for (int i = 0; i < nfd; i++)
                close(in_fds[i]);
            if (r < 0)
                break;
        }
    }
    if (r == 0 || r == -EPROTONOSUPPORT) {
        int d = agnocast_proto_decode(ctx->broker.reply.bytes, ctx->broker.reply_len, reply);
        if (d == -EPROTONOSUPPORT ||
            (d == 0 && reply->kind == AGNOCAST_MSG_ERROR &&
             ((const struct agnocast_wire_error *)reply->payload)->code == -EPROTONOSUPPORT)) {
            if (d == 0)
                reply->version = ((const struct agnocast_wire_error *)reply->payload)->version;
            r = -EPROTONOSUPPORT;
        } else if (d < 0) {
            r = agn_fail(d, "malformed reply from the broker");
        } else {
            r = reply_error(reply);
        }
    } else if (r == -ETIMEDOUT) {
        agn_fail(r, "the broker at %s did not answer %s within %d ms", ctx->broker.socket_path,
                 agnocast_proto_kind_name(kind), AGN_REQUEST_TIMEOUT_MS);
    } else {
        agn_fail(r, "lost the broker at %s during %s: %s", ctx->broker.socket_path,
                 agnocast_proto_kind_name(kind), strerror(-r));
    }
    agn_unlock(&ctx->broker.request_lock);
    return r;
}

int agn_broker_register(struct agnocast_context *ctx, uint64_t pool_size, uint64_t want_base,
                        uint32_t flags, uint64_t *base, uint64_t *size)
{
    struct agnocast_wire_register req = {.pool_size = pool_size, .want_base = want_base};
    const struct agnocast_wire_register_reply *rr;
    struct agnocast_frame reply;
    int r;

    req.flags = flags;
    r = agn_broker_request(ctx, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0, &reply);
    if (r < 0)
        return r;
    if (reply.kind != AGNOCAST_MSG_REGISTER_REPLY)
        return agn_fail(-EPROTO, "unexpected reply %s to REGISTER_PROCESS",
                        agnocast_proto_kind_name(reply.kind));
    rr = reply.payload;
    if (rr->pid == 0)
        return agn_fail(-EPROTO, "the broker's REGISTER_REPLY names no process");
    /* Our id everywhere (registries, accepted_pids, notices) is the broker's word: in another
     * PID namespace getpid() means nothing to our peers. It cannot change once a segment says it.
     */
    if (ctx->segment.header && (pid_t)rr->pid != ctx->pid)
        return agn_fail(-EPROTO,
                        "the broker knows this process as %u, but it registered as %d before: a "
                        "broker in another PID namespace cannot take over",
                        rr->pid, (int)ctx->pid);
    ctx->pid = (pid_t)rr->pid;
    *base = rr->base;
    *size = rr->size;
    return 0;
}

int agn_broker_attach(struct agnocast_context *ctx, uint32_t area, uint64_t base, uint64_t size,
                      int fd)
{
    struct agnocast_wire_segment req = {.area = area, .base = base, .size = size};
    struct agnocast_frame reply;
    int r;

    r = agn_broker_request(ctx, AGNOCAST_MSG_ATTACH_SEGMENT, &req, sizeof(req), &fd, 1, &reply);
    if (r < 0)
        return r;
    if (reply.kind != AGNOCAST_MSG_OK)
        return agn_fail(-EPROTO, "unexpected reply %s to ATTACH_SEGMENT",
                        agnocast_proto_kind_name(reply.kind));
    return 0;
}

void agn_broker_report_occupied(struct agnocast_context *ctx)
{
    struct agnocast_wire_range pending[8];
    unsigned n;

    agn_lock(&ctx->lock);
    n = ctx->noccupied;
    memcpy(pending, ctx->occupied, n * sizeof(pending[0]));
    ctx->noccupied = 0;
    agn_unlock(&ctx->lock);
    for (unsigned i = 0; i < n; i++) {
        union {
            uint64_t align;
            unsigned char bytes[128];
        } out;
        /* Nobody waits for this id: the reply is dropped on arrival. */
        ssize_t len =
            agnocast_proto_encode(out.bytes, sizeof(out.bytes), AGNOCAST_MSG_REPORT_OCCUPIED,
                                  UINT32_MAX, &pending[i], sizeof(pending[i]));
        agn_log(AGNOCAST_LOG_WARNING,
                "cannot map process %u's pool at 0x%llx: the range is occupied in this process; "
                "its messages cannot reach us (told the broker)",
                pending[i].owner_pid, (unsigned long long)pending[i].base);
        if (len > 0)
            agnocast_proto_send(ctx->broker.sock, out.bytes, (size_t)len, NULL, 0);
    }
}

static void deliver_reply(struct agnocast_context *ctx, const void *buf, size_t len, uint32_t id)
{
    agn_lock(&ctx->broker.reply_lock);
    if (ctx->broker.waiting_id == id && !ctx->broker.reply_ready) {
        memcpy(ctx->broker.reply.bytes, buf, len);
        ctx->broker.reply_len = len;
        ctx->broker.reply_ready = true;
        pthread_cond_broadcast(&ctx->broker.reply_cond);
    }
    agn_unlock(&ctx->broker.reply_lock);
}

int agn_broker_read(struct agnocast_context *ctx)
{
    union agnocast_frame_buffer *in = &ctx->broker.in; /* only the control thread reads */
    struct agnocast_frame f;
    int fds[AGNOCAST_PROTO_FDS_MAX];
    int nfds = AGNOCAST_PROTO_FDS_MAX;
    ssize_t n = agnocast_proto_recv(ctx->broker.sock, in->bytes, sizeof(in->bytes), fds, &nfds);
    int r;

    if (n == -EAGAIN || n == -EINTR)
        return 0;
    if (n <= 0) {
        agn_lock(&ctx->broker.reply_lock);
        ctx->broker.lost = true;
        pthread_cond_broadcast(&ctx->broker.reply_cond);
        agn_unlock(&ctx->broker.reply_lock);
        agn_log(AGNOCAST_LOG_WARNING,
                "lost the broker at %s; established publishers and subscriptions keep working",
                ctx->broker.socket_path);
        return n == 0 ? -ECONNRESET : (int)n;
    }
    r = agnocast_proto_decode(in->bytes, (size_t)n, &f);
    if (r == 0 && f.request_id != 0) {
        deliver_reply(ctx, in->bytes, (size_t)n, f.request_id);
    } else if (r == -EPROTONOSUPPORT && f.request_id != 0) {
        deliver_reply(ctx, in->bytes, (size_t)n, f.request_id);
    } else if (r == 0) {
        ctx->broker.on_notice(ctx, &f, fds, nfds);
    } else {
        agn_log(AGNOCAST_LOG_WARNING, "dropping a malformed frame from the broker");
    }
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return 0;
}
