/* `agnocastctl topic-info TOPIC`: a topic's publishers and subscriptions, QoS and counters. */
#include "agnocastctl.h"
#include "bridge-status.h"
#include "client.h"
#include "counters.h"
#include "endpoints.h"
#include "format.h"
#include "json.h"
#include "segcache.h"

#include <stdio.h>

static void cmd_topic_info_json(GString *out, const char *topic, const GArray *endpoints,
                                const struct bridge_status *bridge)
{
    g_string_append_c(out, '{');
    json_append_key(out, "topic");
    json_append_string(out, topic);
    g_string_append_c(out, ',');
    counters_json_endpoints(out, endpoints, TRUE);
    /* Only with a status file: without a bridge the document is what it always was. */
    if (bridge != NULL) {
        g_string_append(out, ",\"bridge\":");
        bridge_route_json(out, bridge_status_route(bridge, topic));
    }
    bridge_status_json(out, bridge, FALSE);
    g_string_append(out, "}\n");
}

static void cmd_topic_info_text(GString *out, const char *topic, const GArray *endpoints,
                                const struct bridge_status *bridge)
{
    g_autofree struct agnocast_wire_endpoint_entry *wire =
        g_new0(struct agnocast_wire_endpoint_entry, endpoints->len + 1);

    for (guint i = 0; i < endpoints->len; i++)
        wire[i] = g_array_index(endpoints, struct ctl_endpoint, i).entry;
    format_topic_info(out, topic, wire, endpoints->len, FALSE);
    /* Counters come from the processes' segments, which the broker never sees: shown when at
     * least one could be read (stderr says why the others could not). */
    if (endpoints_any_counters(endpoints)) {
        struct format_table t;
        format_table_init(&t, COUNTERS_COLUMNS - 1);
        counters_table_header(&t, FALSE);
        counters_table_rows(&t, topic, endpoints, FALSE);
        g_string_append_c(out, '\n');
        format_table_flush(&t, out);
    }
    bridge_route_text(out, bridge, bridge_status_route(bridge, topic));
    bridge_status_text_not_running(out, bridge);
}

static int cmd_topic_info_run(const struct ctl_invocation *inv, GError **error)
{
    const char *topic = inv->argv[0];

    /* Checked here so a typo gets the rule, not a round trip and a terse broker error. */
    if (!ctl_check_topic(topic, error))
        return CLI_EXIT_USAGE;

    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    struct segcache *sc = segcache_new(c, TRUE);
    GArray *endpoints = endpoints_query(c, sc, topic, TRUE, error);
    int rc = CLI_EXIT_OK;
    if (endpoints == NULL) {
        rc = (*error)->code;
    } else {
        struct bridge_status *bridge = bridge_status_open(inv->bridge_status_path);
        GString *out = g_string_new(NULL);
        if (inv->json)
            cmd_topic_info_json(out, topic, endpoints, bridge);
        else
            cmd_topic_info_text(out, topic, endpoints, bridge);
        fputs(out->str, stdout);
        g_string_free(out, TRUE);
        bridge_status_free(bridge);
        g_array_free(endpoints, TRUE);
    }
    segcache_free(sc);
    client_free(c);
    return rc;
}

const struct ctl_cmd cmd_topic_info_entry = {
    .name = "topic-info",
    .summary = "Show the publishers and subscriptions of one topic with their QoS and counters",
    .usage = "TOPIC",
    .description =
        "Prints a summary line, then one line per publisher and per subscription:\n"
        "pid, endpoint index, depth, durability, reliability, ignore_local. Then the\n"
        "counters, read from the processes' segments: per publisher the messages\n"
        "published, per subscription the messages received, missed and corrupt, and\n"
        "the publishers it could not map or read (unreachable: its messages from them\n"
        "do not arrive) (--json: members published, received, missed, corrupt,\n"
        "unreachable). A segment that cannot be read (process gone, refused by the\n"
        "broker) is reported on stderr and its counters are left out. An unknown\n"
        "topic is an error (exit status 6).\n"
        "When agnocast-bridge bridges the topic (its status file, --bridge-status), a\n"
        "section \"bridged by agnocast-bridge\": direction, DDS topic and type, codec,\n"
        "QoS, the local and remote (DDS) endpoints it matched, and its counters (sent,\n"
        "received, published, dropped, duplicates, loops, decode_errors,\n"
        "encode_errors, copies); --json adds \"bridge\" (null when not bridged) and\n"
        "\"bridge_status\". A status left by a bridge that is not running adds one line\n"
        "saying so.",
    .args_min = 1,
    .args_max = 1,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER | CTL_CMD_BRIDGE,
    .run = cmd_topic_info_run,
};
