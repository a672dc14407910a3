/* Loans: the message a publisher lends, its nested allocations, and the thread's loan window
 * (the heap hook routes allocations made in it into the message). */
#include "loan.h"

#include <pthread.h>
#include <stdint.h>

#include "context.h"
#include "pool.h"
#include "ring.h"

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

void agn_loan_window_open(struct agnocast_publisher *pub, void *data)
{
    window.pub = pub;
    window.data = data;
    window.generation = agn_pool_generation();
}

void agn_loan_window_close(void *data)
{
    if (window.data == data) {
        window.pub = NULL;
        window.data = NULL;
    }
}

/* The current loan, or NULL when there is none or it has ended behind our back. */
struct agnocast_publisher *agn_loan_current(void **data)
{
    struct agnocast_publisher *pub = window.pub;

    *data = window.data;
    if (!pub)
        return NULL;
    if (window.generation != agn_pool_generation() || agn_loan_header(pub, window.data) == NULL) {
        window.pub = NULL;
        window.data = NULL;
        return NULL;
    }
    return pub;
}

struct agn_msg_header *agn_loan_header(struct agnocast_publisher *pub, void *data)
{
    struct agnocast_context *ctx = pub->ctx;
    uintptr_t p = (uintptr_t)data;
    struct agn_msg_header *h;

    if (p % 16 || !agn_pool_contains(&ctx->pool, p - sizeof(*h)))
        return NULL;
    h = (struct agn_msg_header *)(p - sizeof(*h));
    if (h->magic != AGN_MSG_LOANED || h->owner != pub)
        return NULL;
    return h;
}

void *agn_loan_nested_alloc(struct agnocast_publisher *pub, void *data, size_t align, size_t size)
{
    struct agn_msg_header *h = agn_loan_header(pub, data);
    struct agn_child_header *c;

    if (!h || size > SIZE_MAX - sizeof(*c))
        return NULL;
    /* The header sits in front of the data, so the block is aligned for the data. */
    c = agn_ring_alloc(pub->ctx, align, sizeof(*c), sizeof(*c) + size);
    if (!c)
        return NULL;
    *c = (struct agn_child_header){
        .next = h->children, .prev = 0, .msg = (uintptr_t)h, .magic = AGN_MSG_CHILD, .size = size};
    h->nested += size;
    if (h->children)
        ((struct agn_child_header *)h->children)->prev = (uintptr_t)c;
    h->children = (uintptr_t)c;
    return c + 1;
}

static struct agn_child_header *child_of(struct agn_pool *pool, const void *ptr)
{
    uintptr_t p = (uintptr_t)ptr;
    struct agn_child_header *c;

    if (p % 16 || !agn_pool_contains(pool, p - sizeof(*c) - 16))
        return NULL;
    c = (struct agn_child_header *)(p - sizeof(*c));
    if (c->magic != AGN_MSG_CHILD || agn_pool_usable_size(pool, c) < sizeof(*c))
        return NULL;
    return c;
}

const void *agn_loan_nested_parent(struct agn_pool *pool, const void *ptr)
{
    struct agn_child_header *c = child_of(pool, ptr);

    return c ? (struct agn_msg_header *)c->msg + 1 : NULL;
}

size_t agn_loan_nested_usable(struct agn_pool *pool, const void *ptr)
{
    struct agn_child_header *c = child_of(pool, ptr);

    return c ? agn_pool_usable_size(pool, c) - sizeof(*c) : 0;
}

/* Points the list at c's new address (after a move) or past it (moved = 0). */
static void relink(struct agn_msg_header *h, struct agn_child_header *c, uintptr_t moved)
{
    uintptr_t to = moved ? moved : c->next;

    if (c->prev)
        ((struct agn_child_header *)c->prev)->next = to;
    else
        h->children = to;
    if (c->next)
        ((struct agn_child_header *)c->next)->prev = moved ? moved : c->prev;
}

void agn_loan_nested_free(struct agnocast_publisher *pub, void *ptr)
{
    struct agn_child_header *c = child_of(&pub->ctx->pool, ptr);

    if (!c)
        return;
    relink((struct agn_msg_header *)c->msg, c, 0);
    ((struct agn_msg_header *)c->msg)->nested -= c->size;
    c->magic = 0;
    agn_pool_free(&pub->ctx->pool, c);
}

void *agn_loan_nested_realloc(struct agnocast_publisher *pub, void *ptr, size_t size)
{
    struct agn_child_header *c = child_of(&pub->ctx->pool, ptr), *n;

    if (!c || size > SIZE_MAX - sizeof(*c))
        return NULL;
    n = agn_pool_realloc(&pub->ctx->pool, c, sizeof(*c) + size);
    if (!n)
        return NULL;
    if (n != c)
        relink((struct agn_msg_header *)n->msg, n, (uintptr_t)n);
    ((struct agn_msg_header *)n->msg)->nested += size - n->size;
    n->size = size;
    return n + 1;
}
