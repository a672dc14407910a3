/* `agnocastctl list-processes`: every registered process, its address range and pool. */
#include "agnocastctl.h"
#include "client.h"
#include "format.h"

#include <stdio.h>

static int cmd_list_processes_run(const struct ctl_invocation *inv, GError **error)
{
    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    GArray *procs = client_query_list(c, AGNOCAST_MSG_LIST_PROCESSES, NULL, error);
    client_free(c);
    if (procs == NULL)
        return (*error)->code;

    GString *out = g_string_new(NULL);
    format_processes(out, (const struct agnocast_wire_process_entry *)(void *)procs->data,
                     procs->len, inv->json);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_array_free(procs, TRUE);
    return CLI_EXIT_OK;
}

const struct ctl_cmd cmd_list_processes_entry = {
    .name = "list-processes",
    .summary = "List registered processes with their address range and pool size",
    .usage = "",
    .description = "Prints pid, uid, the address range the broker gave the process (start-end,\n"
                   "end exclusive), its pool size, and its publisher and subscription counts.\n"
                   "--json gives the pool size in bytes (pool_size_bytes).",
    .args_min = 0,
    .args_max = 0,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .run = cmd_list_processes_run,
};
