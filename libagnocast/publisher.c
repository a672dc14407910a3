/* Publishers: loans from the own segment, the ring, wake-ups, and reclaim of retired messages. */
#include "publisher.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "context.h"
#include "loan.h"
#include "log.h"
#include "peer.h"
#include "pool.h"
#include "ring.h"
#include "qos.h"
#include "util.h"
#include "wake.h"

/* Idempotent: the same subscription may be announced twice (a broker restart re-registers
 * everything), so targets record which subscriptions they stand for, not how many. */
void agn_publisher_add_target(struct agnocast_publisher *pub, struct agn_peer *peer,
                              uint32_t sub_index)
{
    uint64_t bit = 1ull << (sub_index % 64);

    for (unsigned i = 0; i < pub->ntargets; i++) {
        if (pub->targets[i].peer == peer) {
            pub->targets[i].subscriptions |= bit;
            return;
        }
    }
    if (pub->ntargets == AGN_MAX_PEERS)
        return;
    pub->targets[pub->ntargets++] = (struct agn_wake_target){.peer = peer, .subscriptions = bit};
    if (peer)
        peer->refs++;
}

void agn_publisher_remove_target(struct agnocast_publisher *pub, pid_t pid, uint32_t sub_index,
                                 bool all)
{
    for (unsigned i = 0; i < pub->ntargets; i++) {
        struct agn_wake_target *t = &pub->targets[i];
        pid_t tpid = t->peer ? t->peer->pid : pub->ctx->pid;
        if (tpid != pid)
            continue;
        t->subscriptions &= ~(1ull << (sub_index % 64));
        if (!all && t->subscriptions != 0)
            return;
        if (t->peer)
            agn_peer_unref(pub->ctx, t->peer);
        pub->targets[i] = pub->targets[--pub->ntargets];
        return;
    }
}

AGNOCAST_EXPORT int agnocast_publisher_new(struct agnocast_context *ctx, const char *topic,
                                           unsigned depth, unsigned flags,
                                           struct agnocast_publisher **ret)
{
    struct agnocast_wire_endpoint req = {0};
    struct agnocast_publisher *pub = NULL;
    struct agnocast_frame reply;
    struct agn_ring_entry *ring;
    int r;

    agn_clear_error();
    if (!ctx || !ret)
        return agn_fail(-EINVAL, "agnocast_publisher_new: NULL argument");
    if (agn_context_forked(ctx))
        return -ECHILD;
    if ((r = agn_check_topic(topic)) < 0 ||
        (r = agn_qos_from(depth, flags, AGNOCAST_TRANSIENT_LOCAL | AGNOCAST_RELIABLE, &req.qos)) <
            0)
        return r;
    agn_lock(&ctx->create_lock);
    agn_lock(&ctx->lock);
    for (int i = 0; i < AGN_MAX_PUBS; i++) {
        if (!ctx->pubs[i].in_use) {
            pub = &ctx->pubs[i];
            break;
        }
    }
    agn_unlock(&ctx->lock);
    if (!pub) {
        agn_unlock(&ctx->create_lock);
        return agn_fail(-ENOSPC, "too many publishers in this process (limit %d)", AGN_MAX_PUBS);
    }
    /* Only creation takes a free slot, and creation is serialised: the slot stays ours.
     * Its ring is reused when deep enough; the allocation may grow the pool, which asks the
     * broker, so it happens outside ctx->lock. */
    r = (int)(pub - ctx->pubs);
    ring = ctx->slot_rings[r].ring;
    if (!ring || ctx->slot_rings[r].capacity < depth) {
        /* Line-aligned so that no entry straddles two lines, which a subscriber would then
         * have to fetch both of. */
        size_t ring_bytes = (depth * sizeof(*ring) + 63) & ~(size_t)63;
        agn_pool_free(&ctx->pool, ring);
        ctx->slot_rings[r].ring = NULL;
        ring = agn_ring_alloc(ctx, 64, 0, ring_bytes + depth * sizeof(uintptr_t));
        if (!ring) {
            agn_unlock(&ctx->create_lock);
            return -ENOMEM; /* the pool said why */
        }
        ctx->slot_rings[r].ring = ring;
        ctx->slot_rings[r].in_ring = (uintptr_t *)((char *)ring + ring_bytes);
        ctx->slot_rings[r].capacity = depth;
    }
    memset(ring, 0, depth * sizeof(*ring));
    memset(ctx->slot_rings[r].in_ring, 0, depth * sizeof(uintptr_t));

