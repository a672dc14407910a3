/* Publishers: loans from the own segment, the ring, wake-ups, and reclaim of retired messages. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "agnocast-internal.h"
#include "heaphook-internal.h"

/*
 * Private bookkeeping in front of every loaned message, in the own segment. Subscribers never
 * read it (they get the data address from the ring). Nested allocations form a list from here.
 */
struct msg_header {
    uint64_t magic;
    struct agnocast_publisher *owner;
    uintptr_t children;     /* first nested allocation (struct child_header) */
    uintptr_t next_retired; /* in ctx->retired */
    uint64_t size;
    uint64_t nested; /* bytes asked for by its nested allocations (bw counts them) */
};

struct child_header {
    uintptr_t next, prev; /* the message's nested allocations; prev 0 at the head */
    uintptr_t msg;        /* its struct msg_header */
    uint64_t magic;
    uint64_t size;        /* as asked for */
    uint64_t reserved;
};

#define MSG_LOANED    0x4e414f4c47534dull /* "MSGLOAN" */
#define MSG_PUBLISHED 0x42555047534dull   /* "MSGPUB" */
#define MSG_CHILD     0x444c494843ull     /* "CHILD" */

_Static_assert(sizeof(struct msg_header) % 16 == 0, "payload stays 16-byte aligned");
_Static_assert(sizeof(struct child_header) % 16 == 0, "payload stays 16-byte aligned");

static struct msg_header *header_of(struct agnocast_publisher *pub, void *data)
{
    struct agnocast_context *ctx = pub->ctx;
    uintptr_t p = (uintptr_t)data;
    struct msg_header *h;

    if (p % 16 || !agn_pool_contains(&ctx->pool, p - sizeof(*h)))
        return NULL;
    h = (struct msg_header *)(p - sizeof(*h));
    if (h->magic != MSG_LOANED || h->owner != pub)
        return NULL;
    return h;
}

/* Allocates from the own pool; when it is full, first reclaims what subscribers released,
 * then grows it (flow 6). NULL with the reason in agnocast_last_error(). */
void *agn_pool_take(struct agnocast_context *ctx, size_t align, size_t offset, size_t size)
{
    for (int attempt = 0;; attempt++) {
        void *p = align > 16 ? agn_pool_memalign_offset(&ctx->pool, align, offset, size)
                             : agn_pool_alloc(&ctx->pool, size);
        int r = 0;
        if (p)
            return p;
        if (attempt == 2) {
            agn_fail(-ENOMEM, "the pool has no room for %zu bytes even after growing", size);
            return NULL;
        }
        if (attempt == 0) {
            agn_lock(&ctx->lock);
            agn_reclaim(ctx);
            agn_unlock(&ctx->lock);
            continue;
        }
        agn_lock(&ctx->grow_lock);
        /* Another thread may have grown it meanwhile. */
        p = align > 16 ? agn_pool_memalign_offset(&ctx->pool, align, offset, size)
                       : agn_pool_alloc(&ctx->pool, size);
        if (!p)
            r = agn_segment_grow(ctx, size + align);
        agn_unlock(&ctx->grow_lock);
        if (p)
            return p;
        if (r < 0)
            return NULL;
    }
}

static void free_message(struct agnocast_context *ctx, struct msg_header *h)
{
    uintptr_t c = h->children;

    while (c) {
        struct child_header *ch = (struct child_header *)c;
        c = ch->next;
        ch->magic = 0;
        agn_pool_free(&ctx->pool, ch);
    }
    h->magic = 0;
    agn_pool_free(&ctx->pool, h);
}

void agn_reclaim(struct agnocast_context *ctx)
{
    uintptr_t *link = &ctx->retired;

    if (!ctx->retired)
        return;
    /* Pairs with the fence a subscriber issues between publishing a hold and re-checking the
     * ring entry: either we see its hold, or it sees the entry gone. */
    atomic_thread_fence(memory_order_seq_cst);
    while (*link) {
        struct msg_header *h = (struct msg_header *)*link;
        if (agn_peer_holds(ctx, (uintptr_t)(h + 1))) {
            link = &h->next_retired;
            continue;
        }
        *link = h->next_retired;
        ctx->nretired--;
        free_message(ctx, h);
    }
}

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

static int check_topic(const char *topic)
{
    if (!topic || !agnocast_topic_name_valid(topic))
        return agn_fail(-EINVAL,
                        "invalid topic name \"%s\": a topic is \"/\" followed by segments of "
                        "letters, digits and \"_\" joined by \"/\" (e.g. /sensors/lidar)",
                        topic ? topic : "(null)");
    return 0;
}

