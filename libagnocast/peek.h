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
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer does not know membarrier: every look would be reported as a race with
     * the writer it waited out. Under it the busy path takes the lock, as readers without a
     * record do. */
    (void)g;
    return NULL;
#else
    struct agn_peek_reader *r = agn_peek_thread.reader;

    if (__builtin_expect(agn_peek_thread.gate_id != g->id || r == NULL, 0) &&
        (r = agn_peek_enter_first(g)) == NULL)
        return NULL;
    atomic_store_explicit(&r->active, true, memory_order_relaxed);
    /* Dekker with agn_peek_close: our store before our load of `closed`. membarrier makes the
     * writer's side of the fence ours too, so only the compiler must keep the order here. */
    if (g->membarrier)
        atomic_signal_fence(memory_order_seq_cst);
    else
        atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&g->closed, memory_order_acquire)) {
        agn_peek_leave(r);
        return NULL;
    }
    return r;
#endif
}

/* Under ctx->lock, around every change to what a look reads (sources, callback list) and
 * before unmapping what it may point into: close waits out the looks in flight. */
void agn_peek_close(struct agn_peek_gate *g);
void agn_peek_open(struct agn_peek_gate *g);

#endif
