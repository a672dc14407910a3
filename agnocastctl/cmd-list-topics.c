/* `agnocastctl list-topics`: every topic with its publisher and subscription counts. */
#include "agnocastctl.h"
#include "bridge-status.h"
#include "client.h"
#include "format.h"

#include <stdio.h>

static int cmd_list_topics_run(const struct ctl_invocation *inv, GError **error)
{
    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    GArray *topics = client_query_list(c, AGNOCAST_MSG_LIST_TOPICS, NULL, error);
    client_free(c);
    if (topics == NULL)
        return (*error)->code;

    struct bridge_status *bridge = bridge_status_open(inv->bridge_status_path);
    GString *out = g_string_new(NULL);
    format_topics(out, (const struct agnocast_wire_topic_entry *)(void *)topics->data, topics->len,
                  bridge, inv->json);
    bridge_status_free(bridge);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_array_free(topics, TRUE);
    return CLI_EXIT_OK;
}

const struct ctl_cmd cmd_list_topics_entry = {
    .name = "list-topics",
    .summary = "List every topic with its publisher and subscription counts",
    .usage = "",
    .description =
        "Prints a header line and one line per topic, sorted by name; with no topics,\n"
        "only the header. --json prints {\"topics\":[{\"name\",\"publishers\","
        "\"subscriptions\"}]}.\n"
        "When agnocast-bridge's status file exists (--bridge-status), two columns more:\n"
        "BRIDGE, the direction the topic is bridged (out, in, both, - for none), and\n"
        "REMOTE, the DDS readers and writers on other hosts the bridge matched; --json\n"
        "adds \"bridge\" to each topic (null when not bridged) and \"bridge_status\".\n"
        "A status left by a bridge that is not running adds one line saying so.",
    .args_min = 0,
    .args_max = 0,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER | CTL_CMD_BRIDGE,
    .run = cmd_list_topics_run,
};
