/* agnocast-bridge's status file as agnocastctl reads it: its routes, their counters, and whether
 * the bridge that wrote it still runs. */
#ifndef AGNOCASTCTL_BRIDGE_STATUS_H
#define AGNOCASTCTL_BRIDGE_STATUS_H

#include <glib.h>

/* A route's message counters, in the order every output shows them (bridge/status.c's keys). */
enum bridge_counter {
    BRIDGE_SENT,
    BRIDGE_RECEIVED,
    BRIDGE_PUBLISHED,
    BRIDGE_DROPPED,
    BRIDGE_DUPLICATES,
    BRIDGE_LOOPS,
    BRIDGE_DECODE_ERRORS,
    BRIDGE_ENCODE_ERRORS,
    BRIDGE_COPIES,
    BRIDGE_COUNTERS,
};

/* The endpoints a route has matched, local (agnocast) and remote (DDS). */
enum bridge_endpoint {
    BRIDGE_LOCAL_PUBLISHERS,
    BRIDGE_LOCAL_SUBSCRIPTIONS,
    BRIDGE_REMOTE_READERS,
    BRIDGE_REMOTE_WRITERS,
    BRIDGE_ENDPOINTS,
};

/* One [topic /NAME] group. A number of -1 is "does not apply" (an endpoint kind the route's
 * direction has none of) or "not in the file" (a bridge older than this agnocastctl). */
struct bridge_route {
    char *topic;
    char *direction; /* "out", "in" or "both" */
    char *dds_topic;
    char *dds_type;
    char *type; /* the codec */
    char *reliability;
    char *durability;
    gint64 depth;
    gint64 counters[BRIDGE_COUNTERS];
    gint64 endpoints[BRIDGE_ENDPOINTS];
};

struct bridge_status {
    char *file;
    gint64 pid;
    gboolean running; /* the pid exists (kill(pid, 0) succeeds or says EPERM) */
    char *host;
    gint64 domain;
    char *config_state;
    gboolean broker_connected;
    gint64 updated;    /* Unix time of the last rewrite */
    GPtrArray *routes; /* of struct bridge_route, sorted by topic */
};

/* JSON member names of the counters and endpoints, as in the status file. */
extern const char *const bridge_counter_names[BRIDGE_COUNTERS];
extern const char *const bridge_endpoint_names[BRIDGE_ENDPOINTS];

/*
 * Reads the status file at `path`. NULL without *error when there is none (no such file, or
 * `path` is empty): no bridge on this host, which is not an error. NULL with *error when the
 * file cannot be read or is not a status agnocast-bridge writes.
 */
struct bridge_status *bridge_status_load(const char *path, GError **error);

/* bridge_status_load(), with a failure reported on stderr as a warning (the command goes on as
 * if there were no bridge): what the commands call. */
struct bridge_status *bridge_status_open(const char *path);

/* Takes NULL; returns NULL. */
struct bridge_status *bridge_status_free(struct bridge_status *s);

/* The route of `topic`, or NULL: none, no status, or a bridge that is not running (its routes
 * are what it left behind, not what is bridged). */
const struct bridge_route *bridge_status_route(const struct bridge_status *s, const char *topic);

/* list-topics' cells: the direction ("-" when not bridged), and the remote DDS endpoints the
 * bridge matched ("2 readers", "1 reader, 1 writer"; "-" when not bridged). g_free() them. */
char *bridge_route_direction_cell(const struct bridge_route *r);
char *bridge_route_remote_cell(const struct bridge_route *r);

/* Appends the route as a JSON object (every string and number above; -1 as null), or null. */
void bridge_route_json(GString *out, const struct bridge_route *r);

/* Appends ",\"bridge_status\":{...}" (file, pid, running, host, domain, config_state,
 * broker_connected, updated; with `with_routes`, "topics" with every route when it runs), or
 * nothing without a status. */
void bridge_status_json(GString *out, const struct bridge_status *s, gboolean with_routes);

/* Appends a blank line and one line saying the bridge is not running (its pid and file), or
 * nothing when there is no status or it runs. */
void bridge_status_text_not_running(GString *out, const struct bridge_status *s);

/* topic-info's section: a blank line, a title, then the route's settings, matched endpoints
 * and counters one per line (nothing for NULL). */
void bridge_route_text(GString *out, const struct bridge_status *s, const struct bridge_route *r);

/* stats' section: a blank line, the bridge's line (pid, host, domain, broker, age), then a
 * table of every route's counters; or the not-running line; nothing without a status. */
void bridge_status_text_counters(GString *out, const struct bridge_status *s);

#endif
