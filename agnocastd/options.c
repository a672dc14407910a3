/* Command-line options of agnocastd: GOptionContext entries and the size syntax. */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agnocast-config.h"
#include "agnocast-proto.h"
#include "ranges.h"

int options_parse_size(const char *text, uint64_t *out)
{
    char *end = NULL;
    guint64 v;
    unsigned shift = 0;

    if (text == NULL || *text == '\0' || *text == '-' || g_ascii_isspace(*text))
        return -EINVAL;
    errno = 0;
    v = g_ascii_strtoull(text, &end, 0);
    if (errno != 0 || end == text)
        return -EINVAL;
    switch (g_ascii_toupper(*end)) {
    case '\0':
        break;
    case 'K':
        shift = 10;
        break;
    case 'M':
        shift = 20;
        break;
    case 'G':
        shift = 30;
        break;
    case 'T':
        shift = 40;
        break;
    default:
        return -EINVAL;
    }
    if (*end != '\0') {
        end++;
        /* "64M", "64MB" and "64MiB" all mean 64 << 20. */
        if (g_ascii_strcasecmp(end, "") != 0 && g_ascii_strcasecmp(end, "B") != 0 &&
            g_ascii_strcasecmp(end, "iB") != 0)
            return -EINVAL;
    }
    if (shift != 0 && v > (UINT64_MAX >> shift))
        return -EINVAL;
    *out = v << shift;
    return 0;
}

static struct broker_config *parsing; /* GOptionArgFunc has no user pointer without a group */

static gboolean size_option(const char *name, const char *value, gpointer data, GError **error)
{
    uint64_t v;
    uint64_t *dst;

    if (strcmp(name, "--pool-size") == 0)
        dst = &parsing->pool_size;
    else if (strcmp(name, "--max-pool-size") == 0)
        dst = &parsing->max_pool_size;
    else if (strcmp(name, "--window-base") == 0)
        dst = &parsing->window_base;
    else if (strcmp(name, "--max-address-space-per-uid") == 0)
        dst = &parsing->max_space_per_uid;
    else if (strcmp(name, "--max-queued-bytes-per-uid") == 0)
        dst = &parsing->max_queued_per_uid;
    else
        dst = &parsing->window_size;
    if (options_parse_size(value, &v) < 0) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s: \"%s\" is not a size; write bytes, hex (0x...) or a number with a K, M, "
                    "G or T suffix",
                    name, value);
        return FALSE;
    }
    /* 0 stands for "not given" in the two quotas (their defaults are worked out later). */
    if (v == 0 && (dst == &parsing->max_space_per_uid || dst == &parsing->max_queued_per_uid)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s 0: give at least 1", name);
        return FALSE;
    }
    *dst = v;
    return TRUE;
}

static gboolean mode_option(const char *name, const char *value, gpointer data, GError **error)
{
    char *end = NULL;
    guint64 v = g_ascii_strtoull(value, &end, 8);

    if (*value == '\0' || *end != '\0' || v > 0777) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "--socket-mode: \"%s\" is not an octal file mode such as 0660", value);
        return FALSE;
    }
    parsing->socket_mode = (guint)v;
    return TRUE;
}

