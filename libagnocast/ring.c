/*
 * The ring: how a message goes from its publisher to its subscribers and back to the pool, and
 * the memory-ordering argument that makes it safe, both halves, in one place.
 *
 * Publish (agn_ring_write). Message n goes into entry n % depth as a seqlock write: seq = 0
 * (relaxed), a release fence, the fields (relaxed), seq = n (release), then the slot's
 * head = n (release). A reader that loads seq == n with acquire, reads the fields, issues an
 * acquire fence and loads seq == n again has read the fields of message n and not a mix
 * (shm/shm-reader.h, agn_shm_entry_read): the release fence orders the invalidation before
 * the new fields, the release store of n orders the fields before the validation.
 *
 * Hold (agn_ring_hold). A subscriber that read message n stores the message's address in its
 * OWN segment's hold table (relaxed), issues a seq_cst fence, and loads the entry's seq again.
 * If it still carries n, the hold is good.
 *
 * Release -> reuse (agn_ring_retire, agn_ring_reclaim). A message leaves its ring when entry
 * n % depth is rewritten for n + depth: the seqlock write above first stores seq = 0. The
 * retired message is freed only by a reclaim scan, which issues a seq_cst fence and then reads
 * the hold tables of this process and of every process in accepted_pids (relaxed loads). The
 * two seq_cst fences are ordered one way or the other: if the subscriber's fence comes first,
 * its hold store is visible to the scan, which keeps the message; if the publisher's fence
 * comes first, the invalidation (sequenced before it) is visible to the subscriber's second
 * load of seq, which then gives up its hold. Either the publisher sees the hold or the
 * subscriber sees the message gone; never neither. A release clears the hold with a release
 * store, so the subscriber's reads of the message happen before the scan that no longer sees
 * the hold, and therefore before the free and any reuse of the memory by the next loan.
 * A subscriber reads a ring only after it found its pid in the publisher's accepted_pids
 * (acquire), which the publisher wrote before scanning that peer's holds: its holds are
 * always in the scan.
 */
#include "ring.h"

#include <errno.h>

#include "context.h"
#include "log.h"
#include "peer.h"
#include "segment.h"

void agn_ring_free_message(struct agnocast_context *ctx, struct agn_msg_header *h)
{
    uintptr_t c = h->children;

    while (c) {
        struct agn_child_header *ch = (struct agn_child_header *)c;
        c = ch->next;
        ch->magic = 0;
        agn_pool_free(&ctx->pool, ch);
    }
    h->magic = 0;
    agn_pool_free(&ctx->pool, h);
}

void agn_ring_retire(struct agnocast_context *ctx, void *data)
{
    struct agn_msg_header *h = (struct agn_msg_header *)data - 1;

    h->next_retired = ctx->retired.list;
    ctx->retired.list = (uintptr_t)h;
    ctx->retired.count++;
}

/* Retired messages looked up in one pass over the hold tables: a batch on the publish path
 * (AGN_RECLAIM_BATCH), more when subscribers hold some for a while. */
#define RECLAIM_CHUNK 64

/*
 * Frees the retired messages no hold table holds. Each table is read once per chunk of the
 * retired list, not once per message: its lines are written by the process that owns it, so
 * every pass over them can miss the cache.
 */
void agn_ring_reclaim(struct agnocast_context *ctx)
{
    const struct agn_shm_view *tables[AGN_MAX_PEERS + 1];
    uintptr_t *link = &ctx->retired.list;
    unsigned ntables;

    if (!ctx->retired.list)
        return;
    /* Pairs with the fence a subscriber issues between publishing a hold and re-checking the
     * ring entry: either we see its hold, or it sees the entry gone. */
    atomic_thread_fence(memory_order_seq_cst);
    ntables = agn_peer_hold_tables(ctx, tables);
    while (*link) {
        struct agn_msg_header *chunk[RECLAIM_CHUNK];
        uint64_t addrs[RECLAIM_CHUNK];
        bool held[RECLAIM_CHUNK] = {false};
        unsigned n = 0, nheld = 0;

        for (uintptr_t at = *link; at && n < RECLAIM_CHUNK; n++) {
            chunk[n] = (struct agn_msg_header *)at;
            addrs[n] = (uint64_t)(uintptr_t)(chunk[n] + 1);
            at = chunk[n]->next_retired;
        }
        for (unsigned i = 0; i < ntables && nheld < n; i++)
            nheld += agn_shm_holds_mark(tables[i], addrs, n, held);
        /* The chunk is the run of the list that starts at *link. */
        for (unsigned k = 0; k < n; k++) {
            struct agn_msg_header *h = chunk[k];
            if (held[k]) {
                link = &h->next_retired;
                continue;
            }
            *link = h->next_retired;
            ctx->retired.count--;
            agn_ring_free_message(ctx, h);
        }
    }
}

/* Allocates from the own pool; when it is full, first reclaims what subscribers released,
 * then grows it (flow 6). NULL with the reason in agnocast_last_error(). */
void *agn_ring_alloc(struct agnocast_context *ctx, size_t align, size_t offset, size_t size)
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
            agn_ring_reclaim(ctx);
            agn_unlock(&ctx->lock);
            continue;
        }
        agn_lock(&ctx->segment.grow_lock);
        /* Another thread may have grown it meanwhile. */
        p = align > 16 ? agn_pool_memalign_offset(&ctx->pool, align, offset, size)
                       : agn_pool_alloc(&ctx->pool, size);
        if (!p)
            r = agn_segment_grow(ctx, size + align);
        agn_unlock(&ctx->segment.grow_lock);
        if (p)
            return p;
        if (r < 0)
            return NULL;
    }
}
