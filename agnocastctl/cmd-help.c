/* `agnocastctl help [COMMAND]`: the command overview, or one command's help. */
#include "agnocastctl.h"

static int cmd_help_run(const struct ctl_invocation *inv, GError **error)
{
    char *text;

    if (inv->argc == 0) {
        text = ctl_overview();
    } else {
        const struct ctl_cmd *cmd = ctl_cmd_find(inv->argv[0]);
        if (cmd == NULL) {
            g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                        "unknown command '%s': `agnocastctl help` lists the commands",
                        inv->argv[0]);
            return CLI_EXIT_USAGE;
        }
        text = ctl_cmd_help(cmd);
    }
    g_print("%s", text);
    g_free(text);
    return CLI_EXIT_OK;
}

const struct ctl_cmd cmd_help_entry = {
    .name = "help",
    .summary = "Show the commands, or the help of one command",
    .usage = "[COMMAND]",
    .description = NULL,
    .args_min = 0,
    .args_max = 1,
    .flags = 0,
    .run = cmd_help_run,
};
