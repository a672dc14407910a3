/* Rendering query results as aligned text tables or as one JSON document. */
#include "format.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "bridge-status.h"
#include "json.h"

const char *format_durability(uint8_t durability)
{
    switch (durability) {
    case AGNOCAST_DURABILITY_VOLATILE:
        return "volatile";
    case AGNOCAST_DURABILITY_TRANSIENT_LOCAL:
        return "transient_local";
    default:
        return "unknown";
    }
}

const char *format_reliability(uint8_t reliability)
{
    switch (reliability) {
    case AGNOCAST_RELIABILITY_BEST_EFFORT:
        return "best_effort";
    case AGNOCAST_RELIABILITY_RELIABLE:
        return "reliable";
    default:
        return "unknown";
    }
}

char *format_clean_text(const char *s)
{
    const char *p = s;
    const char *end = s + strlen(s);
    GString *out = g_string_new(NULL);

    while (p < end) {
        gunichar c = g_utf8_get_char_validated(p, end - p);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            g_string_append_c(out, '?');
            p++;
            continue;
        }
        if (g_unichar_iscntrl(c))
            g_string_append_c(out, '?');
        else
            g_string_append_unichar(out, c);
        p = g_utf8_next_char(p);
    }
    return g_string_free(out, FALSE);
}

char *format_size_human(uint64_t bytes)
{
    char *text = g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
    char *nbsp;

    /* GLib separates number and unit with U+00A0; a plain space reads the same in any locale. */
    while ((nbsp = strstr(text, "\xc2\xa0")) != NULL) {
        nbsp[0] = ' ';
        memmove(nbsp + 1, nbsp + 2, strlen(nbsp + 2) + 1);
    }
    return text;
}

void format_table_init(struct format_table *t, guint ncols)
{
    t->ncols = ncols;
    t->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
}

void format_table_add(struct format_table *t, char **cells)
{
    g_ptr_array_add(t->rows, cells);
}

char **format_cells(guint ncols, ...)
{
    char **cells = g_new0(char *, ncols + 1);
    va_list ap;

    va_start(ap, ncols);
    for (guint i = 0; i < ncols; i++)
        cells[i] = va_arg(ap, char *);
    va_end(ap);
    return cells;
}

void format_table_flush(struct format_table *t, GString *out)
{
    g_autofree size_t *width = g_new0(size_t, t->ncols);

    for (guint r = 0; r < t->rows->len; r++) {
        char **cells = g_ptr_array_index(t->rows, r);
        for (guint c = 0; c < t->ncols; c++)
            width[c] = MAX(width[c], (size_t)g_utf8_strlen(cells[c], -1));
    }
    for (guint r = 0; r < t->rows->len; r++) {
        char **cells = g_ptr_array_index(t->rows, r);
        for (guint c = 0; c < t->ncols; c++) {
            g_string_append(out, cells[c]);
            if (c + 1 == t->ncols)
                break;
            size_t pad = width[c] - g_utf8_strlen(cells[c], -1) + 2;
            for (size_t i = 0; i < pad; i++)
                g_string_append_c(out, ' ');
        }
        g_string_append_c(out, '\n');
    }
    g_ptr_array_free(t->rows, TRUE);
}

/* A list-topics row; the last two cells (BRIDGE, REMOTE) are dropped without `columns`. */
static void format_topics_row(struct format_table *t, gboolean columns, char *topic, char *pubs,
                              char *subs, char *direction, char *remote)
{
    if (!columns) {
        g_free(direction);
        g_free(remote);
        format_table_add(t, format_cells(3, topic, pubs, subs));
        return;
    }
    format_table_add(t, format_cells(5, topic, pubs, subs, direction, remote));
}

void format_topics(GString *out, const struct agnocast_wire_topic_entry *entries, size_t n,
                   const struct bridge_status *bridge, gboolean json)
{
    /* The bridge columns and members appear only with a status file, so a host without a bridge
     * prints what it always printed; a bridge that is not running gets its line instead. */
    gboolean columns = bridge != NULL && bridge->running;

    if (json) {
        g_string_append(out, "{\"topics\":[");
        for (size_t i = 0; i < n; i++) {
            g_string_append(out, i ? ",{" : "{");
            json_append_key(out, "name");
            json_append_string(out, entries[i].topic);
            g_string_append_printf(out, ",\"publishers\":%" PRIu32 ",\"subscriptions\":%" PRIu32,
                                   entries[i].publishers, entries[i].subscriptions);
            if (bridge != NULL) {
                g_string_append(out, ",\"bridge\":");
                bridge_route_json(out, bridge_status_route(bridge, entries[i].topic));
            }
            g_string_append_c(out, '}');
        }
        g_string_append_c(out, ']');
        bridge_status_json(out, bridge, FALSE);
        g_string_append(out, "}\n");
        return;
    }

    struct format_table t;
    format_table_init(&t, columns ? 5 : 3);
    format_topics_row(&t, columns, g_strdup("TOPIC"), g_strdup("PUBLISHERS"),
                      g_strdup("SUBSCRIPTIONS"), g_strdup("BRIDGE"), g_strdup("REMOTE"));
    for (size_t i = 0; i < n; i++) {
        const struct bridge_route *r = bridge_status_route(bridge, entries[i].topic);

        format_topics_row(&t, columns, format_clean_text(entries[i].topic),
                          g_strdup_printf("%" PRIu32, entries[i].publishers),
                          g_strdup_printf("%" PRIu32, entries[i].subscriptions),
                          bridge_route_direction_cell(r), bridge_route_remote_cell(r));
    }
    format_table_flush(&t, out);
    bridge_status_text_not_running(out, bridge);
}

