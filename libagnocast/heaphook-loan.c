/* The per-thread loan window and the private entry points the heap hook calls. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "loan.h"
#include "log.h"
#include "pool.h"
#include "ring.h"

/*
 * Whole-heap mode (AGNOCAST_HEAPHOOK_ALL=1): allocations outside any loan window come from the
 * process's segment too, as in the original prototype, so any heap data is readable by peers
 * at the same address. The first such allocation starts the context (its own allocations stay
 * private: the hook marks this thread busy); without a broker the mode turns itself off and
 * says so once. A plain block carries a 16-byte header whose last word is PLAIN_MAGIC, which no
 * message or nested allocation has there, so free() can tell it apart.
 */
#define PLAIN_MAGIC 0x5041454850ull /* "PHEAP" */

struct plain_header {
    uint64_t size;
    uint64_t magic;
};

static _Atomic int whole_heap = -1; /* -1 unknown, 0 off, 1 on */
static pthread_mutex_t whole_heap_lock = PTHREAD_MUTEX_INITIALIZER;

static struct agnocast_context *whole_heap_context(void)
{
    struct agnocast_context *ctx;
    int mode = atomic_load_explicit(&whole_heap, memory_order_acquire);

    if (mode == -1) {
        const char *v = getenv("AGNOCAST_HEAPHOOK_ALL");
        mode = v && *v && strcmp(v, "0") != 0;
        atomic_store(&whole_heap, mode);
    }
    if (mode != 1)
        return NULL;
    if ((ctx = agn_context_current()) != NULL)
        return ctx;
    /* Another thread is starting it: this allocation stays private. */
    if (agn_trylock(&whole_heap_lock) != 0)
        return NULL;
    if ((ctx = agn_context_current()) == NULL && agnocast_context_new(&ctx) < 0) {
        agn_log(AGNOCAST_LOG_WARNING,
                "AGNOCAST_HEAPHOOK_ALL: cannot start agnocast (%s); the heap stays private",
                agnocast_last_error());
        atomic_store(&whole_heap, 0);
        ctx = NULL;
    }
    agn_unlock(&whole_heap_lock);
    return ctx;
}

static struct plain_header *plain_of(struct agn_pool *pool, const void *ptr)
{
    struct plain_header *h = (struct plain_header *)ptr - 1;

    if ((uintptr_t)ptr % 16 || !agn_pool_contains(pool, (uintptr_t)h) || h->magic != PLAIN_MAGIC)
        return NULL;
    return h;
}

static void *plain_alloc(struct agnocast_context *ctx, size_t align, size_t size)
{
    struct plain_header *h;

    if (size > SIZE_MAX - sizeof(*h) - align)
        return NULL;
    h = agn_ring_alloc(ctx, align, sizeof(*h), sizeof(*h) + size);
    if (!h)
        return NULL;
    *h = (struct plain_header){.size = size, .magic = PLAIN_MAGIC};
    return h + 1;
}

AGNOCAST_EXPORT void *agnocast__hook_alloc(size_t align, size_t size, int *routed)
{
    void *loan;
    struct agnocast_publisher *pub = agn_loan_current(&loan);
    struct agnocast_context *ctx;
    void *p;

    if (!pub && (ctx = whole_heap_context()) != NULL) {
        /* A full pool past its ceiling: the program goes on with private memory. */
        p = plain_alloc(ctx, align, size);
        *routed = p != NULL;
        return p;
    }
    *routed = pub != NULL;
    if (!pub)
        return NULL;
    p = agn_loan_nested_alloc(pub, loan, align, size);
    if (!p)
        errno = ENOMEM;
    return p;
}

/* Whether ptr is a nested allocation of this thread's current loan. */
static struct agnocast_publisher *mine(struct agn_pool *pool, const void *ptr)
{
    void *loan;
    struct agnocast_publisher *pub = agn_loan_current(&loan);

    if (!pub || pool != &pub->ctx->pool)
        return NULL;
    return agn_loan_nested_parent(pool, ptr) == loan ? pub : NULL;
}

AGNOCAST_EXPORT int agnocast__hook_free(void *ptr)
{
    bool inherited = false;
    struct agn_pool *pool = agn_pool_owner(ptr, &inherited);
    struct agnocast_publisher *pub;

    if (!pool)
        return 0;
    if (inherited)
        return 1; /* a fork child's copy of a parent's pointer: the parent owns it */
    {
        struct plain_header *h = plain_of(pool, ptr);
        if (h) {
            h->magic = 0;
            agn_pool_free(pool, h);
            return 1;
        }
    }
    /* Anything else stays: the message it belongs to frees it when it is reclaimed. */
    if ((pub = mine(pool, ptr)))
        agn_loan_nested_free(pub, ptr);
    return 1;
}

AGNOCAST_EXPORT void *agnocast__hook_realloc(void *ptr, size_t size, int *routed)
{
    bool inherited = false;
    struct agn_pool *pool = agn_pool_owner(ptr, &inherited);
    struct agnocast_publisher *pub;
    void *p;

    if (!pool) {
        *routed = 0;
        return NULL;
    }
    if (inherited) {
        /* Not mapped in this fork child: there is nothing to copy from. */
        *routed = 1;
        errno = ENOMEM;
        return NULL;
    }
    {
        struct plain_header *h = plain_of(pool, ptr);
        struct agnocast_context *ctx = agn_context_current();
        if (h && ctx) {
            *routed = 1;
            if (size == 0) {
                h->magic = 0;
                agn_pool_free(pool, h);
                return NULL;
            }
            p = plain_alloc(ctx, 16, size);
            if (!p) {
                errno = ENOMEM;
                return NULL;
            }
            memcpy(p, ptr, h->size < size ? h->size : size);
            h->magic = 0;
            agn_pool_free(pool, h);
            return p;
        }
    }
    if (!(pub = mine(pool, ptr))) {
        *routed = 2;
        return NULL;
    }
    *routed = 1;
    if (size == 0) {
        agn_loan_nested_free(pub, ptr);
        return NULL;
    }
    p = agn_loan_nested_realloc(pub, ptr, size);
    if (!p)
        errno = ENOMEM;
    return p;
}

AGNOCAST_EXPORT size_t agnocast__hook_usable_size(const void *ptr, int *routed)
{
    bool inherited = false;
    struct agn_pool *pool = agn_pool_owner(ptr, &inherited);

    const struct plain_header *h;

    *routed = pool != NULL;
    if (pool && !inherited && (h = plain_of(pool, ptr)) != NULL)
        return h->size;
    return pool && !inherited ? agn_loan_nested_usable(pool, ptr) : 0;
}
