/* `agnocastctl topic-info TOPIC`: the publishers and subscriptions of one topic and their QoS. */
#include "agnocastctl.h"
#include "client.h"
#include "format.h"

#include <stdio.h>

static int cmd_topic_info_run(const struct ctl_invocation *inv, GError **error)
{
    const char *topic = inv->argv[0];

    /* Checked here so a typo gets the rule, not a round trip and a terse broker error. */
    if (!agnocast_topic_name_valid(topic)) {
        g_set_error(
            error, CTL_ERROR, CTL_EXIT_USAGE,
            "'%s' is not a valid topic name: a topic starts with '/' and is made of "
            "segments of letters, digits and '_' joined by '/', no segment empty or "
            "starting with a digit, no trailing '/', at most %d bytes (e.g. /sensor/lidar_0)",
            topic, AGNOCAST_TOPIC_NAME_MAX);
        return CTL_EXIT_USAGE;
    }

    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    GArray *endpoints = client_query_list(c, AGNOCAST_MSG_TOPIC_INFO, topic, error);
    client_free(c);
    if (endpoints == NULL)
        return (*error)->code;

    GString *out = g_string_new(NULL);
    format_topic_info(out, topic,
                      (const struct agnocast_wire_endpoint_entry *)(void *)endpoints->data,
                      endpoints->len, inv->json);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_array_free(endpoints, TRUE);
    return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_topic_info_entry = {
    .name = "topic-info",
    .summary = "Show the publishers and subscriptions of one topic with their QoS",
    .usage = "TOPIC",
    .description = "Prints a summary line, then one line per publisher and per subscription:\n"
                   "pid, endpoint index, depth, durability, reliability, ignore_local.\n"
                   "An unknown topic is an error (exit status 1).",
    .args_min = 1,
    .args_max = 1,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .run = cmd_topic_info_run,
};
