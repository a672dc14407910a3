/* The per-thread loan window and the private entry points the heap hook calls. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "agnocast-internal.h"
#include "heaphook-internal.h"

/*
 * The window: between agnocast_publisher_loan() and the publish or drop of that loan, the
 * thread's allocations belong to the message. Only the latest loan of a thread is current.
 * `generation` guards against a context freed meanwhile (its publisher memory is gone): the
 * window is checked against the pool generation before pub is touched.
 *
 * initial-exec: the hook reads this from inside malloc, where a lazily allocated TLS block
 * would recurse into malloc.
 */
static __thread struct {
    struct agnocast_publisher *pub;
    void *data;
    uint64_t generation;
} window __attribute__((tls_model("initial-exec")));

/* A fork child starts with no window: the parent's segment is not its own to write. */
static void clear_in_child(void)
{
    window.pub = NULL;
    window.data = NULL;
}

__attribute__((constructor)) static void register_fork_handler(void)
{
    pthread_atfork(NULL, NULL, clear_in_child);
}

void agn_hook_loan_begin(struct agnocast_publisher *pub, void *data)
{
    window.pub = pub;
    window.data = data;
    window.generation = agn_pool_generation();
}

void agn_hook_loan_end(void *data)
{
    if (window.data == data) {
        window.pub = NULL;
        window.data = NULL;
    }
}

/* The current loan, or NULL when there is none or it has ended behind our back. */
static struct agnocast_publisher *current(void)
{
    struct agnocast_publisher *pub = window.pub;

    if (!pub)
        return NULL;
    if (window.generation != agn_pool_generation() || !agn_loan_outstanding(pub, window.data)) {
        window.pub = NULL;
        window.data = NULL;
        return NULL;
    }
    return pub;
}

AGNOCAST_EXPORT void *agnocast__hook_alloc(size_t align, size_t size, int *routed)
{
    struct agnocast_publisher *pub = current();
    void *p;

    *routed = pub != NULL;
    if (!pub)
        return NULL;
    p = agn_loan_nested_alloc(pub, window.data, align, size);
    if (!p)
        errno = ENOMEM;
    return p;
}

/* Whether ptr is a nested allocation of this thread's current loan. */
static struct agnocast_publisher *mine(struct agn_pool *pool, const void *ptr)
{
    struct agnocast_publisher *pub = current();

    if (!pub || pool != &pub->ctx->pool)
        return NULL;
    return agn_loan_nested_parent(pool, ptr) == window.data ? pub : NULL;
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

    *routed = pool != NULL;
    return pool && !inherited ? agn_loan_nested_usable(pool, ptr) : 0;
}
