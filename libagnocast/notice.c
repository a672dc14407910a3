/*
 * Control notices about peers. They come only from the broker, over our own connection: nobody
 * else can write them, and the descriptors they carry (segments, wake channels) are what the broker
 * decided we may have. There is no notice queue a peer could write into (docs/security.md).
 */
#include "notice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "log.h"
#include "peer.h"
#include "publisher.h"
#include "ring.h"
#include "subscription.h"
#include "wake.h"

/* fds[0]: the subscriber's segment (the caller closes it). */
static void subscriber_added(struct agnocast_context *ctx,
                             const struct agnocast_wire_notice_endpoint *n, int *fds, int nfds)
{
    pid_t pid = (pid_t)n->pid;
    struct agn_peer *peer = NULL;
    int err = 0;

    if (pid != ctx->pid) {
        peer = agn_peer_get(ctx, pid, n->seg_base, n->seg_size, nfds > 0 ? fds[0] : -1, &err);
        if (!peer) {
            agn_log(AGNOCAST_LOG_WARNING, "cannot take subscriber %d on %s: %s", (int)pid, n->topic,
                    agnocast_last_error());
            return;
        }
        agn_wake_open(ctx, peer);
        agn_peer_accept(ctx, peer);
    }

    for (int i = 0; i < AGN_MAX_PUBS; i++) {
        struct agnocast_publisher *pub = &ctx->pubs[i];
        if (!pub->in_use || strcmp(pub->topic, n->topic) != 0)
            continue;
        agn_publisher_add_target(pub, peer, n->index);
        /* A subscriber in another process learns of the publisher from the broker; one of our
         * own subscriptions learns it here. */
        if ((n->flags & AGNOCAST_NOTICE_ANNOUNCE) && pub == ctx->pending_pub) {
            if (pid == ctx->pid) {
                struct agnocast_wire_notice_endpoint self = {0};
                self.pid = (uint32_t)ctx->pid;
                self.index = pub->index;
                self.qos = pub->qos;
                self.seg_base = (uint64_t)(uintptr_t)ctx->segment.header;
                self.seg_size = ctx->segment.size;
                memcpy(self.topic, pub->topic, sizeof(self.topic));
                for (int s = 0; s < AGN_MAX_SUBS; s++)
                    if (ctx->subs[s].in_use && !strcmp(ctx->subs[s].topic, pub->topic))
                        agn_subscription_add_source(&ctx->subs[s], ctx->pid, &self, -1);
            }
        }
    }
    /* It may now read our rings: let it look, unless it busy-polls (then it looks anyway; the
     * fence orders our accept before reading its flag, as a publish does). */
    atomic_thread_fence(memory_order_seq_cst);
    agn_wake_for_message(ctx, peer);
}

static void publisher_added(struct agnocast_context *ctx,
                            const struct agnocast_wire_notice_endpoint *n, int fd)
{
    for (int s = 0; s < AGN_MAX_SUBS; s++)
        if (ctx->subs[s].in_use && !strcmp(ctx->subs[s].topic, n->topic))
            agn_subscription_add_source(&ctx->subs[s], (pid_t)n->pid, n, fd);
    agn_wake(ctx, NULL);
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
    agn_ring_reclaim(ctx);
}

void agn_notice_handle(struct agnocast_context *ctx, const struct agnocast_frame *f, int *fds,
                       int nfds)
{
    const struct agnocast_wire_notice_endpoint *n = f->payload;

    switch (f->kind) {
    case AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED:
        subscriber_added(ctx, n, fds, nfds);
        break;
    case AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED:
        publisher_added(ctx, n, nfds > 0 ? fds[0] : -1);
        break;
    case AGNOCAST_MSG_NOTICE_AREA_ADDED:
        if (nfds > 0 && fds[0] >= 0) {
            agn_peer_area_added(ctx, f->payload, fds[0]);
            fds[0] = -1;
            /* A message in that area may be waiting for it. */
            agn_wake(ctx, NULL);
        }
        break;
    case AGNOCAST_MSG_NOTICE_WAKE_ADDED:
        if (nfds > 0 && fds[0] >= 0) {
            agn_wake_added(
                ctx, (pid_t)((const struct agnocast_wire_notice_process *)f->payload)->pid, fds[0]);
            fds[0] = -1;
        }
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
        agn_notice_process_gone(
            ctx, (pid_t)((const struct agnocast_wire_notice_process *)f->payload)->pid);
        break;
    default:
        agn_log(AGNOCAST_LOG_DEBUG, "ignoring %s", agnocast_proto_kind_name(f->kind));
        break;
    }
}
