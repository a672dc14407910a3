/* Rendering the per-endpoint message counters of topic-info and stats. */
#ifndef AGNOCASTCTL_COUNTERS_H
#define AGNOCASTCTL_COUNTERS_H

#include <glib.h>

#include "endpoints.h"
#include "format.h"

/* Columns of the counter table with the TOPIC column (one fewer without it). */
#define COUNTERS_COLUMNS 9

/* Adds a row per endpoint of `topic` to a table whose columns are, with `with_topic`,
 * TOPIC ROLE PID INDEX PUBLISHED RECEIVED MISSED CORRUPT UNREACHABLE (without it, no TOPIC):
 * counters that do not apply are "-", counters that cannot be read "?". */
void counters_table_header(struct format_table *t, gboolean with_topic);
void counters_table_rows(struct format_table *t, const char *topic, const GArray *endpoints,
                         gboolean with_topic);

/* Appends the counter members of an endpoint's JSON object (",\"published\":N" or
 * ",\"received\":N,\"missed\":N,\"corrupt\":N,\"unreachable\":N"); nothing when they
 * could not be read. */
void counters_json_members(GString *out, const struct ctl_endpoint *e);

/* Appends "\"publishers\":[...],\"subscriptions\":[...]", each object {"pid","index"[,"qos"]}
 * with its counter members; `with_qos` adds the QoS as topic-info prints it. */
void counters_json_endpoints(GString *out, const GArray *endpoints, gboolean with_qos);

#endif