    agn_lock(&ctx->lock);
    memset(pub, 0, sizeof(*pub));
    pub->ctx = ctx;
    pub->in_use = true;
    pub->index = (uint32_t)(pub - ctx->pubs);
    agnocast_topic_field_set(pub->topic, topic);
    pub->qos = req.qos;
    pub->ring = ring;
    pub->in_ring = ctx->slot_rings[r].in_ring;
    pub->slot = &ctx->segment.header->pubs[pub->index];
    pub->slot->depth = depth;
    pub->slot->ring_off = (uint64_t)((uintptr_t)ring - (uintptr_t)ctx->segment.header);
    pub->slot->transient_local = (flags & AGNOCAST_TRANSIENT_LOCAL) ? 1 : 0;
    atomic_store_explicit(&pub->slot->head, 0, memory_order_relaxed);
    atomic_store_explicit(&pub->slot->active, 1, memory_order_release);
    ctx->pending_pub = pub;
    agn_unlock(&ctx->lock);

    req.index = pub->index;
    memcpy(req.topic, pub->topic, sizeof(req.topic));
    r = agn_broker_request(ctx, AGNOCAST_MSG_ADD_PUBLISHER, &req, sizeof(req), NULL, 0, &reply);

    agn_lock(&ctx->lock);
    ctx->pending_pub = NULL;
    if (r < 0) {
        for (unsigned i = 0; i < pub->ntargets; i++)
            if (pub->targets[i].peer)
                agn_peer_unref(ctx, pub->targets[i].peer);
        atomic_store_explicit(&pub->slot->active, 0, memory_order_release);
        pub->in_use = false;
        agn_unlock(&ctx->lock);
        agn_unlock(&ctx->create_lock);
        return r;
    }
    agn_unlock(&ctx->lock);
    agn_unlock(&ctx->create_lock);
    *ret = pub;
    return 0;
}

AGNOCAST_EXPORT struct agnocast_publisher *agnocast_publisher_free(struct agnocast_publisher *pub)
{
    struct agnocast_context *ctx;
    struct agnocast_wire_endpoint_remove req = {0};
    struct agnocast_frame reply;

    if (!pub || agn_context_forked(pub->ctx))
        return NULL;
    ctx = pub->ctx;
    req.index = pub->index;
    agn_broker_request(ctx, AGNOCAST_MSG_REMOVE_PUBLISHER, &req, sizeof(req), NULL, 0, &reply);

    agn_lock(&ctx->lock);
    atomic_store_explicit(&pub->slot->active, 0, memory_order_release);
    /* Retire what the ring still holds; held messages wait for their release. */
    for (uint32_t i = 0; i < pub->slot->depth; i++) {
        uintptr_t addr = pub->in_ring[i];
        atomic_store_explicit(&pub->ring[i].seq, 0, memory_order_relaxed);
        if (addr)
            agn_ring_retire(ctx, (void *)addr);
    }
    for (unsigned i = 0; i < pub->ntargets; i++)
        if (pub->targets[i].peer)
            agn_peer_unref(ctx, pub->targets[i].peer);
    pub->ntargets = 0;
    agn_ring_reclaim(ctx);
    pub->in_use = false;
    agn_unlock(&ctx->lock);
    /* The ring stays with the slot for the next publisher there (ctx->slot_rings). */
    return NULL;
}

AGNOCAST_EXPORT int agnocast_publisher_loan(struct agnocast_publisher *pub, size_t size,
                                            void **data)
{
    struct agn_msg_header *h;

    if (!pub || !data || size == 0)
        return agn_fail(-EINVAL, "agnocast_publisher_loan: NULL argument or zero size");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    if (size > SIZE_MAX - sizeof(*h))
        return agn_fail(-ENOMEM, "a loan of %zu bytes cannot fit", size);
    h = agn_ring_alloc(pub->ctx, 16, 0, sizeof(*h) + size);
    if (!h)
        return -ENOMEM; /* pool_take said why */
    *h = (struct agn_msg_header){.magic = AGN_MSG_LOANED, .owner = pub, .size = size};
    *data = h + 1;
    agn_loan_window_open(pub, *data);
    return 0;
}

AGNOCAST_EXPORT int agnocast_loan_alloc(struct agnocast_publisher *pub, void *data, size_t size,
                                        void **ret)
{
    struct agn_msg_header *h;
    struct agn_child_header *c;

    if (!pub || !ret || size == 0 || size > SIZE_MAX - sizeof(*c))
        return agn_fail(-EINVAL, "agnocast_loan_alloc: NULL argument or bad size");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    h = agn_loan_header(pub, data);
    if (!h)
        return agn_fail(-EINVAL, "%p is not an outstanding loan of this publisher", data);
    *ret = agn_loan_nested_alloc(pub, data, 16, size);
    return *ret ? 0 : -ENOMEM; /* the pool said why */
}

