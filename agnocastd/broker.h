/* The broker's shared state: configuration, event loop, registry, ranges, connections, counters. */
#ifndef AGNOCASTD_BROKER_H
#define AGNOCASTD_BROKER_H

#include <glib.h>
#include <stdint.h>

struct access_rules;
struct event_base;
struct listener;
struct state;

#define BROKER_KIND_SLOTS 1000 /* message kinds are below 1000 (grouped by hundreds) */

struct broker_config {
    char *socket_path;  /* NULL: $AGNOCAST_SOCKET, else the built-in default */
    char *state_file;   /* NULL: next to the socket; "" keeps no state file */
    char *access_rules; /* --access-rules FILE; NULL: everyone may publish and subscribe */
    guint socket_mode;
    uint64_t pool_size;
    uint64_t max_pool_size;
    uint64_t window_base;
    uint64_t window_size;
    guint max_clients;
    guint max_connections_per_uid;
    guint max_endpoints; /* publishers + subscriptions of one process */
    guint max_topics;
    /* Per-user quotas (uid from SO_PEERCRED, root included): see docs/security.md. */
    guint max_processes_per_uid;
    uint64_t max_space_per_uid; /* bytes of address ranges */
    guint max_endpoints_per_uid;
    guint max_topics_per_uid;    /* topics where the uid has an endpoint */
    uint64_t max_queued_per_uid; /* bytes queued for its connections that they have not read */
    guint restart_grace;         /* seconds a restarted broker keeps the ranges of live processes */
    gboolean verbose;
};

struct broker {
    struct broker_config cfg;
    struct event_base *base;
    struct registry *reg;
    struct ranges *ranges;
    struct listener *listener;
    struct state *state;         /* the persisted range table and restart reservations */
    struct access_rules *access; /* loaded from cfg.access_rules; NULL: no rules */
    GHashTable *clients;         /* struct client * set */
    GHashTable *uid_conns;  /* uid -> open connections of that uid (refused ones not counted) */
    GHashTable *uid_queued; /* uid -> bytes queued for its connections (GSIZE_TO_POINTER) */
    guint refused;          /* open connections that were refused (answered, then closed) */
    uint64_t requests[BROKER_KIND_SLOTS]; /* frames received, by kind */
};

/*
 * Builds the registry, ranges and tables of a broker whose cfg is filled, on event loop `base`
 * (not owned). No listener and no state file: main() and the fuzz target add what they need.
 */
void broker_init(struct broker *b, struct event_base *base);
/* Frees every connection without clean-up (the processes live on), then the tables. */
void broker_fini(struct broker *b);

/* Loads cfg.access_rules, if given, into b->access. -EINVAL with *why (g_free) if invalid. */
int broker_access_load(struct broker *b, char **why);
/*
 * SIGHUP: reads cfg.access_rules again. Valid rules replace the old ones for every later
 * request (endpoints that exist stay); invalid ones are logged and the old rules kept.
 */
void broker_access_reload(struct broker *b);

#endif
