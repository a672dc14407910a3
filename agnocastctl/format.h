/* Rendering query results as aligned text tables or as one JSON document. */
#ifndef AGNOCASTCTL_FORMAT_H
#define AGNOCASTCTL_FORMAT_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "agnocast-proto.h"

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
void format_topics(GString *out, const struct agnocast_wire_topic_entry *entries, size_t n,
                   gboolean json);
void format_topic_info(GString *out, const char *topic,
                       const struct agnocast_wire_endpoint_entry *entries, size_t n, gboolean json);
void format_processes(GString *out, const struct agnocast_wire_process_entry *entries, size_t n,
                      gboolean json);
void format_stats(GString *out, uint32_t broker_pid,
                  const struct agnocast_wire_stats_entry *entries, size_t n, gboolean json);

#endif
