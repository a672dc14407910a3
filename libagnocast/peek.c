/* The peek gate (peek.h). */
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "peek.h"

static int membarrier(int cmd)
{
    return (int)syscall(SYS_membarrier, cmd, 0, 0);
}

/* At thread exit (the key's destructor): the record goes back to the gate. */
static void reader_free(void *p)
{
    struct agn_peek_reader *r = p;

    atomic_store_explicit(&r->active, false, memory_order_relaxed);
    atomic_store_explicit(&r->used, false, memory_order_release);
}

void agn_peek_init(struct agn_peek_gate *g)
{
    g->membarrier = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    g->key_ok = pthread_key_create(&g->key, reader_free) == 0;
    if (!g->membarrier)
        agn_log(AGNOCAST_LOG_DEBUG, "membarrier is not available: busy polling fences itself");
}

void agn_peek_destroy(struct agn_peek_gate *g)
{
    /* The records' memory goes with the context; no destructor may run on it afterwards. */
    if (g->key_ok)
        pthread_key_delete(g->key);
    g->key_ok = false;
}

static struct agn_peek_reader *reader_claim(struct agn_peek_gate *g)
{
    for (int i = 0; i < AGN_PEEK_READERS; i++) {
        struct agn_peek_reader *r = &g->readers[i];
        bool free = false;
        if (atomic_compare_exchange_strong(&r->used, &free, true)) {
            if (pthread_setspecific(g->key, r) != 0) {
                atomic_store(&r->used, false);
                return NULL;
            }
            return r;
        }
    }
    return NULL;
}

struct agn_peek_reader *agn_peek_enter(struct agn_peek_gate *g)
{
#ifdef __SANITIZE_THREAD__
    /* ThreadSanitizer does not know membarrier: every look would be reported as a race with
     * the writer it waited out. Under it the busy path takes the lock, as readers without a
     * record do. */
    (void)g;
    return NULL;
#else
    struct agn_peek_reader *r;

    if (!g->key_ok)
        return NULL;
    if ((r = pthread_getspecific(g->key)) == NULL && (r = reader_claim(g)) == NULL)
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

void agn_peek_close(struct agn_peek_gate *g)
{
    atomic_store_explicit(&g->closed, true, memory_order_relaxed);
    /* The global command needs no registration: the fallback if the private one fails. */
    if (!g->membarrier ||
        (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) < 0 && membarrier(MEMBARRIER_CMD_GLOBAL) < 0))
        atomic_thread_fence(memory_order_seq_cst);
    /* A look is a bounded loop over at most AGN_MAX_SOURCES entries: this wait is short
     * unless the reader was preempted, hence the yield. */
    for (int i = 0; i < AGN_PEEK_READERS; i++)
        while (atomic_load_explicit(&g->readers[i].active, memory_order_acquire))
            sched_yield();
}

void agn_peek_open(struct agn_peek_gate *g)
{
    atomic_store_explicit(&g->closed, false, memory_order_release);
}
