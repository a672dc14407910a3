/* The allocator of a process's own segment: TLSF, all its metadata inside the pool. */
#ifndef AGNOCAST_POOL_H
#define AGNOCAST_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGN_POOL_EXTRA_AREAS 15 /* areas added by growth, besides the first */
struct agn_pool {
    pthread_mutex_t lock;
    uintptr_t start, end; /* the area given to agn_pool_init */
    struct {
        uintptr_t start, end;
    } extra[AGN_POOL_EXTRA_AREAS]; /* areas added later (pool growth) */
    _Atomic unsigned nextra;
    size_t capacity; /* bytes of all areas */
    uintptr_t ctl;   /* the control block, at `start`; 0 if the area was too small */
    size_t used;     /* bytes in allocated blocks, headers included */
    size_t allocations;
    size_t bad_frees; /* frees of pointers that were not live blocks (ignored) */
};
struct agn_pool_stats {
    size_t used_blocks, used_bytes;
    size_t free_blocks, free_bytes;
    size_t largest_free; /* the largest payload one allocation could get */
};
/* Blocks are 16-byte aligned; a request of 0 bytes gets a minimal block (as malloc does). */
void agn_pool_init(struct agn_pool *pool, void *start, size_t size);
/* Adds memory to an initialised pool (growth); 0, or -ENOSPC past AGN_POOL_EXTRA_AREAS. */
int agn_pool_add_area(struct agn_pool *pool, void *start, size_t size);
/* Whether p lies in one of the pool's areas. */
bool agn_pool_contains(struct agn_pool *pool, uintptr_t p);
/* Forgets the pool's area in the table agn_pool_owner() reads; call before unmapping it. */
void agn_pool_fini(struct agn_pool *pool);
/* Counts agn_pool_fini calls: a saved value that differs means a pool may be gone. */
uint64_t agn_pool_generation(void);
void *agn_pool_alloc(struct agn_pool *pool, size_t size);
/* `align` a power of two (any size up to the pool's); NULL if it is not or there is no room. */
void *agn_pool_memalign(struct agn_pool *pool, size_t align, size_t size);
/* A block whose payload p has (p + offset) % align == 0: room for a header of `offset` bytes
 * (a multiple of 16) in front of aligned data. */
void *agn_pool_memalign_offset(struct agn_pool *pool, size_t align, size_t offset, size_t size);
/* In place when it can; NULL (ptr untouched) when there is no room. size 0 keeps a minimal block.
 */
void *agn_pool_realloc(struct agn_pool *pool, void *ptr, size_t size);
void agn_pool_free(struct agn_pool *pool, void *ptr);
/* Payload bytes of a live block (>= the size asked for), 0 for anything else. */
size_t agn_pool_usable_size(struct agn_pool *pool, const void *ptr);
size_t agn_pool_used(struct agn_pool *pool);
/* The pool one of whose areas holds ptr, NULL for any other address. Lock-free; any thread.
 * *inherited (if given) is set for a pool of the parent in a fork child: its memory is not
 * mapped there and must not be read. */
struct agn_pool *agn_pool_owner(const void *ptr, bool *inherited);
/* Walks every block and list; fills st; -EBADMSG if any invariant is broken. For tests. */
int agn_pool_check(struct agn_pool *pool, struct agn_pool_stats *st);

#endif