void format_endpoint_json_open(GString *out, const struct agnocast_wire_endpoint_entry *e)
{
    g_string_append_printf(out, "{\"pid\":%" PRIu32 ",\"index\":%" PRIu32 ",\"qos\":{", e->pid,
                           e->index);
    g_string_append_printf(out, "\"depth\":%" PRIu32 ",", e->qos.depth);
    json_append_key(out, "durability");
    json_append_string(out, format_durability(e->qos.durability));
    g_string_append_c(out, ',');
    json_append_key(out, "reliability");
    json_append_string(out, format_reliability(e->qos.reliability));
    g_string_append_printf(out, ",\"ignore_local\":%s}", e->qos.ignore_local ? "true" : "false");
}

static void format_endpoint_json(GString *out, const struct agnocast_wire_endpoint_entry *e)
{
    format_endpoint_json_open(out, e);
    g_string_append_c(out, '}');
}

static void format_topic_info_json(GString *out, const char *topic,
                                   const struct agnocast_wire_endpoint_entry *entries, size_t n)
{
    g_string_append_c(out, '{');
    json_append_key(out, "topic");
    json_append_string(out, topic);
    for (int pass = 1; pass >= 0; pass--) {
        gboolean first = TRUE;

        g_string_append(out, pass ? ",\"publishers\":[" : ",\"subscriptions\":[");
        for (size_t i = 0; i < n; i++) {
            if (!!entries[i].is_publisher != pass)
                continue;
            if (!first)
                g_string_append_c(out, ',');
            first = FALSE;
            format_endpoint_json(out, &entries[i]);
        }
        g_string_append_c(out, ']');
    }
    g_string_append(out, "}\n");
}

void format_topic_info(GString *out, const char *topic,
                       const struct agnocast_wire_endpoint_entry *entries, size_t n, gboolean json)
{
    if (json) {
        format_topic_info_json(out, topic, entries, n);
        return;
    }

    size_t pubs = 0;
    for (size_t i = 0; i < n; i++)
        pubs += entries[i].is_publisher ? 1 : 0;
    g_autofree char *clean = format_clean_text(topic);
    g_string_append_printf(out, "%s: %zu publisher%s, %zu subscription%s\n", clean, pubs,
                           pubs == 1 ? "" : "s", n - pubs, n - pubs == 1 ? "" : "s");

    struct format_table t;
    format_table_init(&t, 7);
    format_table_add(&t, format_cells(7, g_strdup("ROLE"), g_strdup("PID"), g_strdup("INDEX"),
                                      g_strdup("DEPTH"), g_strdup("DURABILITY"),
                                      g_strdup("RELIABILITY"), g_strdup("IGNORE_LOCAL")));
    /* Publishers first, whatever order the pages came in. */
    for (int pass = 1; pass >= 0; pass--) {
        for (size_t i = 0; i < n; i++) {
            const struct agnocast_wire_endpoint_entry *e = &entries[i];

            if (!!e->is_publisher != pass)
                continue;
            format_table_add(&t, format_cells(7, g_strdup(pass ? "publisher" : "subscription"),
                                              g_strdup_printf("%" PRIu32, e->pid),
                                              g_strdup_printf("%" PRIu32, e->index),
                                              g_strdup_printf("%" PRIu32, e->qos.depth),
                                              g_strdup(format_durability(e->qos.durability)),
                                              g_strdup(format_reliability(e->qos.reliability)),
                                              g_strdup(e->qos.ignore_local ? "yes" : "no")));
        }
    }
    format_table_flush(&t, out);
}

