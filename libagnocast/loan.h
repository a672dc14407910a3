/* Loans: lent messages, their nested allocations, and the thread's loan window. */
#ifndef AGNOCAST_LOAN_H
#define AGNOCAST_LOAN_H

#include <stdbool.h>
#include <stddef.h>

#include "ring.h"

struct agn_pool;
struct agnocast_publisher;

/* The header of `data` if it is an outstanding loan of pub (not published, dropped or freed). */
struct agn_msg_header *agn_loan_header(struct agnocast_publisher *pub, void *data);
/* A loan opens this thread's window, publish or drop of it closes it. */
void agn_loan_window_open(struct agnocast_publisher *pub, void *data);
void agn_loan_window_close(void *data);
/* The thread's current loan (its publisher; *data the message), or NULL when there is none or
 * it ended behind our back. */
struct agnocast_publisher *agn_loan_current(void **data);

/* Nested allocations of an outstanding loan, by address. */
void *agn_loan_nested_alloc(struct agnocast_publisher *pub, void *data, size_t align, size_t size);
/* The message data a nested allocation belongs to (whatever its state), NULL if ptr is none. */
const void *agn_loan_nested_parent(struct agn_pool *pool, const void *ptr);
/* Only for a nested allocation of the outstanding loan `data` of pub. */
void agn_loan_nested_free(struct agnocast_publisher *pub, void *ptr);
void *agn_loan_nested_realloc(struct agnocast_publisher *pub, void *ptr, size_t size);
size_t agn_loan_nested_usable(struct agn_pool *pool, const void *ptr);

#endif
