/* Received messages: holding one safely, its accessors, and releasing it. */
#include "message.h"

#include <errno.h>

#include "context.h"
#include "ring.h"
#include "log.h"
#include "peer.h"
#include "segment.h"

static struct agnocast_message *handle_alloc(struct agnocast_context *ctx)
{
    for (int i = 0; i < AGN_MAX_HOLDS; i++) {
        if (!ctx->messages[i].in_use) {
            uint32_t used =
                atomic_load_explicit(&ctx->segment.header->holds_used, memory_order_relaxed);
            if ((uint32_t)i + 1 > used)
                atomic_store_explicit(&ctx->segment.header->holds_used, (uint32_t)i + 1,
                                      memory_order_release);
            ctx->messages[i].in_use = true;
            ctx->messages[i].generation++;
            return &ctx->messages[i];
        }
    }
    return NULL;
}

static _Atomic uint64_t *hold_slot(struct agnocast_message *msg)
{
    return &msg->ctx->segment.header->holds[msg - msg->ctx->messages];
}

/* Under ctx->lock. */
void agn_message_free_handle(struct agnocast_message *msg)
{
    struct agnocast_context *ctx = msg->ctx;

    atomic_store_explicit(hold_slot(msg), 0, memory_order_release);
    if (msg->peer) {
        struct agn_peer *peer = msg->peer;
        peer->holds--;
        agn_peer_maybe_release(ctx, peer);
    }
    msg->in_use = false;
    msg->retained = false;
    msg->peer = NULL;
}

/*
 * Reads message `seq` from a source and holds it: the entry read seqlock-style (shm-reader.h),
 * the hold published and the entry checked again (agn_ring_hold; ring.c has the argument).
 */
int agn_message_acquire(struct agnocast_context *ctx, struct agnocast_subscription *sub,
                        struct agn_source *src, uint64_t seq, struct agnocast_message **ret)
{
    struct agnocast_message *msg;
    struct agn_shm_entry e;

    if (agn_shm_entry_read(&src->ring, seq, &e) != 1)
        return 0;
    /* Any nested allocation of this message may lie in any area its publisher declared before
     * publishing it (the acquire above orders that declaration before this load). The broker
     * sent us each area's descriptor before the publisher could declare it; until our control
     * thread has taken it, the message waits (docs/design.md, pool growth). */
    if (src->peer && atomic_load_explicit(&((const struct agn_seg_header *)src->peer->base)->nareas,
                                          memory_order_relaxed) > src->peer->areas_here)
        return -EAGAIN;
    if (!agn_shm_in_heap(src->view, e.addr, e.size)) {
        int in = agn_segment_area_check(ctx, src->peer, e.addr, e.size);
        if (in == -EAGAIN)
            return -EAGAIN;
        if (in != 1) {
            atomic_fetch_add_explicit(&sub->stats->corrupt, 1, memory_order_relaxed);
            agn_log(AGNOCAST_LOG_WARNING,
                    "dropping message %llu from process %d on %s: address 0x%llx size %llu "
                    "lies outside its segment",
                    (unsigned long long)seq, (int)src->pid, sub->topic, (unsigned long long)e.addr,
                    (unsigned long long)e.size);
            return -EBADMSG;
        }
    }
    msg = handle_alloc(ctx);
    if (!msg)
        return agn_fail(-ENOBUFS, "this process holds %d messages, the limit: release some",
                        AGN_MAX_HOLDS);
    if (!agn_ring_hold(hold_slot(msg), &src->ring, seq, e.addr)) {
        msg->peer = NULL;
        agn_message_free_handle(msg);
        return 0;
    }
    msg->retained = false;
    msg->peer = src->peer;
    if (src->peer)
        src->peer->holds++;
    msg->data = (const void *)(uintptr_t)e.addr;
    msg->size = e.size;
    msg->pub_pid = src->pid;
    msg->pub_index = src->index;
    msg->seq = seq;
    msg->timestamp_ns = e.timestamp_ns;
    msg->lo = src->view->base + src->view->heap_off;
    msg->hi = src->view->base + src->view->size;
    *ret = msg;
    return 1;
}

AGNOCAST_EXPORT const void *agnocast_message_data(const struct agnocast_message *msg)
{
    return msg && !agn_context_forked(msg->ctx) ? msg->data : NULL;
}

AGNOCAST_EXPORT size_t agnocast_message_size(const struct agnocast_message *msg)
{
    return msg && !agn_context_forked(msg->ctx) ? msg->size : 0;
}

AGNOCAST_EXPORT pid_t agnocast_message_publisher_pid(const struct agnocast_message *msg)
{
    return msg && !agn_context_forked(msg->ctx) ? msg->pub_pid : 0;
}

AGNOCAST_EXPORT uint32_t agnocast_message_publisher_index(const struct agnocast_message *msg)
{
    return msg && !agn_context_forked(msg->ctx) ? msg->pub_index : 0;
}

AGNOCAST_EXPORT uint64_t agnocast_message_sequence(const struct agnocast_message *msg)
{
    return msg && !agn_context_forked(msg->ctx) ? msg->seq : 0;
}

AGNOCAST_EXPORT uint64_t agnocast_message_timestamp_ns(const struct agnocast_message *msg)
{
    return msg && !agn_context_forked(msg->ctx) ? msg->timestamp_ns : 0;
}

AGNOCAST_EXPORT int agnocast_message_contains(const struct agnocast_message *msg, const void *ptr,
                                              size_t len)
{
    uintptr_t p = (uintptr_t)ptr;
    bool in;

    if (!msg || agn_context_forked(msg->ctx))
        return 0;
    if (p >= msg->lo && p < msg->hi && len <= msg->hi - p)
        return 1;
    /* A growth area of the publisher: the check may map it, which the lock guards. */
    agn_lock(&msg->ctx->lock);
    in = agn_segment_area_check(msg->ctx, msg->peer, p, len) == 1;
    agn_unlock(&msg->ctx->lock);
    return in;
}

AGNOCAST_EXPORT void agnocast_message_retain(struct agnocast_message *msg)
{
    if (msg && !agn_context_forked(msg->ctx))
        msg->retained = true;
}

AGNOCAST_EXPORT struct agnocast_message *agnocast_message_release(struct agnocast_message *msg)
{
    struct agnocast_context *ctx;

    if (!msg || !msg->in_use || agn_context_forked(msg->ctx))
        return NULL;
    ctx = msg->ctx;
    agn_lock(&ctx->lock);
    agn_message_free_handle(msg);
    agn_unlock(&ctx->lock);
    return NULL;
}