void format_processes(GString *out, const struct agnocast_wire_process_entry *entries, size_t n,
                      gboolean json)
{
    if (json) {
        g_string_append(out, "{\"processes\":[");
        for (size_t i = 0; i < n; i++) {
            const struct agnocast_wire_process_entry *e = &entries[i];

            g_string_append_printf(out,
                                   "%s{\"pid\":%" PRIu32 ",\"uid\":%" PRIu32
                                   ",\"address_start\":\"0x%" PRIx64 "\""
                                   ",\"address_end\":\"0x%" PRIx64 "\""
                                   ",\"pool_size_bytes\":%" PRIu64 ",\"publishers\":%" PRIu32
                                   ",\"subscriptions\":%" PRIu32 "}",
                                   i ? "," : "", e->pid, e->uid, e->base, e->base + e->size,
                                   e->size, e->publishers, e->subscriptions);
        }
        g_string_append(out, "]}\n");
        return;
    }

    struct format_table t;
    format_table_init(&t, 6);
    format_table_add(&t, format_cells(6, g_strdup("PID"), g_strdup("UID"),
                                      g_strdup("ADDRESS RANGE"), g_strdup("POOL"),
                                      g_strdup("PUBLISHERS"), g_strdup("SUBSCRIPTIONS")));
    for (size_t i = 0; i < n; i++) {
        const struct agnocast_wire_process_entry *e = &entries[i];

        format_table_add(
            &t, format_cells(
                    6, g_strdup_printf("%" PRIu32, e->pid), g_strdup_printf("%" PRIu32, e->uid),
                    g_strdup_printf("0x%" PRIx64 "-0x%" PRIx64, e->base, e->base + e->size),
                    format_size_human(e->size), g_strdup_printf("%" PRIu32, e->publishers),
                    g_strdup_printf("%" PRIu32, e->subscriptions)));
    }
    format_table_flush(&t, out);
}

void format_stats(GString *out, uint32_t broker_pid,
                  const struct agnocast_wire_stats_entry *entries, size_t n, gboolean json)
{
    if (json) {
        g_string_append_printf(out, "{\"broker_pid\":%" PRIu32 ",\"requests\":[", broker_pid);
        for (size_t i = 0; i < n; i++) {
            g_string_append(out, i ? ",{" : "{");
            json_append_key(out, "kind");
            json_append_string(out, agnocast_proto_kind_name(entries[i].kind));
            g_string_append_printf(out, ",\"code\":%u,\"count\":%" PRIu64 "}",
                                   (unsigned)entries[i].kind, entries[i].count);
        }
        g_string_append(out, "]}\n");
        return;
    }

    g_string_append_printf(out, "broker pid %" PRIu32 "\n", broker_pid);
    struct format_table t;
    format_table_init(&t, 2);
    format_table_add(&t, format_cells(2, g_strdup("REQUEST"), g_strdup("COUNT")));
    for (size_t i = 0; i < n; i++) {
        const char *name = agnocast_proto_kind_name(entries[i].kind);
        /* A newer broker may count kinds this build has no name for: show the number. */
        char *cell = strcmp(name, "UNKNOWN") == 0
                         ? g_strdup_printf("UNKNOWN(%u)", (unsigned)entries[i].kind)
                         : g_strdup(name);
        format_table_add(&t, format_cells(2, cell, g_strdup_printf("%" PRIu64, entries[i].count)));
    }
    format_table_flush(&t, out);
}

/* A rule's "alice,@video" as the JSON array ["alice","@video"]; "" is [] (nobody). */
static void format_rule_names_json(GString *out, const char *text)
{
    g_auto(GStrv) names = g_strsplit(text, ",", -1);
    gboolean first = TRUE;

    g_string_append_c(out, '[');
    for (size_t i = 0; names[i] != NULL; i++) {
        if (names[i][0] == '\0')
            continue;
        if (!first)
            g_string_append_c(out, ',');
        first = FALSE;
        json_append_string(out, names[i]);
    }
    g_string_append_c(out, ']');
}

static char *format_rule_names(const char *text)
{
    if (strcmp(text, "*") == 0)
        return g_strdup("everyone");
    if (text[0] == '\0')
        return g_strdup("nobody");
    g_auto(GStrv) names = g_strsplit(text, ",", -1);
    g_autofree char *joined = g_strjoinv(", ", names);
    return format_clean_text(joined);
}

void format_rules(GString *out, const struct agnocast_wire_rule_entry *entries, size_t n,
                  gboolean json)
{
    gboolean has_root = FALSE;

    if (json) {
        g_string_append(out, "{\"rules\":[");
        for (size_t i = 0; i < n; i++) {
            g_string_append(out, i ? ",{" : "{");
            json_append_key(out, "prefix");
            json_append_string(out, entries[i].prefix);
            g_string_append(out, ",\"publish\":");
            format_rule_names_json(out, entries[i].publish);
            g_string_append(out, ",\"subscribe\":");
            format_rule_names_json(out, entries[i].subscribe);
            g_string_append_c(out, '}');
        }
        g_string_append(out, "]}\n");
        return;
    }

    if (n == 0) {
        g_string_append(out, "no access rules: everyone who may connect may publish and subscribe "
                             "on every topic\n");
        return;
    }
    struct format_table t;
    format_table_init(&t, 3);
    format_table_add(
        &t, format_cells(3, g_strdup("PREFIX"), g_strdup("PUBLISH"), g_strdup("SUBSCRIBE")));
    for (size_t i = 0; i < n; i++) {
        has_root = has_root || strcmp(entries[i].prefix, "/") == 0;
        format_table_add(&t, format_cells(3, format_clean_text(entries[i].prefix),
                                          format_rule_names(entries[i].publish),
                                          format_rule_names(entries[i].subscribe)));
    }
    format_table_flush(&t, out);
    if (!has_root)
        g_string_append(out, "topics under no prefix above: everyone may publish and subscribe\n");
}
