/* `agnocastctl stats`: how many requests of each kind the broker has handled. */
#include "agnocastctl.h"
#include "client.h"
#include "format.h"

#include <stdio.h>

static int cmd_stats_run(const struct ctl_invocation *inv, GError **error)
{
    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    GArray *stats = client_query_stats(c, error);
    uint32_t broker_pid = client_broker_pid(c);
    client_free(c);
    if (stats == NULL)
        return (*error)->code;

    GString *out = g_string_new(NULL);
    format_stats(out, broker_pid, (const struct agnocast_wire_stats_entry *)(void *)stats->data,
                 stats->len, inv->json);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_array_free(stats, TRUE);
    return CTL_EXIT_OK;
}

const struct ctl_cmd cmd_stats_entry = {
    .name = "stats",
    .summary = "Show how many requests of each kind the broker has handled",
    .usage = "",
    .description = "Prints the broker's pid, then one line per request kind with its count\n"
                   "since the broker started (this command's own HELLO and STATS included).",
    .args_min = 0,
    .args_max = 0,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .run = cmd_stats_run,
};
