/* What the heap hook (libagnocast_heaphook.so) and the client library share: the per-thread
 * current loan, nested allocations by address, and the private entry points of the hook. */
#ifndef AGNOCAST_HEAPHOOK_INTERNAL_H
#define AGNOCAST_HEAPHOOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "agnocast.h"

/*
 * Private entry points, exported by libagnocast.so for the hook only (the double underscore
 * keeps them out of the public API; the version script exports agnocast_*). Any thread; they
 * never call malloc. `routed` says who owns the call: 0 the private heap (the caller forwards
 * to it), 1 done here (the result is final, NULL with errno = ENOMEM when the pool is full),
 * 2 a pointer of a pool that this thread may not change (another thread's loan, a published
 * message, a parent's segment after fork): the caller copies and leaves it alone.
 */

/* In a loan window on this thread: a nested allocation of the current loan (align a power of
 * two, 16 or more is honoured exactly). Outside one: routed 0. */
AGNOCAST_EXPORT void *agnocast__hook_alloc(size_t align, size_t size, int *routed);
/* 0: not pool memory (the caller frees it privately). 1: pool memory, freed if it is a nested
 * allocation of this thread's current loan, otherwise left to the message's reclaim. */
AGNOCAST_EXPORT int agnocast__hook_free(void *ptr);
AGNOCAST_EXPORT void *agnocast__hook_realloc(void *ptr, size_t size, int *routed);
/* Usable bytes of a nested allocation; routed 0 for private memory; 0 bytes for pool memory
 * that is no nested allocation. */
AGNOCAST_EXPORT size_t agnocast__hook_usable_size(const void *ptr, int *routed);

/* ---- inside the library ---- */
struct agn_pool;

/* publisher.c: a loan opens this thread's window, publish or drop of it closes it. */
void agn_hook_loan_begin(struct agnocast_publisher *pub, void *data);
void agn_hook_loan_end(void *data);

/* publisher.c: nested allocations of an outstanding loan, by address. */
void *agn_loan_nested_alloc(struct agnocast_publisher *pub, void *data, size_t align, size_t size);
/* The message data a nested allocation belongs to (whatever its state), NULL if ptr is none. */
const void *agn_loan_nested_parent(struct agn_pool *pool, const void *ptr);
/* Only for a nested allocation of the outstanding loan `data` of pub. */
void agn_loan_nested_free(struct agnocast_publisher *pub, void *ptr);
void *agn_loan_nested_realloc(struct agnocast_publisher *pub, void *ptr, size_t size);
size_t agn_loan_nested_usable(struct agn_pool *pool, const void *ptr);
/* Whether data is still an outstanding loan of pub (not published, dropped or freed). */
bool agn_loan_outstanding(struct agnocast_publisher *pub, void *data);

#endif
