/* Other processes: their read-only segment mappings, wake channels, and the holds we honour. */
#include "peer.h"

#include <errno.h>
#include <unistd.h>

#include "context.h"
#include "log.h"
#include "segment.h"

struct agn_peer *agn_peer_find(struct agnocast_context *ctx, pid_t pid)
{
    for (int i = 0; i < AGN_MAX_PEERS; i++)
        if (ctx->peers[i].in_use && !ctx->peers[i].gone && ctx->peers[i].pid == pid)
            return &ctx->peers[i];
    return NULL;
}

/* The peer record for `pid`, mapping its segment on first use. */
struct agn_peer *agn_peer_get(struct agnocast_context *ctx, pid_t pid, uint64_t base, uint64_t size,
                              int fd, int *err)
{
    struct agn_peer *peer = agn_peer_find(ctx, pid);
    int r;

    if (peer) {
        if (peer->base != base || peer->size != size) {
            *err = agn_fail(-EBADMSG, "process %d announced a second segment", (int)pid);
            return NULL;
        }
        return peer;
    }
    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        struct agn_shm_view view;

        if (ctx->peers[i].in_use)
            continue;
        r = agn_segment_map_peer(pid, base, size, fd, &view);
        if (r == -EEXIST && ctx->noccupied < 8) {
            /* Its range is taken in our address space: we cannot reach it, and nothing is
             * mapped over. The broker is told, so new ranges avoid this one. */
            ctx->occupied[ctx->noccupied++] = (struct agnocast_wire_range){
                .base = base, .size = size, .owner_pid = (uint32_t)pid};
        }
        if (r < 0) {
            *err = r;
            return NULL;
        }
        peer = &ctx->peers[i];
        *peer = (struct agn_peer){.pid = pid,
                                  .in_use = true,
                                  .base = base,
                                  .size = size,
                                  .view = view,
                                  .wake_tx = -1,
                                  .wake_keep = -1,
                                  .wake_rx = -1};
        for (int a = 0; a < AGN_MAX_AREAS; a++)
            peer->area_fd[a] = -1;
        return peer;
    }
    *err = agn_fail(-ENOSPC, "too many peer processes (limit %d)", AGN_MAX_PEERS);
    return NULL;
}

void agn_peer_area_added(struct agnocast_context *ctx, const struct agnocast_wire_segment *a,
                         int fd)
{
    struct agn_peer *peer = agn_peer_find(ctx, (pid_t)a->pid);
    unsigned i = a->area - 1;

    /* Decode checked 1 <= area < AGNOCAST_AREAS_MAX; a peer we do not read needs none. */
    if (!peer || i >= AGN_MAX_AREAS || peer->area_size[i] != 0) {
        close(fd);
        return;
    }
    if (peer->area_fd[i] >= 0)
        close(peer->area_fd[i]);
    peer->area_fd[i] = fd;
    peer->area_fd_base[i] = a->base;
    peer->area_fd_size[i] = a->size;
    while (peer->areas_here < AGN_MAX_AREAS &&
           (peer->area_fd[peer->areas_here] >= 0 || peer->area_size[peer->areas_here] != 0))
        peer->areas_here++;
}

/* Lists the peer in our accepted_pids: from now on our reclaim scans its holds, so it may read
 * our rings. Its segment is already mapped, which the release store orders before. */
void agn_peer_accept(struct agnocast_context *ctx, struct agn_peer *peer)
{
    if (peer->accepted)
        return;
    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        if (atomic_load_explicit(&ctx->segment.header->accepted_pids[i], memory_order_relaxed) ==
            0) {
            atomic_store_explicit(&ctx->segment.header->accepted_pids[i], (uint32_t)peer->pid,
                                  memory_order_release);
            peer->accepted = true;
            return;
        }
    }
}

static void peer_release(struct agnocast_context *ctx, struct agn_peer *peer)
{
    if (peer->accepted) {
        for (int i = 0; i < AGN_MAX_PEERS; i++)
            if (atomic_load_explicit(&ctx->segment.header->accepted_pids[i],
                                     memory_order_relaxed) == (uint32_t)peer->pid)
                atomic_store_explicit(&ctx->segment.header->accepted_pids[i], 0,
                                      memory_order_release);
        peer->accepted = false;
    }
    if (peer->wake_tx >= 0)
        close(peer->wake_tx);
    if (peer->wake_keep >= 0)
        close(peer->wake_keep);
    if (peer->wake_rx >= 0)
        close(peer->wake_rx); /* which also takes it out of the wake set */
    for (int i = 0; i < AGN_MAX_AREAS; i++) {
        if (peer->area_size[i])
            agn_segment_unmap_peer(peer->area_base[i], peer->area_size[i]);
        if (peer->area_fd[i] >= 0)
            close(peer->area_fd[i]);
    }
    agn_segment_unmap_peer(peer->base, peer->size);
    peer->in_use = false;
}

/* A live peer we accepted keeps its mapping even with no topic in common: it may still hold
 * our messages, and only a scan of its holds keeps them from being freed under it. */
void agn_peer_maybe_release(struct agnocast_context *ctx, struct agn_peer *peer)
{
    if (peer->refs == 0 && peer->holds == 0 && (!peer->accepted || peer->gone))
        peer_release(ctx, peer);
}

void agn_peer_unref(struct agnocast_context *ctx, struct agn_peer *peer)
{
    if (peer->refs > 0)
        peer->refs--;
    agn_peer_maybe_release(ctx, peer);
}

/* The process is gone: its holds no longer pin our memory; its segment stays mapped while we
 * hold messages in it. */
void agn_peer_gone(struct agnocast_context *ctx, struct agn_peer *peer)
{
    peer->gone = true;
    peer->refs = 0;
    if (peer->accepted) {
        for (int i = 0; i < AGN_MAX_PEERS; i++)
            if (atomic_load_explicit(&ctx->segment.header->accepted_pids[i],
                                     memory_order_relaxed) == (uint32_t)peer->pid)
                atomic_store_explicit(&ctx->segment.header->accepted_pids[i], 0,
                                      memory_order_release);
        peer->accepted = false;
    }
    agn_peer_maybe_release(ctx, peer);
}

unsigned agn_peer_hold_tables(struct agnocast_context *ctx, const struct agn_shm_view **views)
{
    unsigned n = 0;

    views[n++] = &ctx->segment.view;
    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        const struct agn_peer *p = &ctx->peers[i];
        if (p->in_use && p->accepted)
            views[n++] = &p->view;
    }
    return n;
}