int options_parse(int argc, char **argv, struct broker_config *cfg, char **err)
{
    gboolean version = FALSE;
    gint max_clients = OPTIONS_DEFAULT_MAX_CLIENTS;
    gint per_uid = OPTIONS_DEFAULT_MAX_CONNECTIONS_PER_UID;
    gint max_endpoints = OPTIONS_DEFAULT_MAX_ENDPOINTS;
    gint max_topics = OPTIONS_DEFAULT_MAX_TOPICS;
    gint grace = OPTIONS_DEFAULT_RESTART_GRACE;
    gint procs_per_uid = -1, topics_per_uid = -1; /* -1: a share of the global limit */
    gint endpoints_per_uid = OPTIONS_DEFAULT_MAX_ENDPOINTS_PER_UID;
    GOptionEntry entries[] = {
        {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &cfg->verbose, "Log debug messages", NULL},
        {"socket", 's', 0, G_OPTION_ARG_FILENAME, &cfg->socket_path,
         "Listen on PATH (default: $AGNOCAST_SOCKET, else " AGNOCAST_DEFAULT_SOCKET_PATH ")",
         "PATH"},
        {"socket-mode", 0, 0, G_OPTION_ARG_CALLBACK, mode_option,
         "File mode of the socket (default 0660)", "OCTAL"},
        {"pool-size", 0, 0, G_OPTION_ARG_CALLBACK, size_option,
         "Pool size for a process that asks for 0 (default 64M)", "SIZE"},
        {"max-pool-size", 0, 0, G_OPTION_ARG_CALLBACK, size_option,
         "Largest pool a process may ask for (default 4G)", "SIZE"},
        {"window-base", 0, 0, G_OPTION_ARG_CALLBACK, size_option,
         "Start of the address window ranges are taken from (default 0x40000000000)", "ADDR"},
        {"window-size", 0, 0, G_OPTION_ARG_CALLBACK, size_option,
         "Size of the address window (default 16T)", "SIZE"},
        {"max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients,
         "Most connections served at once (default 1024)", "N"},
        {"max-connections-per-uid", 0, 0, G_OPTION_ARG_INT, &per_uid,
         "Most connections of one user, root included (default 256)", "N"},
        {"max-endpoints", 0, 0, G_OPTION_ARG_INT, &max_endpoints,
         "Most publishers plus subscriptions of one process (default 256)", "N"},
        {"max-topics", 0, 0, G_OPTION_ARG_INT, &max_topics, "Most topics overall (default 10000)",
         "N"},
        {"max-processes-per-uid", 0, 0, G_OPTION_ARG_INT, &procs_per_uid,
         "Most registered processes of one user, root included (default: a quarter of "
         "--max-clients)",
         "N"},
        {"max-address-space-per-uid", 0, 0, G_OPTION_ARG_CALLBACK, size_option,
         "Most bytes of address ranges the processes of one user hold (default: a quarter of "
         "--window-size)",
         "SIZE"},
        {"max-endpoints-per-uid", 0, 0, G_OPTION_ARG_INT, &endpoints_per_uid,
         "Most publishers plus subscriptions of one user's processes (default 8192)", "N"},
        {"max-topics-per-uid", 0, 0, G_OPTION_ARG_INT, &topics_per_uid,
         "Most topics one user's processes have endpoints on (default: a quarter of "
         "--max-topics)",
         "N"},
        {"max-queued-bytes-per-uid", 0, 0, G_OPTION_ARG_CALLBACK, size_option,
         "Most bytes queued for one user's connections that they have not read; the connection "
         "that goes past it is dropped (default 64M)",
         "SIZE"},
        {"state-file", 0, 0, G_OPTION_ARG_FILENAME, &cfg->state_file,
         "Keep the range table in PATH for a restarted broker (default: <socket>.state; "
         "\"\" keeps none)",
         "PATH"},
        {"restart-grace", 0, 0, G_OPTION_ARG_INT, &grace,
         "Seconds a restarted broker keeps the ranges of live processes (default 10)", "SEC"},
        {"access-rules", 0, 0, G_OPTION_ARG_FILENAME, &cfg->access_rules,
         "Who may publish and subscribe under which topic prefix (default: none, everyone who "
         "may connect may do both; SIGHUP reloads)",
         "FILE"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx;
    GError *error = NULL;
    int rc = 0;

    memset(cfg, 0, sizeof(*cfg));
    cfg->socket_mode = OPTIONS_DEFAULT_SOCKET_MODE;
    cfg->pool_size = OPTIONS_DEFAULT_POOL_SIZE;
    cfg->max_pool_size = OPTIONS_DEFAULT_MAX_POOL_SIZE;
    cfg->window_base = RANGES_DEFAULT_BASE;
    cfg->window_size = RANGES_DEFAULT_SIZE;
    parsing = cfg;

    ctx = g_option_context_new("- agnocast broker daemon");
    g_option_context_set_summary(
        ctx, "Hands out address ranges and keeps the topic registry for agnocast processes.\n"
             "Control plane only: messages never pass through it.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        *err = g_strdup(error->message);
        g_error_free(error);
        rc = -1;
    } else if (argc > 1) {
        *err = g_strdup_printf("unexpected argument \"%s\"; see --help", argv[1]);
        rc = -1;
    } else if (version) {
        printf("agnocastd %s (protocol %d)\n", AGNOCAST_VERSION_STRING, AGNOCAST_PROTO_VERSION);
        rc = 1;
    } else if (max_clients < 1) {
        *err = g_strdup_printf("--max-clients %d: give at least 1", max_clients);
        rc = -1;
    } else if (per_uid < 1) {
        *err = g_strdup_printf("--max-connections-per-uid %d: give at least 1", per_uid);
        rc = -1;
    } else if (max_endpoints < 1) {
        *err = g_strdup_printf("--max-endpoints %d: give at least 1", max_endpoints);
        rc = -1;
    } else if (max_topics < 1) {
        *err = g_strdup_printf("--max-topics %d: give at least 1", max_topics);
        rc = -1;
    } else if (grace < 0) {
        *err = g_strdup_printf("--restart-grace %d: give 0 or more seconds", grace);
        rc = -1;
    } else if (procs_per_uid == 0 || procs_per_uid < -1) {
        *err = g_strdup_printf("--max-processes-per-uid %d: give at least 1", procs_per_uid);
        rc = -1;
    } else if (endpoints_per_uid < 1) {
        *err = g_strdup_printf("--max-endpoints-per-uid %d: give at least 1", endpoints_per_uid);
        rc = -1;
    } else if (topics_per_uid == 0 || topics_per_uid < -1) {
        *err = g_strdup_printf("--max-topics-per-uid %d: give at least 1", topics_per_uid);
        rc = -1;
    }
    cfg->max_clients = (guint)max_clients;
    cfg->max_connections_per_uid = (guint)per_uid;
    cfg->max_endpoints = (guint)max_endpoints;
    cfg->max_topics = (guint)max_topics;
    cfg->restart_grace = (guint)grace;
    cfg->max_processes_per_uid = procs_per_uid > 0
                                     ? (guint)procs_per_uid
                                     : MAX(cfg->max_clients / OPTIONS_DEFAULT_QUOTA_SHARE, 1u);
    cfg->max_topics_per_uid = topics_per_uid > 0
                                  ? (guint)topics_per_uid
                                  : MAX(cfg->max_topics / OPTIONS_DEFAULT_QUOTA_SHARE, 1u);
    cfg->max_endpoints_per_uid = (guint)endpoints_per_uid;
    if (cfg->max_space_per_uid == 0) {
        uint64_t one_pool = cfg->pool_size; /* as ranges_pool_size rounds it, when it can */
        ranges_pool_size(cfg->pool_size, cfg->pool_size, UINT64_MAX, &one_pool);
        cfg->max_space_per_uid = MAX(cfg->window_size / OPTIONS_DEFAULT_QUOTA_SHARE, one_pool);
    }
    if (cfg->max_queued_per_uid == 0)
        cfg->max_queued_per_uid = OPTIONS_DEFAULT_MAX_QUEUED_PER_UID;
    g_option_context_free(ctx);
    parsing = NULL;
    return rc;
}

void options_clear(struct broker_config *cfg)
{
    g_free(cfg->socket_path);
    g_free(cfg->state_file);
    g_free(cfg->access_rules);
    cfg->socket_path = NULL;
    cfg->state_file = NULL;
    cfg->access_rules = NULL;
}
