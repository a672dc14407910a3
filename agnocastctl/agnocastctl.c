/* agnocastctl's entry point: global options, the command table, per-command option parsing. */
#include "agnocastctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agnocast-config.h"
#include "agnocast-proto.h"

#define CTL_TIMEOUT_DEFAULT_S 5

const struct ctl_cmd *const ctl_cmd_table[] = {
    &cmd_list_topics_entry,
    &cmd_topic_info_entry,
    &cmd_list_processes_entry,
    &cmd_stats_entry,
    &cmd_rules_entry,
    &cmd_hz_entry,
    &cmd_bw_entry,
    &cmd_echo_entry,
    &cmd_watch_entry,
    &cmd_help_entry,
    NULL,
};

/* enum cli_exit, as agnocastctl meets it; agnocastd's --help has no such text (its manual does). */
static const char ctl_exit_text[] =
    "Exit status:\n"
    "  0  success\n"
    "  1  a failure none of the others names (a system call, memory)\n"
    "  2  usage error (unknown command or option, wrong arguments, a value that is not a\n"
    "     number or out of range, an invalid topic name)\n"
    "  3  no broker at the socket (no such socket, or nobody listens)\n"
    "  4  no permission to connect to the broker's socket\n"
    "  5  the broker could not be understood (protocol version mismatch, no reply in time,\n"
    "     connection closed, malformed reply)\n"
    "  6  the broker answered with an error (for example an unknown topic)\n"
    "  7  no publisher segment of the topic could be read (hz, bw, echo: the publishing\n"
    "     processes are gone, or the broker refused their segments)\n"
    "agnocastd exits with the same numbers for the same kinds of failure.\n";

/* Option values; the global and the per-command parsers write to the same places. */
static struct {
    char *socket;
    int timeout_s;
    gboolean json;
    char *bridge_status;
    gboolean version;
} ctl_opt = {.timeout_s = CTL_TIMEOUT_DEFAULT_S};

static const GOptionEntry ctl_broker_entries[] = {
    {"socket", 's', 0, G_OPTION_ARG_FILENAME, &ctl_opt.socket,
     "Broker socket (default: $AGNOCAST_SOCKET, else " AGNOCAST_DEFAULT_SOCKET_PATH ")", "PATH"},
    {"timeout", 't', 0, G_OPTION_ARG_INT, &ctl_opt.timeout_s,
     "Seconds to wait for each broker reply (default 5)", "SECONDS"},
    {NULL},
};

static const GOptionEntry ctl_json_entries[] = {
    {"json", 'j', 0, G_OPTION_ARG_NONE, &ctl_opt.json, "Print one JSON document (stable format)",
     NULL},
    {NULL},
};

static const GOptionEntry ctl_bridge_entries[] = {
    {"bridge-status", 0, 0, G_OPTION_ARG_FILENAME, &ctl_opt.bridge_status,
     "agnocast-bridge's status file (default: $AGNOCAST_BRIDGE_STATUS, "
     "else " AGNOCAST_BRIDGE_STATUS_FILE "; \"\": none)",
     "FILE"},
    {NULL},
};

static const GOptionEntry ctl_global_entries[] = {
    {"version", 'V', 0, G_OPTION_ARG_NONE, &ctl_opt.version, "Print the version and exit", NULL},
    {NULL},
};

const struct ctl_cmd *ctl_cmd_find(const char *name)
{
    for (const struct ctl_cmd *const *cmd = ctl_cmd_table; *cmd != NULL; cmd++)
        if (strcmp((*cmd)->name, name) == 0)
            return *cmd;
    return NULL;
}

static GOptionContext *ctl_global_context(void)
{
    GString *desc = g_string_new("Commands:\n");

    for (const struct ctl_cmd *const *cmd = ctl_cmd_table; *cmd != NULL; cmd++)
        g_string_append_printf(desc, "  %-16s%s\n", (*cmd)->name, (*cmd)->summary);
    g_string_append(desc, "\nRun `agnocastctl COMMAND --help` for the options of one command.\n"
                          "The broker socket is --socket PATH, else $AGNOCAST_SOCKET, "
                          "else\n" AGNOCAST_DEFAULT_SOCKET_PATH ".\n\n");
    g_string_append(desc, ctl_exit_text);

    g_set_prgname("agnocastctl");
    GOptionContext *ctx = g_option_context_new("COMMAND [ARGS...]");
    g_option_context_set_summary(ctx, "Inspect a running agnocast broker (agnocastd).");
    g_option_context_set_description(ctx, desc->str);
    g_option_context_add_main_entries(ctx, ctl_global_entries, NULL);
    g_option_context_add_main_entries(ctx, ctl_broker_entries, NULL);
    /* Stop at the command name: what follows belongs to the command's own parser. */
    g_option_context_set_strict_posix(ctx, TRUE);
    g_string_free(desc, TRUE);
    return ctx;
}

static GOptionContext *ctl_cmd_context(const struct ctl_cmd *cmd)
{
    g_autofree char *prgname = g_strdup_printf("agnocastctl %s", cmd->name);
    GString *desc = g_string_new(NULL);

    if (cmd->description != NULL)
        g_string_append_printf(desc, "%s\n\n", cmd->description);
    g_string_append(desc, ctl_exit_text);

    g_set_prgname(prgname);
    GOptionContext *ctx = g_option_context_new(cmd->usage);
    g_option_context_set_summary(ctx, cmd->summary);
    g_option_context_set_description(ctx, desc->str);
    if (cmd->options != NULL)
        g_option_context_add_main_entries(ctx, cmd->options, NULL);
    if (cmd->flags & CTL_CMD_JSON)
        g_option_context_add_main_entries(ctx, ctl_json_entries, NULL);
    if (cmd->flags & CTL_CMD_BROKER)
        g_option_context_add_main_entries(ctx, ctl_broker_entries, NULL);
    if (cmd->flags & CTL_CMD_BRIDGE)
        g_option_context_add_main_entries(ctx, ctl_bridge_entries, NULL);
    g_string_free(desc, TRUE);
    return ctx;
}

