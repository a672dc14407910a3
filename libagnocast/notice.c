/* Control notices about peers, from the broker socket and from the own mqueue. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agnocast-internal.h"

/* Sends one announcement: NOTICE_PUBLISHER_ADDED on the subscriber process's mqueue (seed
 * flow 2). Never under ctx->lock: a full queue makes it wait up to a second. */
static void announce_send(const struct agn_announcement *a)
{
    union {
        uint64_t align;
        unsigned char bytes[512];
    } out;
    struct timespec deadline;
    char name[64];
    ssize_t len;
    mqd_t mq;

    len = agnocast_proto_encode(out.bytes, sizeof(out.bytes), AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED,
                                0, &a->notice, sizeof(a->notice));
    if (len < 0)
        return;
    snprintf(name, sizeof(name), AGN_MQ_NAME_FMT, (int)a->to);
    mq = mq_open(name, O_WRONLY | O_CLOEXEC);
    if (mq == (mqd_t)-1) {
        agn_log(AGNOCAST_LOG_WARNING, "cannot open %s to announce publisher %s: %s", name,
                a->notice.topic, strerror(errno));
        return;
    }
    /* The receiver's thread drains its queue at once; a full queue means it is stuck or dying. */
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 1;
    if (mq_timedsend(mq, (const char *)out.bytes, (size_t)len, 0, &deadline) < 0)
        agn_log(AGNOCAST_LOG_WARNING, "cannot announce publisher %s to process %d: %s",
                a->notice.topic, (int)a->to, strerror(errno));
    mq_close(mq);
}

/* Under ctx->lock: queues the announcement of `pub` to process `to` for the control thread. */
static void announce(struct agnocast_context *ctx, struct agnocast_publisher *pub, pid_t to)
{
    struct agn_announcement a = {.to = to};

    a.notice.pid = (uint32_t)ctx->pid;
    a.notice.index = pub->index;
    a.notice.qos = pub->qos;
    a.notice.seg_base = (uint64_t)(uintptr_t)ctx->seg;
    a.notice.seg_size = ctx->seg_size;
    a.notice.flags = 0;
    memcpy(a.notice.topic, pub->topic, sizeof(a.notice.topic));
    if (ctx->nannouncements == AGN_MAX_ANNOUNCEMENTS) {
        agn_log(AGNOCAST_LOG_WARNING, "too many publisher announcements at once; %d is told late",
                (int)to);
        announce_send(&a); /* rare: better late under the lock than never */
        return;
    }
    ctx->announcements[ctx->nannouncements++] = a;
}

void agn_notice_flush_announcements(struct agnocast_context *ctx)
{
    static _Thread_local struct agn_announcement pending[AGN_MAX_ANNOUNCEMENTS];
    unsigned n;

    pthread_mutex_lock(&ctx->lock);
    n = ctx->nannouncements;
    memcpy(pending, ctx->announcements, n * sizeof(pending[0]));
    ctx->nannouncements = 0;
    pthread_mutex_unlock(&ctx->lock);
    for (unsigned i = 0; i < n; i++)
        announce_send(&pending[i]);
}

static void subscriber_added(struct agnocast_context *ctx,
                             const struct agnocast_wire_notice_endpoint *n, int fd)
{
    pid_t pid = (pid_t)n->pid;
    struct agn_peer *peer = NULL;
    int err = 0;

    if (pid != ctx->pid) {
        peer = agn_peer_get(ctx, pid, n->seg_base, n->seg_size, &err);
        if (!peer) {
            agn_log(AGNOCAST_LOG_WARNING, "cannot take subscriber %d on %s: %s", (int)pid,
                    n->topic, agnocast_last_error());
            if (fd >= 0)
                close(fd);
            return;
        }
        if (peer->doorbell < 0 && fd >= 0) {
            peer->doorbell = fd;
            fd = -1;
        }
        agn_peer_accept(ctx, peer);
    }
    if (fd >= 0)
        close(fd);

    for (int i = 0; i < AGN_MAX_PUBS; i++) {
        struct agnocast_publisher *pub = &ctx->pubs[i];
        if (!pub->in_use || strcmp(pub->topic, n->topic) != 0)
            continue;
        agn_publisher_add_target(pub, peer, n->index);
        /* An announced subscriber learns of the publisher being added, from that publisher. */
        if ((n->flags & AGNOCAST_NOTICE_ANNOUNCE) && pub == ctx->pending_pub) {
            if (pid == ctx->pid) {
                struct agnocast_wire_notice_endpoint self = {0};
                self.pid = (uint32_t)ctx->pid;
                self.index = pub->index;
                self.qos = pub->qos;
                self.seg_base = (uint64_t)(uintptr_t)ctx->seg;
                self.seg_size = ctx->seg_size;
                memcpy(self.topic, pub->topic, sizeof(self.topic));
                for (int s = 0; s < AGN_MAX_SUBS; s++)
                    if (ctx->subs[s].in_use && !strcmp(ctx->subs[s].topic, pub->topic))
                        agn_subscription_add_source(&ctx->subs[s], ctx->pid, &self);
            } else if (ctx->mq >= 0) {
                announce(ctx, pub, pid);
            }
        }
    }
    /* It may now read our rings: let it look. */
    agn_doorbell_ring(peer ? peer->doorbell : ctx->doorbell);
}

