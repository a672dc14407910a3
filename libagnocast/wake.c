/*
 * Wake channels: how a publisher wakes a sleeping subscriber process, and how a subscriber
 * sleeps on all of its publishers at once.
 *
 * Each publisher process P that a subscriber process S reads gets its own pipe. P keeps the
 * write end (non-blocking) and writes one byte per publish; S gets the read end through the broker
 * (HAND_WAKE, NOTICE_WAKE_ADDED) and keeps it in its wake set, an epoll instance that also holds
 * S's own eventfd (wake-ups from S itself: stop, its own publishers, notices). The wake set is
 * agnocast_context_fd().
 *
 * Why not the subscriber's eventfd, handed to every publisher (the seed's shape): O_NONBLOCK
 * belongs to the open file description, which the eventfd's owner shares with everyone it is
 * handed to. A subscriber that cleared it and filled the counter blocked its publishers'
 * write() for good; a publisher could do the same to the other publishers. A pipe's two ends
 * are two open file descriptions: the write end, and with it its O_NONBLOCK, never leaves its
 * publisher, and each pipe is private to two processes. A stuck or hostile subscriber makes
 * only the wake-ups to itself fail (EAGAIN: it has 64 KiB of unread ones), a hostile publisher
 * can only break its own channel (docs/security.md). An AF_UNIX datagram pair with
 * MSG_DONTWAIT, tried first, was as safe and slower (docs/design.md has both figures).
 */
#include "wake.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "context.h"
#include "log.h"
#include "peer.h"

void agn_wake(struct agnocast_context *ctx, struct agn_peer *peer)
{
    static const char byte = 1;
    uint64_t one = 1;

    if (peer == NULL) {
        /* Our own eventfd: nobody else holds it, so it is non-blocking for good. EAGAIN: the
         * counter is saturated, we are awake anyway. */
        (void)!write(ctx->wake.doorbell, &one, sizeof(one));
        return;
    }
    /* Our own non-blocking write end. EAGAIN: the pipe is full, it has wake-ups to read. Never
     * EPIPE (nor SIGPIPE): we keep a read end ourselves (agn_wake_open). */
    if (peer->wake_tx >= 0)
        (void)!write(peer->wake_tx, &byte, 1);
}

/*
 * A process that busy-polls says so in its segment (shm-layout.h, `polling`) and looks at every
 * ring without being told: the write would cost us a system call per message for nothing.
 * The flag is read after the head store and a seq_cst fence; agnocast_context_set_busy_poll(0)
 * clears it, fences and rings its own doorbell, so a message whose wake-up we skipped is seen
 * (ring.c has the argument).
 */
void agn_wake_for_message(struct agnocast_context *ctx, struct agn_peer *peer)
{
    const struct agn_shm_view *view = peer ? &peer->view : &ctx->segment.view;

    if ((peer == NULL || peer->base != 0) && agn_shm_polling(view))
        return;
    agn_wake(ctx, peer);
}

/*
 * What an epoll event of the wake set names: AGN_WAKE_TAG_STOP the stop eventfd, 0 the doorbell,
 * else a peer slot (+1) and the generation of its channel. Not the descriptor itself: the control
 * thread may close a peer's channel between epoll_wait() and the drain, and its number may already
 * belong to another descriptor (the broker socket, say), which a drain must never read from.
 */
static uint64_t wake_tag(struct agnocast_context *ctx, struct agn_peer *peer)
{
    return ((uint64_t)peer->wake_gen << 32) | (uint64_t)(peer - ctx->peers + 1);
}

/* Reads what a peer's wake channel holds, never blocking: the publisher shares the read end's
 * open file description and may have made it blocking. RWF_NOWAIT does not block whatever the
 * description says (pipes since Linux 5.8); on a kernel that refuses it (remembered, so the
 * refusal costs one call per context), FIONREAD counts what is there (only lock holders read
 * the channel, so the count stays) and a read takes that, a system call more per wake-up.
 * Returns the bytes read, 0 when the publisher closed its end and nothing is left, -1 when
 * nothing is there. Under ctx->lock. */
static ssize_t read_available(struct agnocast_context *ctx, int fd, uint32_t events)
{
    char bytes[256];
    struct iovec iov = {.iov_base = bytes, .iov_len = sizeof(bytes)};
    int avail = 0;

    if (!ctx->wake.no_nowait) {
        ssize_t n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
        if (n >= 0 || (errno != EOPNOTSUPP && errno != EINVAL))
            return n;
        ctx->wake.no_nowait = true;
    }
    if (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0)
        return read(fd, bytes, avail < (int)sizeof(bytes) ? (size_t)avail : sizeof(bytes));
    return events & (EPOLLHUP | EPOLLERR) ? 0 : -1;
}

