/* The ring: publishing into it, holding what was read from it, retiring and reclaiming what
 * fell out of it (the memory-ordering argument is at the top of ring.c). */
#ifndef AGNOCAST_RING_H
#define AGNOCAST_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm-reader.h"

struct agnocast_context;
struct agnocast_publisher;

/* Its part of the context (ctx->retired, under ctx->lock): messages out of their rings that
 * someone may still hold, linked through their headers. */
struct agn_retired {
    uintptr_t list;
    unsigned count;
};

/*
 * Private bookkeeping in front of every loaned message, in the own segment. Subscribers never
 * read it (they get the data address from the ring). Nested allocations form a list from here.
 */
struct agn_msg_header {
    uint64_t magic;
    struct agnocast_publisher *owner;
    uintptr_t children;     /* first nested allocation (struct agn_child_header) */
    uintptr_t next_retired; /* in ctx->retired.list */
    uint64_t size;
    uint64_t nested; /* bytes asked for by its nested allocations (bw counts them) */
};

struct agn_child_header {
    uintptr_t next, prev; /* the message's nested allocations; prev 0 at the head */
    uintptr_t msg;        /* its struct agn_msg_header */
    uint64_t magic;
    uint64_t size; /* as asked for */
    uint64_t reserved;
};

#define AGN_MSG_LOANED    0x4e414f4c47534dull /* "MSGLOAN" */
#define AGN_MSG_PUBLISHED 0x42555047534dull   /* "MSGPUB" */
#define AGN_MSG_CHILD     0x444c494843ull     /* "CHILD" */

_Static_assert(sizeof(struct agn_msg_header) % 16 == 0, "payload stays 16-byte aligned");
_Static_assert(sizeof(struct agn_child_header) % 16 == 0, "payload stays 16-byte aligned");

/* Frees a message and its nested allocations (a dropped loan, a reclaimed message). */
void agn_ring_free_message(struct agnocast_context *ctx, struct agn_msg_header *h);
/* The message at `data` left its ring: freed by a later reclaim once nobody holds it.
 * Under ctx->lock. */
void agn_ring_retire(struct agnocast_context *ctx, void *data);
/* Frees retired messages nobody holds any more. Under ctx->lock. */
void agn_ring_reclaim(struct agnocast_context *ctx);
/* Allocates from the own pool: when it is full, reclaims, then grows it (flow 6). NULL with
 * the reason in agnocast_last_error(). Not under ctx->lock. */
void *agn_ring_alloc(struct agnocast_context *ctx, size_t align, size_t offset, size_t size);
/* The two halves of the message path, inline: each runs once per message (the argument for
 * their orderings is at the top of ring.c). */

/* Publishes message n at entry e and moves the head (the seqlock write). */
static inline void agn_ring_write(struct agn_ring_entry *e, _Atomic uint64_t *head, uint64_t n,
                                  const void *data, uint64_t size, uint64_t bytes,
                                  uint64_t timestamp_ns)
{
    /* Seqlock write: invalidate, then the fields, then the number that validates them. */
    atomic_store_explicit(&e->seq, 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&e->addr, (uintptr_t)data, memory_order_relaxed);
    atomic_store_explicit(&e->size, size, memory_order_relaxed);
    atomic_store_explicit(&e->timestamp_ns, timestamp_ns, memory_order_relaxed);
    atomic_store_explicit(&e->bytes, bytes, memory_order_relaxed);
    atomic_store_explicit(&e->seq, n, memory_order_release);
    atomic_store_explicit(head, n, memory_order_release);
}

/* Publishes a hold on `addr` in our hold table, then checks that entry seq % depth still
 * carries seq: true, the hold is good; false, the message is gone (clear the hold). */
static inline bool agn_ring_hold(_Atomic uint64_t *hold, const struct agn_shm_ring *ring,
                                 uint64_t seq, uint64_t addr)
{
    atomic_store_explicit(hold, addr, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    return agn_shm_entry_still(ring, seq);
}

#endif
