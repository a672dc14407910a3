/*
 * The peek gate: lets a busy-polling thread look, without ctx->lock, whether a subscription
 * has anything new (take, and dispatch while busy polling, call this every loop), while the
 * threads that change what it looks at (a publisher added or removed, its segment unmapped)
 * wait until no such look is in flight.
 *
 * A reader marks a record of its own (one per thread, on a line of its own) and then reads the
 * gate's `closed`; a writer sets `closed` and then waits until no record is marked. All four
 * are sequentially consistent, so one of the two sees the other (Dekker): either the reader
 * sees the gate closed and takes the lock instead, or the writer sees the reader and waits for
 * it. A look that cannot get in (the gate closed, no record left) answers "maybe": the caller
 * then takes the lock, as before there was a gate.
 *
 * Why not a plain store and membarrier(2) on the writer's side (liburcu's "memb" scheme): tried
 * first. The marking store then let the polling loop run ahead of itself, several loads of the
 * ring entry in flight while the publisher writes it, and a busy-polled message arrived about
 * 15 % later than under the mutex this replaces; the exchange (one locked instruction on a line
 * nobody else writes) keeps one look at a time and was as fast as the mutex or faster.
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
    bool key_ok;
    unsigned id;       /* this gate among the process's (a later context may reuse its address) */
    pthread_key_t key; /* its destructor gives the thread's record back at thread exit */
    struct agn_peek_reader readers[AGN_PEEK_READERS];
};

/* The calling thread's record in the gate with this id. Initial-exec like log.h's counters (the
 * look is on the busy path); 16 bytes of static TLS. */
struct agn_peek_thread {
    unsigned gate_id;
    struct agn_peek_reader *reader;
};
extern __thread struct agn_peek_thread agn_peek_thread __attribute__((tls_model("initial-exec")));

void agn_peek_init(struct agn_peek_gate *g);
void agn_peek_destroy(struct agn_peek_gate *g);

/* The first look of a thread: claims a record. */
struct agn_peek_reader *agn_peek_enter_first(struct agn_peek_gate *g);

static inline void agn_peek_leave(struct agn_peek_reader *r)
{
    atomic_store_explicit(&r->active, false, memory_order_release);
}

/* Starts a look: the thread's record, or NULL when it must take the lock instead. */
static inline struct agn_peek_reader *agn_peek_enter(struct agn_peek_gate *g)
{
    struct agn_peek_reader *r = agn_peek_thread.reader;

    if (__builtin_expect(agn_peek_thread.gate_id != g->id || r == NULL, 0) &&
        (r = agn_peek_enter_first(g)) == NULL)
        return NULL;
    atomic_exchange_explicit(&r->active, true, memory_order_seq_cst);
    if (atomic_load_explicit(&g->closed, memory_order_seq_cst)) {
        agn_peek_leave(r);
        return NULL;
    }
    return r;
}

/* Under ctx->lock, around every change to what a look reads (sources, callback list) and
 * before unmapping what it may point into: close waits out the looks in flight. */
void agn_peek_close(struct agn_peek_gate *g);
void agn_peek_open(struct agn_peek_gate *g);

#endif