bool agn_wake_events_name(const struct agnocast_context *ctx, const struct agn_peer *peer,
                          const struct epoll_event *ev, int n)
{
    uint64_t want = peer ? (uint64_t)(peer - ctx->peers + 1) : 0;

    for (int i = 0; i < n; i++)
        if (ev[i].data.u64 != AGN_WAKE_TAG_STOP && (ev[i].data.u64 & 0xffffffffu) == want)
            return true;
    return false;
}

/* Empties one wake channel: one bounded read per call, so a peer flooding it cannot keep us
 * here (what is left keeps the channel readable for the next look). Under ctx->lock, so the
 * channel cannot be closed meanwhile. */
static void drain_one(struct agnocast_context *ctx, uint64_t tag, uint32_t events)
{
    uint64_t count, slot = tag & 0xffffffffu;
    struct agn_peer *peer;

    if (tag == 0 || tag == AGN_WAKE_TAG_STOP) {
        (void)!read(tag == 0 ? ctx->wake.doorbell : ctx->wake.stop_fd, &count, sizeof(count));
        return;
    }
    if (slot > AGN_MAX_PEERS)
        return;
    peer = &ctx->peers[slot - 1];
    if (!peer->in_use || peer->wake_rx < 0 || peer->wake_gen != (uint32_t)(tag >> 32))
        return; /* closed since: nothing to drain */
    if (read_available(ctx, peer->wake_rx, events) == 0) {
        /* Its publisher closed its end (left, or let us go) and nothing is left to read: a pipe
         * with no writer stays ready for ever, which would keep every wait from sleeping. */
        close(peer->wake_rx); /* which also takes it out of the wake set */
        peer->wake_rx = -1;
    }
}

int agn_wake_drain(struct agnocast_context *ctx, const struct epoll_event *ready, int nready)
{
    struct epoll_event ev[16];

    if (ready == NULL) {
        nready = epoll_wait(ctx->wake.set, ev, 16, 0);
        if (nready < 0)
            return errno == EINTR ? 0 : -errno;
        ready = ev;
    }
    if (nready == 1 && (ready[0].data.u64 == 0 || ready[0].data.u64 == AGN_WAKE_TAG_STOP)) {
        /* only our own eventfds: no lock needed */
        drain_one(ctx, ready[0].data.u64, ready[0].events);
        return 0;
    }
    agn_lock(&ctx->lock);
    for (int i = 0; i < nready; i++)
        drain_one(ctx, ready[i].data.u64, ready[i].events);
    agn_unlock(&ctx->lock);
    return 0;
}

void agn_wake_added(struct agnocast_context *ctx, pid_t pid, int fd)
{
    struct agn_peer *peer = agn_peer_find(ctx, pid);
    struct epoll_event ev = {.events = EPOLLIN};
    struct stat st;
    int fl = fcntl(fd, F_GETFL);

    /* The broker checked it: the read end of a pipe (drain_one reads only what is there). */
    if (peer == NULL || fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || fl < 0 ||
        (fl & O_ACCMODE) != O_RDONLY) {
        close(fd);
        return;
    }
    if (peer->wake_rx >= 0)
        close(peer->wake_rx); /* closing it takes it out of the wake set */
    peer->wake_rx = fd;
    peer->wake_gen = ++ctx->wake.gens;
    ev.data.u64 = wake_tag(ctx, peer);
    if (epoll_ctl(ctx->wake.set, EPOLL_CTL_ADD, fd, &ev) < 0) {
        agn_log(AGNOCAST_LOG_WARNING, "cannot watch the wake channel of process %d: %s", (int)pid,
                strerror(errno));
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
    /* sv[0] read end (handed over), sv[1] write end (kept): both non-blocking. */
    if (pipe2(sv, O_CLOEXEC | O_NONBLOCK) < 0) {
        agn_log(AGNOCAST_LOG_WARNING, "cannot make a wake channel to process %d: %s",
                (int)peer->pid, strerror(errno));
        return;
    }
    len = agnocast_proto_encode(out.bytes, sizeof(out.bytes), AGNOCAST_MSG_HAND_WAKE, UINT32_MAX,
                                &req, sizeof(req));
    r = len < 0 ? (int)len
                : agnocast_proto_send(ctx->broker.sock, out.bytes, (size_t)len, &sv[0], 1);
    if (r < 0) {
        close(sv[0]);
        /* The broker is away: re-registration opens it again (wake_tx stays -1). */
        agn_log(AGNOCAST_LOG_DEBUG, "cannot hand the wake channel for process %d to the broker: %s",
                (int)peer->pid, strerror(-r));
        close(sv[1]);
        return;
    }
    /* A write to a pipe with no reader left raises SIGPIPE, whose disposition is the
     * application's: we keep a read end ourselves (never read), so a subscriber that dies or
     * closes its end only fills the pipe (EAGAIN) until we learn it is gone. */
    peer->wake_tx = sv[1];
    peer->wake_keep = sv[0];
}
