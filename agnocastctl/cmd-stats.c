/* `agnocastctl stats`: the broker's request counts, and every topic's message counters. */
#include "agnocastctl.h"
#include "bridge-status.h"
#include "client.h"
#include "counters.h"
#include "endpoints.h"
#include "format.h"
#include "json.h"
#include "segcache.h"

#include <stdio.h>

struct cmd_stats_topic {
    char *name;
    GArray *endpoints; /* of struct ctl_endpoint; NULL: the topic went away while asking */
};

static void cmd_stats_topic_clear(void *p)
{
    struct cmd_stats_topic *t = p;

    g_free(t->name);
    if (t->endpoints != NULL)
        g_array_free(t->endpoints, TRUE);
}

/* Every topic with its endpoints and counters; a topic that vanishes between the list and its
 * TOPIC_INFO is skipped, any other error ends the command. */
static GArray *cmd_stats_topics(struct client *c, struct segcache *sc, GError **error)
{
    GArray *names = client_query_list(c, AGNOCAST_MSG_LIST_TOPICS, NULL, error);

    if (names == NULL)
        return NULL;
    GArray *topics = g_array_new(FALSE, TRUE, sizeof(struct cmd_stats_topic));
    g_array_set_clear_func(topics, cmd_stats_topic_clear);
    if (names->len > 0 && !segcache_refresh(sc, error))
        goto fail;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_array_index(names, struct agnocast_wire_topic_entry, i).topic;
        GError *local = NULL;
        struct cmd_stats_topic t = {.name = g_strdup(name)};

        t.endpoints = endpoints_query(c, sc, name, FALSE, &local);
        if (t.endpoints == NULL) {
            g_free(t.name);
            if (local->code != CLI_EXIT_REFUSED) {
                g_propagate_error(error, local);
                goto fail;
            }
            g_error_free(local);
            continue;
        }
        g_array_append_val(topics, t);
    }
    g_array_free(names, TRUE);
    return topics;

fail:
    g_array_free(names, TRUE);
    g_array_free(topics, TRUE);
    return NULL;
}

static void cmd_stats_json_topics(GString *out, const GArray *topics)
{
    /* Left out with no topics, so the document of an idle broker is what it always was. */
    if (topics->len == 0)
        return;
    g_string_append(out, ",\"topics\":[");
    for (guint i = 0; i < topics->len; i++) {
        const struct cmd_stats_topic *t = &g_array_index(topics, struct cmd_stats_topic, i);

        g_string_append(out, i ? ",{" : "{");
        json_append_key(out, "name");
        json_append_string(out, t->name);
        g_string_append_c(out, ',');
        counters_json_endpoints(out, t->endpoints, FALSE);
        g_string_append_c(out, '}');
    }
    g_string_append_c(out, ']');
}

static void cmd_stats_text_topics(GString *out, const GArray *topics)
{
    if (topics->len == 0)
        return;
    struct format_table t;
    format_table_init(&t, COUNTERS_COLUMNS);
    counters_table_header(&t, TRUE);
    for (guint i = 0; i < topics->len; i++) {
        const struct cmd_stats_topic *st = &g_array_index(topics, struct cmd_stats_topic, i);
        counters_table_rows(&t, st->name, st->endpoints, TRUE);
    }
    g_string_append_c(out, '\n');
    format_table_flush(&t, out);
}

static int cmd_stats_run(const struct ctl_invocation *inv, GError **error)
{
    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    /* STATS first: the counts it shows should not include this command's other queries. */
    GArray *stats = client_query_stats(c, error);
    uint32_t broker_pid = client_broker_pid(c);
    struct segcache *sc = segcache_new(c, TRUE);
    GArray *topics = stats != NULL ? cmd_stats_topics(c, sc, error) : NULL;
    int rc = CLI_EXIT_OK;

    if (topics == NULL) {
        rc = (*error)->code;
    } else {
        struct bridge_status *bridge = bridge_status_open(inv->bridge_status_path);
        GString *out = g_string_new(NULL);
        format_stats(out, broker_pid, (const struct agnocast_wire_stats_entry *)(void *)stats->data,
                     stats->len, inv->json);
        if (inv->json) {
            /* format_stats ends the document with "}\n": reopen it to add the topics. */
            g_string_truncate(out, out->len - 2);
            cmd_stats_json_topics(out, topics);
            bridge_status_json(out, bridge, TRUE);
            g_string_append(out, "}\n");
        } else {
            cmd_stats_text_topics(out, topics);
            bridge_status_text_counters(out, bridge);
        }
        fputs(out->str, stdout);
        g_string_free(out, TRUE);
        bridge_status_free(bridge);
        g_array_free(topics, TRUE);
    }
    if (stats != NULL)
        g_array_free(stats, TRUE);
    segcache_free(sc);
    client_free(c);
    return rc;
}

const struct ctl_cmd cmd_stats_entry = {
    .name = "stats",
    .summary = "Show the broker's request counts and every topic's message counters",
    .usage = "",
    .description =
        "Prints the broker's pid, then one line per request kind with its count\n"
        "since the broker started (this command's own HELLO and STATS included).\n"
        "Then, when the broker knows topics, one line per publisher and subscription\n"
        "of every topic with the counters read from the processes' segments:\n"
        "published; received, missed, corrupt, unreachable (publishers the\n"
        "subscription could not map or read) (\"?\": the segment cannot be read,\n"
        "stderr says why). --json adds \"topics\":[{\"name\",\"publishers\":[{\"pid\",\n"
        "\"index\",\"published\"}],\"subscriptions\":[{\"pid\",\"index\",\"received\",\n"
        "\"missed\",\"corrupt\",\"unreachable\"}]}] when there is at least one topic.\n"
        "When agnocast-bridge's status file exists (--bridge-status), a last section:\n"
        "the bridge's pid, host, DDS domain and broker connection, then one line per\n"
        "bridged topic with its direction and counters (sent, received, published,\n"
        "dropped, duplicates, loops, decode_errors, encode_errors, copies); --json adds\n"
        "\"bridge_status\":{\"file\",\"pid\",\"running\",...,\"topics\":[...]}. A status\n"
        "left by a bridge that is not running shows one line saying so instead.",
    .args_min = 0,
    .args_max = 0,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER | CTL_CMD_BRIDGE,
    .run = cmd_stats_run,
};