static void publisher_added(struct agnocast_context *ctx,
                            const struct agnocast_wire_notice_endpoint *n)
{
    for (int s = 0; s < AGN_MAX_SUBS; s++)
        if (ctx->subs[s].in_use && !strcmp(ctx->subs[s].topic, n->topic))
            agn_subscription_add_source(&ctx->subs[s], (pid_t)n->pid, n);
    agn_doorbell_ring(ctx->doorbell);
}

void agn_notice_process_gone(struct agnocast_context *ctx, pid_t pid)
{
    struct agn_peer *peer;

    for (int i = 0; i < AGN_MAX_PUBS; i++)
        if (ctx->pubs[i].in_use)
            agn_publisher_remove_target(&ctx->pubs[i], pid, 0, true);
    for (int s = 0; s < AGN_MAX_SUBS; s++)
        if (ctx->subs[s].in_use)
            agn_subscription_remove_source(&ctx->subs[s], pid, 0, true);
    peer = agn_peer_find(ctx, pid);
    if (peer)
        agn_peer_gone(ctx, peer);
    agn_reclaim(ctx);
}

void agn_notice_handle(struct agnocast_context *ctx, const struct agnocast_frame *f, int fd)
{
    const struct agnocast_wire_notice_endpoint *n = f->payload;

    switch (f->kind) {
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED:
        subscriber_added(ctx, n, fd);
        return;
    case AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED:
        publisher_added(ctx, n);
        break;
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED:
        for (int i = 0; i < AGN_MAX_PUBS; i++)
            if (ctx->pubs[i].in_use && !strcmp(ctx->pubs[i].topic, n->topic))
                agn_publisher_remove_target(&ctx->pubs[i], (pid_t)n->pid, n->index, false);
        break;
    case AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED:
        for (int s = 0; s < AGN_MAX_SUBS; s++)
            if (ctx->subs[s].in_use && !strcmp(ctx->subs[s].topic, n->topic))
                agn_subscription_remove_source(&ctx->subs[s], (pid_t)n->pid, n->index, false);
        break;
    case AGNOCAST_MSG_NOTICE_PROCESS_GONE:
        agn_notice_process_gone(ctx, (pid_t)((const struct agnocast_wire_notice_process *)f->payload)->pid);
        break;
    default:
        agn_log(AGNOCAST_LOG_DEBUG, "ignoring %s", agnocast_proto_kind_name(f->kind));
        break;
    }
    if (fd >= 0)
        close(fd);
}

void agn_notice_read_mqueue(struct agnocast_context *ctx)
{
    static _Thread_local union {
        uint64_t align;
        unsigned char bytes[8192];
    } buf;
    struct agnocast_frame f;
    ssize_t n;

    while ((n = mq_receive(ctx->mq, (char *)buf.bytes, sizeof(buf.bytes), NULL)) > 0) {
        if (agnocast_proto_decode(buf.bytes, (size_t)n, &f) < 0 ||
            f.kind != AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED) {
            agn_log(AGNOCAST_LOG_WARNING, "dropping a malformed notice from the mqueue");
            continue;
        }
        pthread_mutex_lock(&ctx->lock);
        publisher_added(ctx, f.payload);
        pthread_mutex_unlock(&ctx->lock);
    }
}
