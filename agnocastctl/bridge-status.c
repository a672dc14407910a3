/* agnocast-bridge's status file as agnocastctl reads it: its routes, their counters, and whether
 * the bridge that wrote it still runs. */
#include "bridge-status.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "agnocast-proto.h"
#include "format.h"
#include "json.h"

/* bridge/status.c writes these keys; a new bridge may add keys, never rename these. */
const char *const bridge_counter_names[BRIDGE_COUNTERS] = {
    "sent",  "received",      "published",     "dropped", "duplicates",
    "loops", "decode_errors", "encode_errors", "copies",
};

const char *const bridge_endpoint_names[BRIDGE_ENDPOINTS] = {
    "local_publishers",
    "local_subscriptions",
    "remote_readers",
    "remote_writers",
};

#define BRIDGE_TOPIC_GROUP "topic "

static void bridge_route_free(void *p)
{
    struct bridge_route *r = p;

    g_free(r->topic);
    g_free(r->direction);
    g_free(r->dds_topic);
    g_free(r->dds_type);
    g_free(r->type);
    g_free(r->reliability);
    g_free(r->durability);
    g_free(r);
}

struct bridge_status *bridge_status_free(struct bridge_status *s)
{
    if (s == NULL)
        return NULL;
    g_free(s->file);
    g_free(s->host);
    g_free(s->config_state);
    if (s->routes != NULL)
        g_ptr_array_free(s->routes, TRUE);
    g_free(s);
    return NULL;
}

