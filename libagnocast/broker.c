/* The connection to agnocastd: connect, handshake, requests and their replies. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agnocast-internal.h"

static int fail_connect(const char *path, int err)
{
    if (err == -EACCES || err == -EPERM)
        return agn_fail(err,
                        "permission denied on the broker socket %s: join the group that owns it "
                        "(`agnocast` for the system service) and log in again",
                        path);
    return agn_fail(err,
                    "no broker at %s (%s): start it with `systemctl start agnocastd` or "
                    "`agnocastd --socket %s &`, or point AGNOCAST_SOCKET at a running broker",
                    path, strerror(-err), path);
}

/* Reads the next frame synchronously (before the control thread runs). */
static ssize_t recv_sync(struct agnocast_context *ctx, void *buf, size_t cap, int *fds, int *nfds)
{
    struct pollfd pfd = {.fd = ctx->sock, .events = POLLIN};
    int r = poll(&pfd, 1, AGN_REQUEST_TIMEOUT_MS);

    if (r == 0)
        return -ETIMEDOUT;
    if (r < 0)
        return -errno;
    return agnocast_proto_recv(ctx->sock, buf, cap, fds, nfds);
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

    if (strlen(ctx->socket_path) >= sizeof(addr.sun_path))
        return agn_fail(-ENAMETOOLONG, "broker socket path %s is too long", ctx->socket_path);
    strcpy(addr.sun_path, ctx->socket_path);
    ctx->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (ctx->sock < 0)
        return agn_fail(-errno, "cannot create a socket: %s", strerror(errno));
    if (connect(ctx->sock, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        return fail_connect(ctx->socket_path, -errno);
    r = agn_broker_request(ctx, AGNOCAST_MSG_HELLO, &hello, sizeof(hello), NULL, 0, &reply);
    if (r == -EPROTONOSUPPORT)
        return agn_fail(r,
                        "the broker at %s speaks protocol version %u, this library version %u: "
                        "use a client and broker from the same release",
                        ctx->socket_path, reply.version, AGNOCAST_PROTO_VERSION);
    if (r < 0)
        return r;
    if (reply.kind != AGNOCAST_MSG_HELLO_REPLY)
        return agn_fail(-EPROTO, "unexpected reply %s to HELLO",
                        agnocast_proto_kind_name(reply.kind));
    return 0;
}

static int wait_reply(struct agnocast_context *ctx, uint32_t id)
{
    struct timespec deadline;
    int r = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += AGN_REQUEST_TIMEOUT_MS / 1000;
    pthread_mutex_lock(&ctx->reply_lock);
    while (!ctx->reply_ready && !ctx->broker_lost && r == 0)
        r = pthread_cond_timedwait(&ctx->reply_cond, &ctx->reply_lock, &deadline);
    if (ctx->reply_ready)
        r = ctx->reply_error;
    else if (ctx->broker_lost)
        r = -ENOTCONN;
    else
        r = -ETIMEDOUT;
    ctx->waiting_id = 0;
    pthread_mutex_unlock(&ctx->reply_lock);
    (void)id;
    return r;
}

int agn_broker_request(struct agnocast_context *ctx, uint16_t kind, const void *payload,
                       size_t len, const int *fds, int nfds, struct agnocast_frame *reply)
{
    union {
        uint64_t align;
        unsigned char bytes[1024];
    } out;
    ssize_t flen;
    uint32_t id;
    int r;

    if (ctx->broker_lost)
        return agn_fail(-ENOTCONN,
                        "the broker at %s is gone; publishers and subscriptions already set up "
                        "keep working, new ones need it back (`systemctl start agnocastd`)",
                        ctx->socket_path);
    pthread_mutex_lock(&ctx->request_lock);
    id = ++ctx->next_request_id;
    if (id == 0)
        id = ++ctx->next_request_id;
    flen = agnocast_proto_encode(out.bytes, sizeof(out.bytes), kind, id, payload, len);
    if (flen < 0) {
        pthread_mutex_unlock(&ctx->request_lock);
        return agn_fail((int)flen, "cannot encode %s", agnocast_proto_kind_name(kind));
    }
    pthread_mutex_lock(&ctx->reply_lock);
    ctx->waiting_id = id;
    ctx->reply_ready = false;
    pthread_mutex_unlock(&ctx->reply_lock);
    r = agnocast_proto_send(ctx->sock, out.bytes, (size_t)flen, fds, nfds);
    if (r < 0) {
        pthread_mutex_unlock(&ctx->request_lock);
        return agn_fail(r, "cannot send %s to the broker at %s: %s",
                        agnocast_proto_kind_name(kind), ctx->socket_path, strerror(-r));
    }
    if (ctx->thread_started) {
        r = wait_reply(ctx, id);
    } else {
        /* Start-up: nothing else reads the socket yet. */
        for (;;) {
            int nfd = 0;
            ssize_t n = recv_sync(ctx, ctx->reply.bytes, sizeof(ctx->reply.bytes), NULL, &nfd);
            struct agnocast_frame f;
            if (n <= 0) {
                r = n == 0 ? -ECONNRESET : (int)n;
                break;
            }
            r = agnocast_proto_decode(ctx->reply.bytes, (size_t)n, &f);
            if ((r == 0 || r == -EPROTONOSUPPORT) && f.request_id == id) {
                ctx->reply_len = (size_t)n;
                break;
            }
            if (r < 0)
                break;
        }
    }
    if (r == 0 || r == -EPROTONOSUPPORT) {
        int d = agnocast_proto_decode(ctx->reply.bytes, ctx->reply_len, reply);
        if (d == -EPROTONOSUPPORT || (d == 0 && reply->kind == AGNOCAST_MSG_ERROR &&
                                      ((const struct agnocast_wire_error *)reply->payload)->code ==
                                          -EPROTONOSUPPORT)) {
            if (d == 0)
                reply->version =
                    ((const struct agnocast_wire_error *)reply->payload)->version;
            r = -EPROTONOSUPPORT;
        } else if (d < 0) {
            r = agn_fail(d, "malformed reply from the broker");
        } else {
            r = reply_error(reply);
        }
    } else if (r == -ETIMEDOUT) {
        agn_fail(r, "the broker at %s did not answer %s within %d ms", ctx->socket_path,
                 agnocast_proto_kind_name(kind), AGN_REQUEST_TIMEOUT_MS);
    } else {
        agn_fail(r, "lost the broker at %s during %s: %s", ctx->socket_path,
                 agnocast_proto_kind_name(kind), strerror(-r));
    }
    pthread_mutex_unlock(&ctx->request_lock);
    return r;
}

static void deliver_reply(struct agnocast_context *ctx, const void *buf, size_t len, uint32_t id)
{
    pthread_mutex_lock(&ctx->reply_lock);
    if (ctx->waiting_id == id && !ctx->reply_ready) {
        memcpy(ctx->reply.bytes, buf, len);
        ctx->reply_len = len;
        ctx->reply_error = 0;
        ctx->reply_ready = true;
        pthread_cond_broadcast(&ctx->reply_cond);
    }
    pthread_mutex_unlock(&ctx->reply_lock);
}

int agn_broker_read(struct agnocast_context *ctx)
{
    static _Thread_local union agnocast_frame_buffer in;
    struct agnocast_frame f;
    int fds[AGNOCAST_PROTO_FDS_MAX];
    int nfds = AGNOCAST_PROTO_FDS_MAX;
    ssize_t n = agnocast_proto_recv(ctx->sock, in.bytes, sizeof(in.bytes), fds, &nfds);
    int r;

    if (n == -EAGAIN || n == -EINTR)
        return 0;
    if (n <= 0) {
        pthread_mutex_lock(&ctx->reply_lock);
        ctx->broker_lost = true;
        pthread_cond_broadcast(&ctx->reply_cond);
        pthread_mutex_unlock(&ctx->reply_lock);
        agn_log(AGNOCAST_LOG_WARNING,
                "lost the broker at %s; established publishers and subscriptions keep working",
                ctx->socket_path);
        return n == 0 ? -ECONNRESET : (int)n;
    }
    r = agnocast_proto_decode(in.bytes, (size_t)n, &f);
    if (r == 0 && f.request_id != 0) {
        if (f.kind == AGNOCAST_MSG_OK) {
            pthread_mutex_lock(&ctx->lock);
            if (ctx->pending_pub)
                ctx->pending_pub->registered = true;
            pthread_mutex_unlock(&ctx->lock);
        }
        deliver_reply(ctx, in.bytes, (size_t)n, f.request_id);
    } else if (r == -EPROTONOSUPPORT && f.request_id != 0) {
        deliver_reply(ctx, in.bytes, (size_t)n, f.request_id);
    } else if (r == 0) {
        pthread_mutex_lock(&ctx->lock);
        agn_notice_handle(ctx, &f, nfds > 0 ? fds[0] : -1);
        pthread_mutex_unlock(&ctx->lock);
        nfds = nfds > 0 ? nfds - 1 : 0; /* the notice took the first descriptor */
        for (int i = 0; i < nfds; i++)
            close(fds[i + 1]);
        return 0;
    } else {
        agn_log(AGNOCAST_LOG_WARNING, "dropping a malformed frame from the broker");
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    return 0;
}
