/* The broker's shared state: configuration, event loop, registry, ranges, connections, counters. */
#ifndef AGNOCASTD_BROKER_H
#define AGNOCASTD_BROKER_H

#include <glib.h>
#include <stdint.h>

struct event_base;
struct listener;

#define BROKER_KIND_SLOTS 1000 /* message kinds are below 1000 (grouped by hundreds) */

struct broker_config {
    char *socket_path; /* NULL: $AGNOCAST_SOCKET, else the built-in default */
    guint socket_mode;
    uint64_t pool_size;
    uint64_t max_pool_size;
    uint64_t window_base;
    uint64_t window_size;
    guint max_clients;
    gboolean verbose;
};

struct broker {
    struct broker_config cfg;
    struct event_base *base;
    struct registry *reg;
    struct ranges *ranges;
    struct listener *listener;
    GHashTable *clients;     /* struct client * set */
    GHashTable *warned_uids; /* uids whose names we could not remove (logged once each) */
    uint64_t requests[BROKER_KIND_SLOTS]; /* frames received, by kind */
};

#endif
