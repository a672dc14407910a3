/* A route carries one topic across: out (local -> DDS), in (DDS -> local), or both. */
#ifndef AGNOCAST_BRIDGE_ROUTE_H
#define AGNOCAST_BRIDGE_ROUTE_H

#include <stdint.h>

#include <dds/dds.h>
#include <glib.h>

#include <agnocast.h>

#include "Bytes.h"
#include "agnocast-bridge.h"
#include "bridge.h"

/* Updated by the dispatching thread (out) and a DDS thread (in), read by the status writer. */
struct route_counters {
    uint64_t sent;          /* samples written to DDS */
    uint64_t received;      /* samples taken from DDS */
    uint64_t published;     /* messages published locally from samples */
    uint64_t dropped;       /* not written or not published: DDS refused, pool full */
    uint64_t duplicates;    /* samples of an origin already delivered (a restarted sender) */
    uint64_t loops;         /* samples of this bridge's own host, refused */
    uint64_t decode_errors; /* samples the codec refused, in another encoding, or no Bytes_ CDR */
    uint64_t encode_errors; /* local messages the codec refused */
    uint64_t copies;        /* messages copied into a buffer of the bridge's own on the way to
                             * DDS or to the loan (out: a codec without in_place encodes into
                             * `scratch`; in: none, the codec reads Cyclone's serialized sample) */
};

struct route {
    struct topic_config *cfg;
    const struct agnocast_bridge_codec *codec;
    struct bridge *bridge;
    char *dds_name;
    dds_entity_t topic, writer, reader;
    struct agnocast_subscription *sub; /* out */
    struct agnocast_publisher *pub;    /* in */
    /* out: the encode buffer, reused */
    void *scratch;
    size_t scratch_size;
    /* in: the last sequence delivered per origin, under in_lock */
    GMutex in_lock;
    GHashTable *last_seq;
    unsigned logged; /* ROUTE_LOGGED_* bits: each kind of per-message trouble logged once */
    struct route_counters c;
};

enum {
    ROUTE_LOGGED_ENCODE = 1u << 0,
    ROUTE_LOGGED_DECODE = 1u << 1,
    ROUTE_LOGGED_WRITE = 1u << 2,
    ROUTE_LOGGED_PUBLISH = 1u << 3,
    ROUTE_LOGGED_ENCODING = 1u << 4,
    ROUTE_LOGGED_CDR = 1u << 5,
};

/* 1 the first time this kind of trouble happens on the route (any thread), 0 afterwards. */
static inline int route_first(struct route *r, unsigned bit)
{
    return !(__atomic_fetch_or(&r->logged, bit, __ATOMIC_RELAXED) & bit);
}

#define ROUTE_COUNT(r, field) __atomic_add_fetch(&(r)->c.field, 1, __ATOMIC_RELAXED)
#define ROUTE_READ(r, field)  __atomic_load_n(&(r)->c.field, __ATOMIC_RELAXED)

/* Sets the route up (DDS entities, local endpoints); NULL with `error` set on failure. Takes a
 * copy of `t`. */
struct route *route_new(struct bridge *b, const struct topic_config *t, GError **error);
struct route *route_free(struct route *r);

/* route-out.c: the local subscription and its callback that writes samples. */
int route_out_start(struct route *r, GError **error);
void route_out_stop(struct route *r);

/* route-in.c: the DDS reader and its listener that publishes samples locally. */
int route_in_start(struct route *r, GError **error);
void route_in_stop(struct route *r);

#endif
