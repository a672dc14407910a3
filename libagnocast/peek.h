/*
 * The peek gate: lets a busy-polling thread look, without ctx->lock, whether a subscription
 * has anything new (take, and dispatch while busy polling, call this every loop), while the
 * threads that change what it looks at (a publisher added or removed, its segment unmapped)
 * wait until no such look is in flight.
 *
 * Readers announce themselves in a record of their own (one per thread) with a plain store;
 * the rare writer pays for the ordering with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
 * which runs a full barrier on every thread of the process (the scheme of liburcu's "memb"
 * flavour). Where membarrier is not allowed (an old kernel, a seccomp filter) readers fence
 * themselves: slower, still correct. A look that cannot get in (the gate closed, no record
 * left) answers "maybe": the caller then takes the lock, as before there was a gate.
 *
 * Depends on log only.
 */
#ifndef AGNOCAST_PEEK_H
#define AGNOCAST_PEEK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Threads that can peek at once without the lock; more fall back to it. */
#define AGN_PEEK_READERS 64

struct agn_peek_reader {
    _Atomic bool active;        /* a look is in flight */
    _Atomic bool used;          /* owned by a live thread */
} __attribute__((aligned(64))); /* each thread writes only its own line */

/* Its part of the context (ctx->peek). */
struct agn_peek_gate {
    _Atomic bool closed; /* a writer is changing the sources: no new look starts */
    bool membarrier;     /* registered: readers need no fence of their own */
    bool key_ok;
    pthread_key_t key; /* the calling thread's record; its destructor frees it */
    struct agn_peek_reader readers[AGN_PEEK_READERS];
};

void agn_peek_init(struct agn_peek_gate *g);
void agn_peek_destroy(struct agn_peek_gate *g);

/* Starts a look: the thread's record, or NULL when it must take the lock instead. */
struct agn_peek_reader *agn_peek_enter(struct agn_peek_gate *g);

static inline void agn_peek_leave(struct agn_peek_reader *r)
{
    atomic_store_explicit(&r->active, false, memory_order_release);
}

/* Under ctx->lock, around every change to what a look reads (sources, callback list) and
 * before unmapping what it may point into: close waits out the looks in flight. */
void agn_peek_close(struct agn_peek_gate *g);
void agn_peek_open(struct agn_peek_gate *g);

#endif
