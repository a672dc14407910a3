/* The status file, a GKeyFile: [bridge] then one [topic /NAME] group per route. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "route.h"
#include "status.h"

/* The counters of a [topic] group, in the order both outputs show them. */
static const char *const counter_keys[] = {
    "sent",
    "received",
    "published",
    "dropped",
    "duplicates",
    "loops",
    "decode_errors",
    "encode_errors",
    "copies",
    "local_publishers",
    "local_subscriptions",
    "remote_readers",
    "remote_writers",
    NULL,
};

static void put_route(GKeyFile *kf, const struct route *r)
{
    g_autofree char *g = g_strdup_printf("topic %s", r->cfg->topic);
    struct route *m = (struct route *)r;
    uint64_t dropped = ROUTE_READ(m, dropped);
    int64_t local_pubs = -1, local_subs = -1, remote_readers = -1, remote_writers = -1;
    dds_publication_matched_status_t pm;
    dds_subscription_matched_status_t sm;

    /* Messages the local subscription missed (the bridge fell behind) are dropped too. */
    if (r->sub) {
        dropped += agnocast_subscription_missed(r->sub);
        local_pubs = agnocast_subscription_publisher_count(r->sub);
    }
    if (r->pub)
        local_subs = agnocast_publisher_subscription_count(r->pub);
    if (r->writer > 0 && dds_get_publication_matched_status(r->writer, &pm) == 0)
        remote_readers = pm.current_count;
    if (r->reader > 0 && dds_get_subscription_matched_status(r->reader, &sm) == 0)
        remote_writers = sm.current_count;
    g_key_file_set_string(kf, g, "dds_topic", r->dds_name);
    g_key_file_set_string(kf, g, "dds_type", agnocast_msgs_msg_dds__Bytes__desc.m_typename);
    g_key_file_set_string(kf, g, "direction", direction_name(r->cfg->direction));
    g_key_file_set_string(kf, g, "type", r->cfg->type);
    g_key_file_set_string(kf, g, "reliability", r->cfg->reliable ? "reliable" : "best_effort");
    g_key_file_set_string(kf, g, "durability",
                          r->cfg->transient_local ? "transient_local" : "volatile");
    g_key_file_set_uint64(kf, g, "depth", r->cfg->depth);
    g_key_file_set_uint64(kf, g, "sent", ROUTE_READ(m, sent));
    g_key_file_set_uint64(kf, g, "received", ROUTE_READ(m, received));
    g_key_file_set_uint64(kf, g, "published", ROUTE_READ(m, published));
    g_key_file_set_uint64(kf, g, "dropped", dropped);
    g_key_file_set_uint64(kf, g, "duplicates", ROUTE_READ(m, duplicates));
    g_key_file_set_uint64(kf, g, "loops", ROUTE_READ(m, loops));
    g_key_file_set_uint64(kf, g, "decode_errors", ROUTE_READ(m, decode_errors));
    g_key_file_set_uint64(kf, g, "encode_errors", ROUTE_READ(m, encode_errors));
    g_key_file_set_uint64(kf, g, "copies", ROUTE_READ(m, copies));
    /* -1: not this direction's (or not known). */
    g_key_file_set_int64(kf, g, "local_publishers", local_pubs);
    g_key_file_set_int64(kf, g, "local_subscriptions", local_subs);
    g_key_file_set_int64(kf, g, "remote_readers", remote_readers);
    g_key_file_set_int64(kf, g, "remote_writers", remote_writers);
}

int status_write(const struct bridge *b, const char *config_state, const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *data = NULL;
    gsize len;

    g_key_file_set_int64(kf, "bridge", "pid", getpid());
    g_key_file_set_string(kf, "bridge", "host", b->host ? b->host : "");
    g_key_file_set_integer(kf, "bridge", "domain", b->domain);
    g_key_file_set_string(kf, "bridge", "config", b->cfg ? b->cfg->path : "");
    g_key_file_set_string(kf, "bridge", "config_state", config_state);
    g_key_file_set_boolean(kf, "bridge", "broker_connected", b->ctx != NULL);
    g_key_file_set_int64(kf, "bridge", "updated", (int64_t)time(NULL));
    for (size_t i = 0; i < b->routes->len; i++)
        put_route(kf, b->routes->pdata[i]);
    data = g_key_file_to_data(kf, &len, NULL);
    return g_file_set_contents(path, data, (gssize)len, error) ? 0 : -1;
}

void status_remove(const char *path)
{
    unlink(path);
}

static void json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            g_string_append_printf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            g_string_append_printf(out, "\\u%04x", *s);
        else
            g_string_append_c(out, *s);
    }
    g_string_append_c(out, '"');
}

static const char *const route_strings[] = {"dds_topic",   "dds_type",   "direction", "type",
                                            "reliability", "durability", NULL};

