/* The subcommand descriptor, the invocation every command runs with, and the exit statuses. */
#ifndef AGNOCASTCTL_H
#define AGNOCASTCTL_H

#include <glib.h>

/* The exit statuses, enum cli_exit, shared with agnocastd; agnocastctl/README.md,
 * docs/agnocastctl.md and agnocastctl(1) list them for users. */
#include "cli.h"

/* GError domain whose codes are enum cli_exit values. */
#define CTL_ERROR ctl_error_quark()
GQuark ctl_error_quark(void);

/* What a command is run with, filled by the option parser in agnocastctl.c. */
struct ctl_invocation {
    const char *socket_path; /* --socket, else $AGNOCAST_SOCKET, else the built-in default */
    int timeout_s;           /* how long to wait for each reply */
    gboolean json;
    /* agnocast-bridge's status file: --bridge-status, else $AGNOCAST_BRIDGE_STATUS, else the
     * bridge's own default; "" reads none */
    const char *bridge_status_path;
    int argc; /* positional arguments after the command name and options */
    char **argv;
};

/* Descriptor flags: which common options a command takes. */
#define CTL_CMD_JSON   0x1u /* --json */
#define CTL_CMD_BROKER 0x2u /* --socket, --timeout */
#define CTL_CMD_BRIDGE 0x4u /* --bridge-status */

struct ctl_cmd {
    const char *name;
    const char *summary;
    const char *usage; /* positional arguments, e.g. "TOPIC" ("" for none) */
    const char *description;
    int args_min;
    int args_max;
    unsigned flags;
    const GOptionEntry *options; /* the command's own options, or NULL */
    /* Writes the result to stdout; returns an enum cli_exit value, setting *error unless 0. */
    int (*run)(const struct ctl_invocation *inv, GError **error);
};

extern const struct ctl_cmd cmd_list_topics_entry;
extern const struct ctl_cmd cmd_topic_info_entry;
extern const struct ctl_cmd cmd_list_processes_entry;
extern const struct ctl_cmd cmd_stats_entry;
extern const struct ctl_cmd cmd_rules_entry;
extern const struct ctl_cmd cmd_hz_entry;
extern const struct ctl_cmd cmd_bw_entry;
extern const struct ctl_cmd cmd_echo_entry;
extern const struct ctl_cmd cmd_watch_entry;
extern const struct ctl_cmd cmd_help_entry;

/* The command table, NULL-terminated (agnocastctl.c). */
extern const struct ctl_cmd *const ctl_cmd_table[];

const struct ctl_cmd *ctl_cmd_find(const char *name);

/* FALSE with *error (usage, naming the rule) if `topic` is not a valid topic name. */
gboolean ctl_check_topic(const char *topic, GError **error);

/* The help text of one command, as `agnocastctl CMD --help` prints it; g_free() it. */
char *ctl_cmd_help(const struct ctl_cmd *cmd);

/* The overview `agnocastctl help` and `agnocastctl --help` print; g_free() it. */
char *ctl_overview(void);

#endif