int agn_qos_from(unsigned depth, unsigned flags, unsigned allowed, struct agnocast_wire_qos *qos)
{
    if (depth < 1 || depth > AGNOCAST_DEPTH_MAX)
        return agn_fail(-EINVAL, "depth %u is out of range: keep-last depth is 1 to %d", depth,
                        AGNOCAST_DEPTH_MAX);
    if (flags & ~allowed)
        return agn_fail(-EINVAL, "unknown or unsupported flags 0x%x", flags & ~allowed);
    *qos = (struct agnocast_wire_qos){
        .depth = depth,
        .durability = (flags & AGNOCAST_TRANSIENT_LOCAL) ? AGNOCAST_DURABILITY_TRANSIENT_LOCAL
                                                         : AGNOCAST_DURABILITY_VOLATILE,
        .reliability = (flags & AGNOCAST_RELIABLE) ? AGNOCAST_RELIABILITY_RELIABLE
                                                   : AGNOCAST_RELIABILITY_BEST_EFFORT,
        .ignore_local = (flags & AGNOCAST_IGNORE_LOCAL) ? 1 : 0,
    };
    return 0;
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
    if ((r = check_topic(topic)) < 0 ||
        (r = agn_qos_from(depth, flags, AGNOCAST_TRANSIENT_LOCAL | AGNOCAST_RELIABLE,
                          &req.qos)) < 0)
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
        return agn_fail(-ENOSPC, "too many publishers in this process (limit %d)",
                        AGN_MAX_PUBS);
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
        ring = agn_pool_take(ctx, 64, 0, ring_bytes + depth * sizeof(uintptr_t));
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
    pub->slot = &ctx->seg->pubs[pub->index];
    pub->slot->depth = depth;
    pub->slot->ring_off = (uint64_t)((uintptr_t)ring - (uintptr_t)ctx->seg);
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
        if (addr) {
            struct msg_header *h = (struct msg_header *)addr - 1;
            h->next_retired = ctx->retired;
            ctx->retired = (uintptr_t)h;
            ctx->nretired++;
        }
    }
    for (unsigned i = 0; i < pub->ntargets; i++)
        if (pub->targets[i].peer)
            agn_peer_unref(ctx, pub->targets[i].peer);
    pub->ntargets = 0;
    agn_reclaim(ctx);
    pub->in_use = false;
    agn_unlock(&ctx->lock);
    /* The ring stays with the slot for the next publisher there (ctx->slot_rings). */
    return NULL;
}

AGNOCAST_EXPORT int agnocast_publisher_loan(struct agnocast_publisher *pub, size_t size,
                                            void **data)
{
    struct msg_header *h;

    if (!pub || !data || size == 0)
        return agn_fail(-EINVAL, "agnocast_publisher_loan: NULL argument or zero size");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    if (size > SIZE_MAX - sizeof(*h))
        return agn_fail(-ENOMEM, "a loan of %zu bytes cannot fit", size);
    h = agn_pool_take(pub->ctx, 16, 0, sizeof(*h) + size);
    if (!h)
        return -ENOMEM; /* pool_take said why */
    *h = (struct msg_header){.magic = MSG_LOANED, .owner = pub, .size = size};
    *data = h + 1;
    agn_hook_loan_begin(pub, *data);
    return 0;
}

AGNOCAST_EXPORT int agnocast_loan_alloc(struct agnocast_publisher *pub, void *data, size_t size,
                                        void **ret)
{
    struct msg_header *h;
    struct child_header *c;

    if (!pub || !ret || size == 0 || size > SIZE_MAX - sizeof(*c))
        return agn_fail(-EINVAL, "agnocast_loan_alloc: NULL argument or bad size");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    h = header_of(pub, data);
    if (!h)
        return agn_fail(-EINVAL, "%p is not an outstanding loan of this publisher", data);
    *ret = agn_loan_nested_alloc(pub, data, 16, size);
    return *ret ? 0 : -ENOMEM; /* the pool said why */
}

AGNOCAST_EXPORT int agnocast_publisher_publish(struct agnocast_publisher *pub, void *data)
{
    struct agnocast_context *ctx;
    struct agn_ring_entry *e;
    struct msg_header *h;
    uintptr_t old;
    uint64_t n, ts;
    uint32_t at;

    if (!pub || !data)
        return agn_fail(-EINVAL, "agnocast_publisher_publish: NULL argument");
    ctx = pub->ctx;
    if (agn_context_forked(ctx))
        return -ECHILD;
    h = header_of(pub, data);
    if (!h)
        return agn_fail(-EINVAL, "%p is not an outstanding loan of this publisher", data);
    agn_hook_loan_end(data);
    h->magic = MSG_PUBLISHED;
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

    /* Seqlock write: invalidate, then the fields, then the number that validates them. */
    atomic_store_explicit(&e->seq, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->addr, (uintptr_t)data, memory_order_relaxed);
    atomic_store_explicit(&e->size, h->size, memory_order_relaxed);
    atomic_store_explicit(&e->timestamp_ns, ts, memory_order_relaxed);
    atomic_store_explicit(&e->bytes, h->size + h->nested, memory_order_relaxed);
    atomic_store_explicit(&e->seq, n, memory_order_release);
    atomic_store_explicit(&pub->slot->head, n, memory_order_release);

    for (unsigned i = 0; i < pub->ntargets; i++)
        agn_wake(ctx, pub->targets[i].peer);
    if (old) {
        struct msg_header *oh = (struct msg_header *)old - 1;
        oh->next_retired = ctx->retired;
        ctx->retired = (uintptr_t)oh;
        ctx->nretired++;
    }
    /* Scanning reads every subscriber's hold table, which pulls those cache lines away from
     * their owners just before they publish their next hold: scan once per batch instead of
     * once per message. A failed loan, the control thread (every 100 ms) and pool_usage scan
     * too, so at most a batch of retired messages waits beyond its time. */
    if (ctx->nretired >= AGN_RECLAIM_BATCH)
        agn_reclaim(ctx);
    agn_unlock(&ctx->lock);
    return 0;
}

