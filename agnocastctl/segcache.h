/* The segments of a topic's processes: had from the broker, mapped on first use. */
#ifndef AGNOCASTCTL_SEGCACHE_H
#define AGNOCASTCTL_SEGCACHE_H

#include <glib.h>
#include <stdint.h>

#include "client.h"
#include "segview.h"

struct segcache;

/* Segments are asked of the broker behind `c` (GET_SEGMENT), which must outlive the cache.
 * With `warn`, the first failure to read a process's segment is printed to stderr. */
struct segcache *segcache_new(struct client *c, gboolean warn);
void segcache_free(struct segcache *sc);

/* Asks the broker for the process list (LIST_PROCESSES); segments of processes that are gone
 * or got another range are unmapped. Views returned before are invalid afterwards. */
gboolean segcache_refresh(struct segcache *sc, GError **error);

/* The view of `pid`'s segment, asked of the broker and mapped on first use; NULL with *why
 * (owned by the cache) set to the reason when it cannot be read or the process is not
 * registered. */
const struct segview *segcache_get(struct segcache *sc, uint32_t pid, const char **why);

#endif
