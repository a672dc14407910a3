/* The peek gate (peek.h). */
#include <sched.h>

#include "log.h"
#include "peek.h"

__thread struct agn_peek_thread agn_peek_thread __attribute__((tls_model("initial-exec")));

/* Gate ids start at 1: a thread's zeroed TLS names no gate. */
static _Atomic unsigned gate_ids;

/* At thread exit (the key's destructor, on the exiting thread): the record goes back. */
static void reader_free(void *p)
{
    struct agn_peek_reader *r = p;

    if (agn_peek_thread.reader == r)
        agn_peek_thread = (struct agn_peek_thread){0};
    atomic_store_explicit(&r->active, false, memory_order_relaxed);
    atomic_store_explicit(&r->used, false, memory_order_release);
}

void agn_peek_init(struct agn_peek_gate *g)
{
    g->id = atomic_fetch_add(&gate_ids, 1) + 1;
    g->key_ok = pthread_key_create(&g->key, reader_free) == 0;
    if (!g->key_ok)
        agn_log(AGNOCAST_LOG_DEBUG, "no thread key left: busy polling takes the lock");
}

void agn_peek_destroy(struct agn_peek_gate *g)
{
    /* The records' memory goes with the context; no destructor may run on it afterwards. */
    if (g->key_ok)
        pthread_key_delete(g->key);
    g->key_ok = false;
}

struct agn_peek_reader *agn_peek_enter_first(struct agn_peek_gate *g)
{
    if (!g->key_ok)
        return NULL;
    for (int i = 0; i < AGN_PEEK_READERS; i++) {
        struct agn_peek_reader *r = &g->readers[i];
        bool free = false;
        if (atomic_compare_exchange_strong(&r->used, &free, true)) {
            if (pthread_setspecific(g->key, r) != 0) {
                atomic_store(&r->used, false);
                return NULL;
            }
            agn_peek_thread = (struct agn_peek_thread){.gate_id = g->id, .reader = r};
            return r;
        }
    }
    return NULL; /* every record taken: this thread looks under the lock */
}

void agn_peek_close(struct agn_peek_gate *g)
{
    atomic_store_explicit(&g->closed, true, memory_order_seq_cst);
    /* A look is a bounded loop over at most AGN_MAX_SOURCES entries: this wait is short
     * unless the reader was preempted, hence the yield. */
    for (int i = 0; i < AGN_PEEK_READERS; i++)
        while (atomic_load_explicit(&g->readers[i].active, memory_order_seq_cst))
            sched_yield();
}

void agn_peek_open(struct agn_peek_gate *g)
{
    atomic_store_explicit(&g->closed, false, memory_order_release);
}