static gboolean bridge_status_bad(GError **error, const char *path, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/* Every complaint about the content names the file and says what wrote it, so the person
 * knows which file to look at and that agnocastctl goes on without it. */
static gboolean bridge_status_bad(GError **error, const char *path, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s is not a status file agnocast-bridge writes: %s", path, what);
    return FALSE;
}

/* A string key, "" when absent: the bridge always writes them, and a missing one only loses a
 * detail of the output. */
static char *bridge_status_string(GKeyFile *kf, const char *group, const char *key)
{
    char *v = g_key_file_get_string(kf, group, key, NULL);

    return v != NULL ? v : g_strdup("");
}

/* A number key: -1 when absent, FALSE with *error when present but not a number from -1 up. */
static gboolean bridge_status_number(GKeyFile *kf, const char *path, const char *group,
                                     const char *key, gint64 *value, GError **error)
{
    g_autoptr(GError) local = NULL;

    *value = -1;
    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    *value = g_key_file_get_int64(kf, group, key, &local);
    if (local != NULL || *value < -1)
        return bridge_status_bad(error, path, "[%s] %s is not a count", group, key);
    return TRUE;
}

static struct bridge_route *bridge_route_parse(GKeyFile *kf, const char *path, const char *group,
                                               GError **error)
{
    const char *topic = group + strlen(BRIDGE_TOPIC_GROUP);
    struct bridge_route *r = g_new0(struct bridge_route, 1);

    if (!agnocast_topic_name_valid(topic)) {
        bridge_status_bad(error, path, "[%s] does not name a topic", group);
        goto fail;
    }
    r->topic = g_strdup(topic);
    r->direction = bridge_status_string(kf, group, "direction");
    if (strcmp(r->direction, "out") != 0 && strcmp(r->direction, "in") != 0 &&
        strcmp(r->direction, "both") != 0) {
        bridge_status_bad(error, path, "[%s] direction is not out, in or both", group);
        goto fail;
    }
    r->dds_topic = bridge_status_string(kf, group, "dds_topic");
    r->dds_type = bridge_status_string(kf, group, "dds_type");
    r->type = bridge_status_string(kf, group, "type");
    r->reliability = bridge_status_string(kf, group, "reliability");
    r->durability = bridge_status_string(kf, group, "durability");
    if (!bridge_status_number(kf, path, group, "depth", &r->depth, error))
        goto fail;
    for (int i = 0; i < BRIDGE_COUNTERS; i++)
        if (!bridge_status_number(kf, path, group, bridge_counter_names[i], &r->counters[i], error))
            goto fail;
    for (int i = 0; i < BRIDGE_ENDPOINTS; i++)
        if (!bridge_status_number(kf, path, group, bridge_endpoint_names[i], &r->endpoints[i],
                                  error))
            goto fail;
    return r;

fail:
    bridge_route_free(r);
    return NULL;
}

static gint bridge_route_compare(gconstpointer a, gconstpointer b)
{
    const struct bridge_route *ra = *(const struct bridge_route *const *)a;
    const struct bridge_route *rb = *(const struct bridge_route *const *)b;

    return strcmp(ra->topic, rb->topic);
}

/* Whether the process that wrote the file is alive. EPERM is alive too: the service runs as its
 * own dynamic user, and an operator may not signal it. A pid reused by another program after a
 * crash reads as running; the "updated" age in the output shows that case. */
static gboolean bridge_status_pid_alive(gint64 pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

struct bridge_status *bridge_status_load(const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;
    struct bridge_status *s;

    if (path == NULL || path[0] == '\0')
        return NULL;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return NULL;
        if (local->domain == G_KEY_FILE_ERROR)
            bridge_status_bad(error, path, "%s", local->message);
        else
            g_set_error(error, local->domain, local->code,
                        "cannot read agnocast-bridge's status file: %s", local->message);
        return NULL;
    }

    s = g_new0(struct bridge_status, 1);
    s->file = g_strdup(path);
    s->routes = g_ptr_array_new_with_free_func(bridge_route_free);
    if (!g_key_file_has_group(kf, "bridge")) {
        bridge_status_bad(error, path, "no [bridge] group");
        return bridge_status_free(s);
    }
    s->pid = g_key_file_get_int64(kf, "bridge", "pid", &local);
    if (local != NULL || s->pid <= 0 || s->pid > G_MAXINT) {
        bridge_status_bad(error, path, "[bridge] pid is missing or not a process id");
        return bridge_status_free(s);
    }
    s->running = bridge_status_pid_alive(s->pid);
    s->host = bridge_status_string(kf, "bridge", "host");
    s->config_state = bridge_status_string(kf, "bridge", "config_state");
    s->broker_connected = g_key_file_get_boolean(kf, "bridge", "broker_connected", NULL);
    if (!bridge_status_number(kf, path, "bridge", "domain", &s->domain, error) ||
        !bridge_status_number(kf, path, "bridge", "updated", &s->updated, error))
        return bridge_status_free(s);

    groups = g_key_file_get_groups(kf, NULL);
    for (size_t i = 0; groups[i] != NULL; i++) {
        /* Other groups are a newer bridge's business: skipped, not refused. */
        if (!g_str_has_prefix(groups[i], BRIDGE_TOPIC_GROUP))
            continue;
        struct bridge_route *r = bridge_route_parse(kf, path, groups[i], error);
        if (r == NULL)
            return bridge_status_free(s);
        g_ptr_array_add(s->routes, r);
    }
    g_ptr_array_sort(s->routes, bridge_route_compare);
    return s;
}

struct bridge_status *bridge_status_open(const char *path)
{
    g_autoptr(GError) error = NULL;
    struct bridge_status *s = bridge_status_load(path, &error);

    if (error != NULL)
        g_printerr("agnocastctl: warning: %s; bridged topics are not shown (give another file "
                   "with --bridge-status or AGNOCAST_BRIDGE_STATUS)\n",
                   error->message);
    return s;
}

const struct bridge_route *bridge_status_route(const struct bridge_status *s, const char *topic)
{
    if (s == NULL || !s->running)
        return NULL;
    for (guint i = 0; i < s->routes->len; i++) {
        const struct bridge_route *r = g_ptr_array_index(s->routes, i);
        if (strcmp(r->topic, topic) == 0)
            return r;
    }
    return NULL;
}

char *bridge_route_direction_cell(const struct bridge_route *r)
{
    return g_strdup(r != NULL ? r->direction : "-");
}

char *bridge_route_remote_cell(const struct bridge_route *r)
{
    gint64 readers = r != NULL ? r->endpoints[BRIDGE_REMOTE_READERS] : -1;
    gint64 writers = r != NULL ? r->endpoints[BRIDGE_REMOTE_WRITERS] : -1;
    GString *cell = g_string_new(NULL);

    if (readers >= 0)
        g_string_append_printf(cell, "%" G_GINT64_FORMAT " reader%s", readers,
                               readers == 1 ? "" : "s");
    if (writers >= 0)
        g_string_append_printf(cell, "%s%" G_GINT64_FORMAT " writer%s", cell->len ? ", " : "",
                               writers, writers == 1 ? "" : "s");
    if (cell->len == 0)
        g_string_append_c(cell, '-');
    return g_string_free(cell, FALSE);
}

static void bridge_json_number(GString *out, const char *key, gint64 v)
{
    g_string_append_c(out, ',');
    json_append_key(out, key);
    if (v < 0)
        g_string_append(out, "null");
    else
        g_string_append_printf(out, "%" G_GINT64_FORMAT, v);
}

static void bridge_json_string(GString *out, const char *key, const char *v)
{
    g_string_append_c(out, ',');
    json_append_key(out, key);
    json_append_string(out, v);
}

void bridge_route_json(GString *out, const struct bridge_route *r)
{
    if (r == NULL) {
        g_string_append(out, "null");
        return;
    }
    g_string_append_c(out, '{');
    json_append_key(out, "topic");
    json_append_string(out, r->topic);
    bridge_json_string(out, "direction", r->direction);
    bridge_json_string(out, "dds_topic", r->dds_topic);
    bridge_json_string(out, "dds_type", r->dds_type);
    bridge_json_string(out, "type", r->type);
    bridge_json_string(out, "reliability", r->reliability);
    bridge_json_string(out, "durability", r->durability);
    bridge_json_number(out, "depth", r->depth);
    for (int i = 0; i < BRIDGE_ENDPOINTS; i++)
        bridge_json_number(out, bridge_endpoint_names[i], r->endpoints[i]);
    for (int i = 0; i < BRIDGE_COUNTERS; i++)
        bridge_json_number(out, bridge_counter_names[i], r->counters[i]);
    g_string_append_c(out, '}');
}

void bridge_status_json(GString *out, const struct bridge_status *s, gboolean with_routes)
{
    if (s == NULL)
        return;
    g_string_append(out, ",\"bridge_status\":{");
    json_append_key(out, "file");
    json_append_string(out, s->file);
    g_string_append_printf(out, ",\"pid\":%" G_GINT64_FORMAT ",\"running\":%s", s->pid,
                           s->running ? "true" : "false");
    bridge_json_string(out, "host", s->host);
    bridge_json_number(out, "domain", s->domain);
    bridge_json_string(out, "config_state", s->config_state);
    g_string_append_printf(out, ",\"broker_connected\":%s", s->broker_connected ? "true" : "false");
    bridge_json_number(out, "updated", s->updated);
    if (with_routes) {
        /* A bridge that is gone bridges nothing: its left-over routes are not listed. */
        g_string_append(out, ",\"topics\":[");
        for (guint i = 0; s->running && i < s->routes->len; i++) {
            if (i > 0)
                g_string_append_c(out, ',');
            bridge_route_json(out, g_ptr_array_index(s->routes, i));
        }
        g_string_append_c(out, ']');
    }
    g_string_append_c(out, '}');
}

void bridge_status_text_not_running(GString *out, const struct bridge_status *s)
{
    if (s == NULL || s->running)
        return;
    g_autofree char *file = format_clean_text(s->file);
    g_string_append_printf(out,
                           "\nagnocast-bridge is not running (pid %" G_GINT64_FORMAT
                           " in %s is gone): bridged topics are not shown\n",
                           s->pid, file);
}

/* "agnocast-bridge pid 4800, host robot-a, DDS domain 0": who sees the remote endpoints. */
static void bridge_status_text_who(GString *out, const struct bridge_status *s)
{
    g_autofree char *host = format_clean_text(s->host);

    g_string_append_printf(out, "agnocast-bridge pid %" G_GINT64_FORMAT ", host %s", s->pid,
                           host[0] != '\0' ? host : "?");
    if (s->domain >= 0)
        g_string_append_printf(out, ", DDS domain %" G_GINT64_FORMAT, s->domain);
}

void bridge_route_text(GString *out, const struct bridge_status *s, const struct bridge_route *r)
{
    if (s == NULL || r == NULL)
        return;
    g_string_append(out, "\nbridged by ");
    bridge_status_text_who(out, s);
    g_string_append(out, ":\n");

    struct format_table t;
    format_table_init(&t, 2);
    format_table_add(&t, format_cells(2, g_strdup("  direction"), g_strdup(r->direction)));
    format_table_add(&t, format_cells(2, g_strdup("  dds_topic"), format_clean_text(r->dds_topic)));
    format_table_add(&t, format_cells(2, g_strdup("  dds_type"), format_clean_text(r->dds_type)));
    format_table_add(&t, format_cells(2, g_strdup("  type"), format_clean_text(r->type)));
    g_autofree char *rel = format_clean_text(r->reliability);
    g_autofree char *dur = format_clean_text(r->durability);
    format_table_add(
        &t, format_cells(2, g_strdup("  qos"),
                         g_strdup_printf("%s, %s, depth %" G_GINT64_FORMAT, rel, dur, r->depth)));
    /* -1 is an endpoint kind this direction does not have: left out, as agnocast-bridge
     * --status does. */
    for (int i = 0; i < BRIDGE_ENDPOINTS; i++)
        if (r->endpoints[i] >= 0)
            format_table_add(&t,
                             format_cells(2, g_strdup_printf("  %s", bridge_endpoint_names[i]),
                                          g_strdup_printf("%" G_GINT64_FORMAT, r->endpoints[i])));
    for (int i = 0; i < BRIDGE_COUNTERS; i++)
        if (r->counters[i] >= 0)
            format_table_add(&t,
                             format_cells(2, g_strdup_printf("  %s", bridge_counter_names[i]),
                                          g_strdup_printf("%" G_GINT64_FORMAT, r->counters[i])));
    format_table_flush(&t, out);
}

static char *bridge_counter_cell(gint64 v)
{
    return v >= 0 ? g_strdup_printf("%" G_GINT64_FORMAT, v) : g_strdup("?");
}

void bridge_status_text_counters(GString *out, const struct bridge_status *s)
{
    if (s == NULL)
        return;
    if (!s->running) {
        bridge_status_text_not_running(out, s);
        return;
    }
    g_string_append_c(out, '\n');
    bridge_status_text_who(out, s);
    g_string_append(out, s->broker_connected ? ", broker connected" : ", broker NOT connected");
    if (s->updated > 0) {
        gint64 age = MAX((gint64)time(NULL) - s->updated, 0);
        g_string_append_printf(out, ", updated %" G_GINT64_FORMAT " s ago", age);
    }
    if (s->config_state[0] != '\0' && strcmp(s->config_state, "loaded") != 0) {
        g_autofree char *state = format_clean_text(s->config_state);
        g_string_append_printf(out, ", config %s", state);
    }
    g_string_append_c(out, '\n');

    struct format_table t;
    guint ncols = 2 + BRIDGE_COUNTERS;
    format_table_init(&t, ncols);
    char **head = g_new0(char *, ncols + 1);
    head[0] = g_strdup("TOPIC");
    head[1] = g_strdup("DIRECTION");
    for (int i = 0; i < BRIDGE_COUNTERS; i++)
        head[2 + i] = g_ascii_strup(bridge_counter_names[i], -1);
    format_table_add(&t, head);
    for (guint r = 0; r < s->routes->len; r++) {
        const struct bridge_route *route = g_ptr_array_index(s->routes, r);
        char **cells = g_new0(char *, ncols + 1);

        cells[0] = g_strdup(route->topic);
        cells[1] = g_strdup(route->direction);
        for (int i = 0; i < BRIDGE_COUNTERS; i++)
            cells[2 + i] = bridge_counter_cell(route->counters[i]);
        format_table_add(&t, cells);
    }
    format_table_flush(&t, out);
}