AGNOCAST_EXPORT int agnocast_publisher_publish(struct agnocast_publisher *pub, void *data)
{
    struct agnocast_context *ctx;
    struct agn_ring_entry *e;
    struct agn_msg_header *h;
    uintptr_t old;
    uint64_t n, ts;
    uint32_t at;

    if (!pub || !data)
        return agn_fail(-EINVAL, "agnocast_publisher_publish: NULL argument");
    ctx = pub->ctx;
    if (agn_context_forked(ctx))
        return -ECHILD;
    h = agn_loan_header(pub, data);
    if (!h)
        return agn_fail(-EINVAL, "%p is not an outstanding loan of this publisher", data);
    agn_loan_window_close(data);
    h->magic = AGN_MSG_PUBLISHED;
    /* Under the lock from the message number on: any thread may publish on a publisher
     * (agnocast.h, "Threads"), and the number, the ring entry and in_ring must go together.
     * The lock was taken for the wake-ups anyway; it is held a few stores longer. */
    agn_lock(&ctx->lock);
    n = ++pub->published;
    at = (uint32_t)(n % pub->slot->depth);
    e = &pub->ring[at];
    old = pub->in_ring[at];
    pub->in_ring[at] = (uintptr_t)data;
    ts = agn_now_ns();
    agn_ring_write(e, &pub->slot->head, n, data, h->size, h->size + h->nested, ts);

    if (pub->ntargets > 0) {
        /* Orders the head store before reading the targets' polling flags (ring.c). */
        atomic_thread_fence(memory_order_seq_cst);
        for (unsigned i = 0; i < pub->ntargets; i++)
            agn_wake_for_message(ctx, pub->targets[i].peer);
    }
    if (old)
        agn_ring_retire(ctx, (void *)old);
    /* Scanning reads every subscriber's hold table, which pulls those cache lines away from
     * their owners just before they publish their next hold: scan once per batch instead of
     * once per message. A failed loan, the control thread (every 100 ms) and pool_usage scan
     * too, so at most a batch of retired messages waits beyond its time. */
    if (ctx->retired.count >= AGN_RECLAIM_BATCH)
        agn_ring_reclaim(ctx);
    agn_unlock(&ctx->lock);
    return 0;
}

AGNOCAST_EXPORT int agnocast_publisher_drop(struct agnocast_publisher *pub, void *data)
{
    struct agn_msg_header *h;

    if (!pub || !data)
        return agn_fail(-EINVAL, "agnocast_publisher_drop: NULL argument");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    h = agn_loan_header(pub, data);
    if (!h)
        return agn_fail(-EINVAL, "%p is not an outstanding loan of this publisher", data);
    agn_loan_window_close(data);
    agn_ring_free_message(pub->ctx, h);
    return 0;
}

AGNOCAST_EXPORT uint64_t agnocast_publisher_published(struct agnocast_publisher *pub)
{
    uint64_t n;

    if (!pub || agn_context_forked(pub->ctx))
        return 0;
    agn_lock(&pub->ctx->lock); /* publish may run on another thread */
    n = pub->published;
    agn_unlock(&pub->ctx->lock);
    return n;
}

/* Under ctx->lock. Our own subscriptions that ignore local messages are not reached. */
static unsigned subscription_count(const void *obj)
{
    const struct agnocast_publisher *pub = obj;
    unsigned n = 0;

    for (unsigned i = 0; i < pub->ntargets; i++) {
        uint64_t bits = pub->targets[i].subscriptions;
        if (pub->targets[i].peer == NULL) {
            for (unsigned s = 0; s < AGN_MAX_SUBS; s++)
                if ((bits & (1ull << s)) && pub->ctx->subs[s].in_use &&
                    pub->ctx->subs[s].qos.ignore_local)
                    bits &= ~(1ull << s);
        }
        n += (unsigned)__builtin_popcountll(bits);
    }
    return n;
}

AGNOCAST_EXPORT int agnocast_publisher_subscription_count(struct agnocast_publisher *pub)
{
    unsigned n;

    if (!pub)
        return agn_fail(-EINVAL, "agnocast_publisher_subscription_count: NULL publisher");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    agn_lock(&pub->ctx->lock);
    n = subscription_count(pub);
    agn_unlock(&pub->ctx->lock);
    return (int)n;
}

AGNOCAST_EXPORT int agnocast_publisher_wait_matched(struct agnocast_publisher *pub, unsigned n,
                                                    int timeout_ms)
{
    unsigned count;

    if (!pub)
        return agn_fail(-EINVAL, "agnocast_publisher_wait_matched: NULL publisher");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    count = agn_wait_matched(pub->ctx, subscription_count, pub, n, timeout_ms);
    if (count >= n)
        return (int)count;
    return agn_fail(-ETIMEDOUT,
                    "publisher on %s reaches %u subscriptions, not %u, after %d ms: check that "
                    "the subscribers run, use the same topic and broker ($AGNOCAST_SOCKET), and "
                    "may subscribe (agnocastctl rules)",
                    pub->topic, count, n, timeout_ms);
}