char *ctl_cmd_help(const struct ctl_cmd *cmd)
{
    GOptionContext *ctx = ctl_cmd_context(cmd);
    char *text = g_option_context_get_help(ctx, TRUE, NULL);

    g_option_context_free(ctx);
    return text;
}

char *ctl_overview(void)
{
    GOptionContext *ctx = ctl_global_context();
    char *text = g_option_context_get_help(ctx, TRUE, NULL);

    g_option_context_free(ctx);
    return text;
}

gboolean ctl_check_topic(const char *topic, GError **error)
{
    if (agnocast_topic_name_valid(topic))
        return TRUE;
    g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                "'%s' is not a valid topic name: a topic starts with '/' and is made of "
                "segments of letters, digits and '_' joined by '/', no segment empty or "
                "starting with a digit, no trailing '/', at most %d bytes (e.g. /sensor/lidar_0)",
                topic, AGNOCAST_TOPIC_NAME_MAX);
    return FALSE;
}

static int ctl_usage_error(const char *prgname, const char *message, const char *help_hint)
{
    g_printerr("%s: %s\nTry `%s`.\n", prgname, message, help_hint);
    return CLI_EXIT_USAGE;
}

static const char *ctl_socket_path(void)
{
    const char *env = getenv("AGNOCAST_SOCKET");

    if (ctl_opt.socket != NULL)
        return ctl_opt.socket;
    if (env != NULL && env[0] != '\0')
        return env;
    return AGNOCAST_DEFAULT_SOCKET_PATH;
}

/* The same file agnocast-bridge writes when systemd runs it (RuntimeDirectory=agnocast-bridge),
 * not $RUNTIME_DIRECTORY: that would be the directory of whatever service runs agnocastctl. */
static const char *ctl_bridge_status_path(void)
{
    const char *env = getenv("AGNOCAST_BRIDGE_STATUS");

    if (ctl_opt.bridge_status != NULL)
        return ctl_opt.bridge_status;
    if (env != NULL && env[0] != '\0')
        return env;
    return AGNOCAST_BRIDGE_STATUS_FILE;
}

static int ctl_run_cmd(const struct ctl_cmd *cmd, int argc, char **argv)
{
    g_autofree char *prgname = g_strdup_printf("agnocastctl %s", cmd->name);
    g_autofree char *hint = g_strdup_printf("agnocastctl %s --help", cmd->name);
    GOptionContext *ctx = ctl_cmd_context(cmd);
    GError *error = NULL;
    gboolean parsed = g_option_context_parse(ctx, &argc, &argv, &error);

    g_option_context_free(ctx);
    if (!parsed) {
        int rc = ctl_usage_error(prgname, error->message, hint);
        g_error_free(error);
        return rc;
    }
    /* argv[0] is the command name; an explicit "--" is left in by the parser. */
    int first = (argc > 1 && strcmp(argv[1], "--") == 0) ? 2 : 1;
    int nargs = argc - first;
    if (nargs < cmd->args_min || nargs > cmd->args_max) {
        g_autofree char *msg =
            nargs < cmd->args_min
                ? g_strdup_printf("missing argument: usage is `agnocastctl %s %s`", cmd->name,
                                  cmd->usage)
                : g_strdup_printf("unexpected argument '%s'", argv[first + cmd->args_max]);
        return ctl_usage_error(prgname, msg, hint);
    }
    if (ctl_opt.timeout_s < 1)
        return ctl_usage_error(prgname, "--timeout must be at least 1 second", hint);

    struct ctl_invocation inv = {
        .socket_path = ctl_socket_path(),
        .timeout_s = ctl_opt.timeout_s,
        .json = ctl_opt.json,
        .bridge_status_path = ctl_bridge_status_path(),
        .argc = nargs,
        .argv = argv + first,
    };
    int rc = cmd->run(&inv, &error);
    if (rc != CLI_EXIT_OK)
        g_printerr("agnocastctl: %s\n", error != NULL ? error->message : "failed");
    g_clear_error(&error);
    return rc;
}

int main(int argc, char **argv)
{
    cli_init();

    GOptionContext *ctx = ctl_global_context();
    GError *error = NULL;
    gboolean parsed = g_option_context_parse(ctx, &argc, &argv, &error);
    g_option_context_free(ctx);
    if (!parsed) {
        int rc = ctl_usage_error("agnocastctl", error->message, "agnocastctl --help");
        g_error_free(error);
        return rc;
    }
    if (ctl_opt.version) {
        printf("agnocastctl %s (protocol version %d)\n", AGNOCAST_VERSION_STRING,
               AGNOCAST_PROTO_VERSION);
        return CLI_EXIT_OK;
    }
    if (argc < 2)
        return ctl_usage_error("agnocastctl", "no command given", "agnocastctl help");

    const struct ctl_cmd *cmd = ctl_cmd_find(argv[1]);
    if (cmd == NULL) {
        g_autofree char *msg = g_strdup_printf("unknown command '%s'", argv[1]);
        return ctl_usage_error("agnocastctl", msg, "agnocastctl help");
    }
    return ctl_run_cmd(cmd, argc - 1, argv + 1);
}
