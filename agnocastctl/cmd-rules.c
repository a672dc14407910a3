/* `agnocastctl rules`: the broker's access rules, who may publish and subscribe where. */
#include "agnocastctl.h"
#include "client.h"
#include "format.h"

#include <stdio.h>

static int cmd_rules_run(const struct ctl_invocation *inv, GError **error)
{
    struct client *c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (c == NULL)
        return (*error)->code;

    GArray *rules = client_query_list(c, AGNOCAST_MSG_LIST_RULES, NULL, error);
    client_free(c);
    if (rules == NULL)
        return (*error)->code;

    GString *out = g_string_new(NULL);
    format_rules(out, (const struct agnocast_wire_rule_entry *)(void *)rules->data, rules->len,
                 inv->json);
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
    g_array_free(rules, TRUE);
    return CLI_EXIT_OK;
}

const struct ctl_cmd cmd_rules_entry = {
    .name = "rules",
    .summary = "Show who may publish and subscribe under which topic prefix",
    .usage = "",
    .description =
        "Prints the broker's access rules (agnocastd --access-rules), one line per prefix,\n"
        "sorted: who may publish and who may subscribe on topics under it (users, @groups,\n"
        "everyone or nobody). The longest matching prefix decides; a topic under no prefix is\n"
        "open to everyone. Without rules it says so. --json prints {\"rules\":[{\"prefix\",\n"
        "\"publish\":[names],\"subscribe\":[names]}]}, where [\"*\"] is everyone and [] nobody.",
    .args_min = 0,
    .args_max = 0,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .run = cmd_rules_run,
};
