/* A topic's publishers and subscriptions with the counters read from their segments. */
#ifndef AGNOCASTCTL_ENDPOINTS_H
#define AGNOCASTCTL_ENDPOINTS_H

#include <glib.h>
#include <stdint.h>

#include "agnocast-proto.h"
#include "client.h"
#include "segcache.h"
#include "segview.h"

struct ctl_endpoint {
    struct agnocast_wire_endpoint_entry entry; /* from the broker */
    const struct segview *seg;                 /* NULL: the segment cannot be read */
    const char *why;                           /* why not (owned by the segcache) */
    gboolean ring_ok;                          /* publisher: its ring passed the checks */
    struct agn_shm_ring ring;
    gboolean have_counters; /* the fields below were read */
    uint64_t published;     /* publisher: last message number (its ring head) */
    struct agn_shm_sub_counters sub;
};

/*
 * Asks the broker for the endpoints of `topic` (TOPIC_INFO), publishers first, then, with
 * `refresh`, for the process list (segcache_refresh), and attaches the segment views of `sc`
 * and the counters. Returns an array of struct ctl_endpoint, or NULL with *error set.
 */
GArray *endpoints_query(struct client *c, struct segcache *sc, const char *topic, gboolean refresh,
                        GError **error);

/*
 * For the commands that follow a topic over time: asks for its endpoints again and replaces
 * *endpoints. A topic that disappeared after the first call counts as having none (it may come
 * back); on the first call, or on any other error, returns FALSE with *error set.
 */
/* FALSE with *error (CLI_EXIT_NO_SEGMENT) when the topic has publishers but none of their rings
 * can be read; TRUE otherwise (no publisher yet is fine: one may come). */
gboolean endpoints_some_ring_readable(GArray *endpoints, const char *topic, GError **error);

gboolean endpoints_follow(struct client *c, struct segcache *sc, const char *topic, gboolean first,
                          GArray **endpoints, GError **error);

/* Reads the counters of every endpoint again (the views stay valid until the next refresh). */
void endpoints_read(GArray *endpoints);

/* Whether any endpoint has counters (output shows the counter columns only then). */
gboolean endpoints_any_counters(const GArray *endpoints);

/* The key of an endpoint for per-endpoint state kept across queries. */
static inline guint64 endpoints_key(const struct ctl_endpoint *e)
{
    return ((guint64)e->entry.pid << 32) | e->entry.index;
}

#endif