static void print_json(GKeyFile *kf, gchar **groups, int running)
{
    g_autoptr(GString) out = g_string_new("{");
    g_autofree char *host = g_key_file_get_string(kf, "bridge", "host", NULL);
    g_autofree char *config = g_key_file_get_string(kf, "bridge", "config", NULL);
    g_autofree char *state = g_key_file_get_string(kf, "bridge", "config_state", NULL);
    int first = 1;

    g_string_append_printf(out, "\"pid\": %" G_GINT64_FORMAT ", \"running\": %s, \"host\": ",
                           g_key_file_get_int64(kf, "bridge", "pid", NULL),
                           running ? "true" : "false");
    json_string(out, host ? host : "");
    g_string_append_printf(out, ", \"domain\": %d, \"config\": ",
                           g_key_file_get_integer(kf, "bridge", "domain", NULL));
    json_string(out, config ? config : "");
    g_string_append(out, ", \"config_state\": ");
    json_string(out, state ? state : "");
    g_string_append_printf(
        out, ", \"broker_connected\": %s, \"updated\": %" G_GINT64_FORMAT ", \"topics\": [",
        g_key_file_get_boolean(kf, "bridge", "broker_connected", NULL) ? "true" : "false",
        g_key_file_get_int64(kf, "bridge", "updated", NULL));
    for (size_t i = 0; groups[i]; i++) {
        if (!g_str_has_prefix(groups[i], "topic "))
            continue;
        g_string_append(out, first ? "{\"topic\": " : ", {\"topic\": ");
        first = 0;
        json_string(out, groups[i] + 6);
        for (size_t k = 0; route_strings[k]; k++) {
            g_autofree char *v = g_key_file_get_string(kf, groups[i], route_strings[k], NULL);
            g_string_append_printf(out, ", \"%s\": ", route_strings[k]);
            json_string(out, v ? v : "");
        }
        g_string_append_printf(out, ", \"depth\": %" G_GINT64_FORMAT,
                               g_key_file_get_int64(kf, groups[i], "depth", NULL));
        for (size_t k = 0; counter_keys[k]; k++)
            g_string_append_printf(out, ", \"%s\": %" G_GINT64_FORMAT, counter_keys[k],
                                   g_key_file_get_int64(kf, groups[i], counter_keys[k], NULL));
        g_string_append_c(out, '}');
    }
    g_string_append(out, "]}");
    puts(out->str);
}

static void print_text(GKeyFile *kf, gchar **groups, int running)
{
    g_autofree char *host = g_key_file_get_string(kf, "bridge", "host", NULL);
    g_autofree char *config = g_key_file_get_string(kf, "bridge", "config", NULL);
    g_autofree char *state = g_key_file_get_string(kf, "bridge", "config_state", NULL);

    printf("agnocast-bridge pid %" G_GINT64_FORMAT " (%s), host %s, DDS domain %d\n",
           g_key_file_get_int64(kf, "bridge", "pid", NULL), running ? "running" : "NOT RUNNING",
           host ? host : "?", g_key_file_get_integer(kf, "bridge", "domain", NULL));
    printf("config %s: %s; broker %s\n", config ? config : "?", state ? state : "?",
           g_key_file_get_boolean(kf, "bridge", "broker_connected", NULL) ? "connected"
                                                                          : "not connected");
    for (size_t i = 0; groups[i]; i++) {
        const char *g = groups[i];
        g_autofree char *dir = NULL, *type = NULL, *dds = NULL, *rel = NULL, *dur = NULL;

        if (!g_str_has_prefix(g, "topic "))
            continue;
        dir = g_key_file_get_string(kf, g, "direction", NULL);
        type = g_key_file_get_string(kf, g, "type", NULL);
        dds = g_key_file_get_string(kf, g, "dds_topic", NULL);
        rel = g_key_file_get_string(kf, g, "reliability", NULL);
        dur = g_key_file_get_string(kf, g, "durability", NULL);
        printf("\n%s  %s  as %s  type %s  %s %s depth %" G_GINT64_FORMAT "\n", g + 6, dir, dds,
               type, rel, dur, g_key_file_get_int64(kf, g, "depth", NULL));
        for (size_t k = 0; counter_keys[k]; k++) {
            int64_t v = g_key_file_get_int64(kf, g, counter_keys[k], NULL);
            if (v >= 0)
                printf("  %-20s %" G_GINT64_FORMAT "\n", counter_keys[k], v);
        }
    }
}

int status_print(const char *path, int json)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) groups = NULL;
    int64_t pid;
    int running;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
        fprintf(stderr,
                "agnocast-bridge: no status at %s (%s): is the bridge running? Start it "
                "(systemctl start agnocast-bridge) or give its --status-file\n",
                path, err->message);
        return 1;
    }
    pid = g_key_file_get_int64(kf, "bridge", "pid", NULL);
    running = pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
    groups = g_key_file_get_groups(kf, NULL);
    if (json)
        print_json(kf, groups, running);
    else
        print_text(kf, groups, running);
    return running ? 0 : 1;
}
