/*
 * Wake channels: how a publisher wakes a sleeping subscriber process, and how a subscriber
 * sleeps on all of its publishers at once.
 *
 * Each publisher process P that a subscriber process S reads gets its own AF_UNIX datagram
 * socket pair. P keeps the sending end and writes one byte per publish with MSG_DONTWAIT; S
 * gets the receiving end through the broker (HAND_WAKE, NOTICE_WAKE_ADDED) and keeps it in its
 * wake set, an epoll instance that also holds S's own eventfd (wake-ups from S itself: stop,
 * its own publishers, notices). The wake set is agnocast_context_fd().
 *
 * Why not the subscriber's eventfd, handed to every publisher (the seed's shape): O_NONBLOCK
 * belongs to the open file description, which the eventfd's owner shares with everyone it is
 * handed to. A subscriber that cleared it and filled the counter blocked its publishers'
 * write() for good; a publisher could do the same to the other publishers. Here the flag that
 * matters is per call (MSG_DONTWAIT), the sending end never leaves its publisher, and each
 * pair is private to two processes: a stuck or hostile subscriber makes only the wake-ups to
 * itself fail (EAGAIN: it has unread ones anyway), a hostile publisher can only break its own
 * channel (docs/security.md).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agnocast-internal.h"

#define DRAIN_BATCH 32

void agn_wake(struct agnocast_context *ctx, struct agn_peer *peer)
{
    static const char byte = 1;
    uint64_t one = 1;

    if (peer == NULL) {
        /* Our own eventfd: nobody else holds it, so it is non-blocking for good. EAGAIN: the
         * counter is saturated, we are awake anyway. */
        (void)!write(ctx->doorbell, &one, sizeof(one));
        return;
    }
    /* EAGAIN: its queue is full, it has wake-ups to read; ECONNREFUSED, EPIPE: it is gone. */
    if (peer->wake_tx >= 0)
        (void)!send(peer->wake_tx, &byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * What an epoll event of the wake set names: 0 the doorbell, else a peer slot (+1) and the
 * generation of its channel. Not the descriptor itself: the control thread may close a peer's
 * channel between epoll_wait() and the drain, and its number may already belong to another
 * descriptor (the broker socket, say), which a drain must never read from.
 */
static uint64_t wake_tag(struct agnocast_context *ctx, struct agn_peer *peer)
{
    return ((uint64_t)peer->wake_gen << 32) | (uint64_t)(peer - ctx->peers + 1);
}

/* Empties one wake channel: a bounded number of datagrams per call, so a peer flooding it
 * cannot keep us here (what is left keeps the channel readable for the next look). Under
 * ctx->lock, so the channel cannot be closed meanwhile. */
static void drain_one(struct agnocast_context *ctx, uint64_t tag)
{
    static _Thread_local char bytes[DRAIN_BATCH];
    static _Thread_local struct mmsghdr msgs[DRAIN_BATCH];
    static _Thread_local struct iovec iov[DRAIN_BATCH];
    uint64_t count, slot = tag & 0xffffffffu;
    struct agn_peer *peer;

    if (tag == 0) {
        (void)!read(ctx->doorbell, &count, sizeof(count));
        return;
    }
    if (slot > AGN_MAX_PEERS)
        return;
    peer = &ctx->peers[slot - 1];
    if (!peer->in_use || peer->wake_rx < 0 || peer->wake_gen != (uint32_t)(tag >> 32))
        return; /* closed since: nothing to drain */
    for (int i = 0; i < DRAIN_BATCH; i++) {
        iov[i] = (struct iovec){.iov_base = &bytes[i], .iov_len = 1};
        msgs[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1};
    }
    (void)!recvmmsg(peer->wake_rx, msgs, DRAIN_BATCH, MSG_DONTWAIT, NULL);
}

int agn_wake_drain(struct agnocast_context *ctx, const struct epoll_event *ready, int nready)
{
    struct epoll_event ev[16];

    if (ready == NULL) {
        nready = epoll_wait(ctx->wake_set, ev, 16, 0);
        if (nready < 0)
            return errno == EINTR ? 0 : -errno;
        ready = ev;
    }
    if (nready == 1 && ready[0].data.u64 == 0) {
        drain_one(ctx, 0); /* only our own doorbell: no lock needed */
        return 0;
    }
    pthread_mutex_lock(&ctx->lock);
    for (int i = 0; i < nready; i++)
        drain_one(ctx, ready[i].data.u64);
    pthread_mutex_unlock(&ctx->lock);
    return 0;
}

void agn_wake_added(struct agnocast_context *ctx, pid_t pid, int fd)
{
    struct agn_peer *peer = agn_peer_find(ctx, pid);
    struct epoll_event ev = {.events = EPOLLIN};
    int type = 0;
    socklen_t len = sizeof(type);

    /* The broker checked it; a datagram socket is all this code can safely drain. */
    if (peer == NULL || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
        type != SOCK_DGRAM) {
        close(fd);
        return;
    }
    if (peer->wake_rx >= 0)
        close(peer->wake_rx); /* closing it takes it out of the wake set */
    peer->wake_rx = fd;
    peer->wake_gen = ++ctx->wake_gens;
    ev.data.u64 = wake_tag(ctx, peer);
    if (epoll_ctl(ctx->wake_set, EPOLL_CTL_ADD, fd, &ev) < 0) {
        agn_log(AGNOCAST_LOG_WARNING, "cannot watch the wake channel of process %d: %s",
                (int)pid, strerror(errno));
        close(fd);
        peer->wake_rx = -1;
    }
}

/*
 * Opens our wake channel to subscriber process `peer` (once per peer): keeps the sending end
 * and hands the receiving end to the broker for it. Under ctx->lock, on the control thread;
 * the frame goes out without waiting for the reply (the broker's OK is dropped on arrival).
 */
void agn_wake_open(struct agnocast_context *ctx, struct agn_peer *peer)
{
    struct agnocast_wire_notice_process req = {.pid = (uint32_t)peer->pid};
    union {
        uint64_t align;
        unsigned char bytes[64];
    } out;
    ssize_t len;
    int sv[2], r;

    if (peer->wake_tx >= 0)
        return;
    if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        agn_log(AGNOCAST_LOG_WARNING, "cannot make a wake channel to process %d: %s",
                (int)peer->pid, strerror(errno));
        return;
    }
    len = agnocast_proto_encode(out.bytes, sizeof(out.bytes), AGNOCAST_MSG_HAND_WAKE, UINT32_MAX,
                                &req, sizeof(req));
    r = len < 0 ? (int)len : agnocast_proto_send(ctx->sock, out.bytes, (size_t)len, &sv[1], 1);
    close(sv[1]);
    if (r < 0) {
        /* The broker is away: re-registration opens it again (wake_tx stays -1). */
        agn_log(AGNOCAST_LOG_DEBUG, "cannot hand the wake channel for process %d to the broker: %s",
                (int)peer->pid, strerror(-r));
        close(sv[0]);
        return;
    }
    peer->wake_tx = sv[0];
}
