/* The allocator of the own segment's heap: address-ordered first fit with coalescing. */
#include <stddef.h>
#include <string.h>

#include "agnocast-internal.h"

/*
 * Every block starts with a 16-byte header: its size (header included, multiple of 16) with
 * bit 0 set while allocated, and, while free, the address of the next free block. The free
 * list is kept in address order so that freeing merges with both neighbours in one walk.
 */
struct block {
    size_t size_used;
    uintptr_t next_free;
};

#define BLOCK_ALIGN 16u
#define HDR sizeof(struct block)

_Static_assert(sizeof(struct block) == BLOCK_ALIGN, "block header keeps payload alignment");

void agn_pool_init(struct agn_pool *pool, void *start, size_t size)
{
    uintptr_t s = ((uintptr_t)start + BLOCK_ALIGN - 1) & ~(uintptr_t)(BLOCK_ALIGN - 1);
    uintptr_t e = ((uintptr_t)start + size) & ~(uintptr_t)(BLOCK_ALIGN - 1);
    struct block *b = (struct block *)s;

    pthread_mutex_init(&pool->lock, NULL);
    pool->start = s;
    pool->end = e;
    pool->used = 0;
    pool->allocations = 0;
    b->size_used = e - s;
    b->next_free = 0;
    pool->free_head = s;
}

void *agn_pool_alloc(struct agn_pool *pool, size_t size)
{
    size_t need;
    uintptr_t *link, cur;

    if (size == 0 || size > pool->end - pool->start)
        return NULL;
    need = (size + HDR + BLOCK_ALIGN - 1) & ~(size_t)(BLOCK_ALIGN - 1);
    pthread_mutex_lock(&pool->lock);
    for (link = &pool->free_head; (cur = *link) != 0; link = &((struct block *)cur)->next_free) {
        struct block *b = (struct block *)cur;
        if (b->size_used < need)
            continue;
        if (b->size_used - need >= HDR + BLOCK_ALIGN) {
            struct block *rest = (struct block *)(cur + need);
            rest->size_used = b->size_used - need;
            rest->next_free = b->next_free;
            *link = (uintptr_t)rest;
            b->size_used = need;
        } else {
            *link = b->next_free;
        }
        pool->used += b->size_used;
        pool->allocations++;
        b->size_used |= 1;
        pthread_mutex_unlock(&pool->lock);
        return (void *)(cur + HDR);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

void agn_pool_free(struct agn_pool *pool, void *ptr)
{
    struct block *b;
    uintptr_t addr, prev = 0, cur;

    if (!ptr)
        return;
    addr = (uintptr_t)ptr - HDR;
    b = (struct block *)addr;
    pthread_mutex_lock(&pool->lock);
    b->size_used &= ~(size_t)1;
    pool->used -= b->size_used;
    pool->allocations--;
    for (cur = pool->free_head; cur && cur < addr; cur = ((struct block *)cur)->next_free)
        prev = cur;
    b->next_free = cur;
    if (cur && addr + b->size_used == cur) {
        b->size_used += ((struct block *)cur)->size_used;
        b->next_free = ((struct block *)cur)->next_free;
    }
    if (prev) {
        struct block *p = (struct block *)prev;
        if (prev + p->size_used == addr) {
            p->size_used += b->size_used;
            p->next_free = b->next_free;
        } else {
            p->next_free = addr;
        }
    } else {
        pool->free_head = addr;
    }
    pthread_mutex_unlock(&pool->lock);
}

size_t agn_pool_used(struct agn_pool *pool)
{
    size_t used;

    pthread_mutex_lock(&pool->lock);
    used = pool->used;
    pthread_mutex_unlock(&pool->lock);
    return used;
}
