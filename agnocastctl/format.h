/* Rendering query results as aligned text tables or as one JSON document. */
#ifndef AGNOCASTCTL_FORMAT_H
#define AGNOCASTCTL_FORMAT_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "agnocast-proto.h"

struct bridge_status;

/* "volatile", "transient_local", "best_effort", "reliable"; "unknown" for anything else (the
 * decoder already rejects such values, this only keeps the output defined). */
const char *format_durability(uint8_t durability);
const char *format_reliability(uint8_t reliability);

/* A copy of `s` safe to print on a terminal: control characters and bytes that are not UTF-8
 * become '?'. g_free() it. */
char *format_clean_text(const char *s);

/* "512 bytes", "1.5 KiB", "128.0 MiB" (IEC units, ASCII only). g_free() it. */
char *format_size_human(uint64_t bytes);

/*
 * Each function appends the whole output of one command to `out`: a header line and one line
 * per entry (the header alone when there are none), or, with `json`, one JSON document on one
 * line. The JSON member names are a stable interface (docs/agnocastctl.md).
 */
/* list-topics; `bridge` (NULL: none) adds the BRIDGE and REMOTE columns ("bridge" members and a
 * "bridge_status" object in JSON), or the line saying the bridge is not running. */
void format_topics(GString *out, const struct agnocast_wire_topic_entry *entries, size_t n,
                   const struct bridge_status *bridge, gboolean json);
void format_topic_info(GString *out, const char *topic,
                       const struct agnocast_wire_endpoint_entry *entries, size_t n, gboolean json);
void format_processes(GString *out, const struct agnocast_wire_process_entry *entries, size_t n,
                      gboolean json);
void format_stats(GString *out, uint32_t broker_pid,
                  const struct agnocast_wire_stats_entry *entries, size_t n, gboolean json);
/* Access rules: "*" is shown as everyone, "" as nobody; text mode ends with what holds for a
 * topic no prefix matches. */
void format_rules(GString *out, const struct agnocast_wire_rule_entry *entries, size_t n,
                  gboolean json);

/* A text table: rows of cells, printed with columns padded to their widest cell. */
struct format_table {
    guint ncols;
    GPtrArray *rows; /* of GStrv, each ncols cells */
};

void format_table_init(struct format_table *t, guint ncols);
/* Adds a row of ncols cells (format_cells()); takes ownership of the cells. */
void format_table_add(struct format_table *t, char **cells);
/* A NULL-terminated row of `ncols` g_malloc'ed strings passed as arguments. */
char **format_cells(guint ncols, ...);
/* Appends the table to `out`, columns separated by at least two spaces, and frees its rows. */
void format_table_flush(struct format_table *t, GString *out);

/* Appends an endpoint's JSON object without its closing brace, so callers can add members:
 * {"pid":..,"index":..,"qos":{..} */
void format_endpoint_json_open(GString *out, const struct agnocast_wire_endpoint_entry *e);

#endif
