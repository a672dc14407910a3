/* Rendering the per-endpoint message counters of topic-info and stats. */
#include "counters.h"

#include <inttypes.h>
#include <string.h>

#include "format.h"

void counters_table_header(struct format_table *t, gboolean with_topic)
{
    char **cells =
        format_cells(COUNTERS_COLUMNS, g_strdup("TOPIC"), g_strdup("ROLE"), g_strdup("PID"),
                     g_strdup("INDEX"), g_strdup("PUBLISHED"), g_strdup("RECEIVED"),
                     g_strdup("MISSED"), g_strdup("CORRUPT"), g_strdup("UNREACHABLE"));
    if (!with_topic) {
        g_free(cells[0]);
        memmove(cells, cells + 1, COUNTERS_COLUMNS * sizeof *cells);
    }
    format_table_add(t, cells);
}

static char *counters_cell(gboolean applies, gboolean have, uint64_t value)
{
    if (!applies)
        return g_strdup("-");
    return have ? g_strdup_printf("%" PRIu64, value) : g_strdup("?");
}

void counters_table_rows(struct format_table *t, const char *topic, const GArray *endpoints,
                         gboolean with_topic)
{
    for (guint i = 0; i < endpoints->len; i++) {
        const struct ctl_endpoint *e = &g_array_index(endpoints, struct ctl_endpoint, i);
        gboolean pub = e->entry.is_publisher != 0;
        char **cells = format_cells(COUNTERS_COLUMNS, format_clean_text(topic),
                                    g_strdup(pub ? "publisher" : "subscription"),
                                    g_strdup_printf("%" PRIu32, e->entry.pid),
                                    g_strdup_printf("%" PRIu32, e->entry.index),
                                    counters_cell(pub, e->have_counters, e->published),
                                    counters_cell(!pub, e->have_counters, e->sub.received),
                                    counters_cell(!pub, e->have_counters, e->sub.missed),
                                    counters_cell(!pub, e->have_counters, e->sub.corrupt),
                                    counters_cell(!pub, e->have_counters, e->sub.unreachable));
        if (!with_topic) {
            g_free(cells[0]);
            memmove(cells, cells + 1, COUNTERS_COLUMNS * sizeof *cells);
        }
        format_table_add(t, cells);
    }
}

void counters_json_members(GString *out, const struct ctl_endpoint *e)
{
    if (!e->have_counters)
        return;
    if (e->entry.is_publisher)
        g_string_append_printf(out, ",\"published\":%" PRIu64, e->published);
    else
        g_string_append_printf(out,
                               ",\"received\":%" PRIu64 ",\"missed\":%" PRIu64
                               ",\"corrupt\":%" PRIu64 ",\"unreachable\":%" PRIu64,
                               e->sub.received, e->sub.missed, e->sub.corrupt, e->sub.unreachable);
}

void counters_json_endpoints(GString *out, const GArray *endpoints, gboolean with_qos)
{
    for (int pass = 1; pass >= 0; pass--) {
        gboolean first = TRUE;

        g_string_append(out, pass ? "\"publishers\":[" : ",\"subscriptions\":[");
        for (guint i = 0; i < endpoints->len; i++) {
            const struct ctl_endpoint *e = &g_array_index(endpoints, struct ctl_endpoint, i);

            if (!!e->entry.is_publisher != pass)
                continue;
            if (!first)
                g_string_append_c(out, ',');
            first = FALSE;
            if (with_qos)
                format_endpoint_json_open(out, &e->entry);
            else
                g_string_append_printf(out, "{\"pid\":%" PRIu32 ",\"index\":%" PRIu32, e->entry.pid,
                                       e->entry.index);
            counters_json_members(out, e);
            g_string_append_c(out, '}');
        }
        g_string_append_c(out, ']');
    }
}
