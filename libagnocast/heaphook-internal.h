/* What the heap-hook entry points (heaphook-loan.c) and the rest of the client library share:
 * the per-thread current loan and nested allocations by address. */
#ifndef AGNOCAST_HEAPHOOK_INTERNAL_H
#define AGNOCAST_HEAPHOOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "agnocast.h"

/* The hook's entry points (agnocast__hook_*) are declared in agnocast.h, which exports them. */

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