AGNOCAST_EXPORT int agnocast_publisher_drop(struct agnocast_publisher *pub, void *data)
{
    struct msg_header *h;

    if (!pub || !data)
        return agn_fail(-EINVAL, "agnocast_publisher_drop: NULL argument");
    if (agn_context_forked(pub->ctx))
        return -ECHILD;
    h = header_of(pub, data);
    if (!h)
        return agn_fail(-EINVAL, "%p is not an outstanding loan of this publisher", data);
    agn_hook_loan_end(data);
    free_message(pub->ctx, h);
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

/* ---- nested allocations by address (agnocast_loan_alloc and the heap hook) ---- */

bool agn_loan_outstanding(struct agnocast_publisher *pub, void *data)
{
    return header_of(pub, data) != NULL;
}

void *agn_loan_nested_alloc(struct agnocast_publisher *pub, void *data, size_t align,
                            size_t size)
{
    struct msg_header *h = header_of(pub, data);
    struct child_header *c;

    if (!h || size > SIZE_MAX - sizeof(*c))
        return NULL;
    /* The header sits in front of the data, so the block is aligned for the data. */
    c = agn_pool_take(pub->ctx, align, sizeof(*c), sizeof(*c) + size);
    if (!c)
        return NULL;
    *c = (struct child_header){
        .next = h->children, .prev = 0, .msg = (uintptr_t)h, .magic = MSG_CHILD, .size = size};
    h->nested += size;
    if (h->children)
        ((struct child_header *)h->children)->prev = (uintptr_t)c;
    h->children = (uintptr_t)c;
    return c + 1;
}

static struct child_header *child_of(struct agn_pool *pool, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    struct child_header *c;

    if (p % 16 || !agn_pool_contains(pool, p - sizeof(*c) - 16))
        return NULL;
    c = (struct child_header *)(p - sizeof(*c));
    if (c->magic != MSG_CHILD || agn_pool_usable_size(pool, c) < sizeof(*c))
        return NULL;
    return c;
}

const void *agn_loan_nested_parent(struct agn_pool *pool, const void *ptr)
{
    struct child_header *c = child_of(pool, ptr);

    return c ? (struct msg_header *)c->msg + 1 : NULL;
}

size_t agn_loan_nested_usable(struct agn_pool *pool, const void *ptr)
{
    struct child_header *c = child_of(pool, ptr);

    return c ? agn_pool_usable_size(pool, c) - sizeof(*c) : 0;
}

/* Points the list at c's new address (after a move) or past it (moved = 0). */
static void relink(struct msg_header *h, struct child_header *c, uintptr_t moved)
{
    uintptr_t to = moved ? moved : c->next;

    if (c->prev)
        ((struct child_header *)c->prev)->next = to;
    else
        h->children = to;
    if (c->next)
        ((struct child_header *)c->next)->prev = moved ? moved : c->prev;
}

void agn_loan_nested_free(struct agnocast_publisher *pub, void *ptr)
{
    struct child_header *c = child_of(&pub->ctx->pool, ptr);

    if (!c)
        return;
    relink((struct msg_header *)c->msg, c, 0);
    ((struct msg_header *)c->msg)->nested -= c->size;
    c->magic = 0;
    agn_pool_free(&pub->ctx->pool, c);
}

void *agn_loan_nested_realloc(struct agnocast_publisher *pub, void *ptr, size_t size)
{
    struct child_header *c = child_of(&pub->ctx->pool, ptr), *n;

    if (!c || size > SIZE_MAX - sizeof(*c))
        return NULL;
    n = agn_pool_realloc(&pub->ctx->pool, c, sizeof(*c) + size);
    if (!n)
        return NULL;
    if (n != c)
        relink((struct msg_header *)n->msg, n, (uintptr_t)n);
    ((struct msg_header *)n->msg)->nested += size - n->size;
    n->size = size;
    return n + 1;
}
