/* agnocast-bridge: options, signals, and the loop that dispatches, reloads and reports. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agnocast-config.h"
#include "bridge-config.h"
#include "codec.h"
#include "log.h"
#include "route.h"
#include "status.h"

/* How often the status file is rewritten (also the longest a signal waits to be handled). */
#define STATUS_PERIOD_MS 1000

static volatile sig_atomic_t quit, reload;
static struct agnocast_context *volatile signal_ctx;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload = 1;
    else
        quit = 1;
    if (signal_ctx)
        agnocast_context_stop(signal_ctx);
}

static void handle_signals(void)
{
    struct sigaction sa = {0};

    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char *default_status_file(void)
{
    static char path[4096];
    const char *dir = getenv("RUNTIME_DIRECTORY");

    /* systemd's RuntimeDirectory= may list several, separated by ':': the first is ours. */
    if (dir && dir[0] == '/') {
        snprintf(path, sizeof(path), "%.*s/status", (int)strcspn(dir, ":"), dir);
        return path;
    }
    return AGNOCAST_BRIDGE_STATUS_FILE;
}

/* --check: the config parses and every topic's codec loads. */
static int check(const struct config *cfg, const char *codec_dir)
{
    int bad = 0;

    for (size_t i = 0; i < cfg->topics->len; i++) {
        const struct topic_config *t = cfg->topics->pdata[i];
        g_autoptr(GError) err = NULL;
        if (codec_find(t->type, cfg->codec_dir ? cfg->codec_dir : codec_dir, &err) == NULL) {
            fprintf(stderr, "agnocast-bridge: %s: %s\n", t->topic, err->message);
            bad = 1;
        } else {
            printf("%s: %s, type %s\n", t->topic, direction_name(t->direction), t->type);
        }
    }
    printf("%s: %u topic(s), DDS domain %d, host %s%s\n", cfg->path, cfg->topics->len, cfg->domain,
           cfg->host, bad ? ": NOT usable" : "");
    return bad;
}

/* Waits for the broker: the bridge may start before it (or while it restarts). */
static struct agnocast_context *connect_broker(void)
{
    struct agnocast_context *ctx = NULL;
    int said = 0;

    while (!quit && agnocast_context_new(&ctx) < 0) {
        if (!said)
            log_warn("%s; retrying every second", agnocast_last_error());
        said = 1;
        nanosleep(&(struct timespec){1, 0}, NULL);
    }
    if (said && ctx)
        log_info("connected to the broker");
    return ctx;
}

static struct config *load(const char *path, char **state)
{
    g_autoptr(GError) err = NULL;
    int missing;
    struct config *cfg = config_load(path, &missing, &err);

    g_free(*state);
    if (cfg == NULL) {
        *state = g_strdup_printf("error: %s", err->message);
        log_error("%s", err->message);
        return NULL;
    }
    if (missing) {
        *state = g_strdup("missing: nothing bridged");
        log_warn("no config at %s: nothing is bridged; write one (agnocast-bridge(8)) and send "
                 "SIGHUP",
                 path);
    } else {
        *state = g_strdup("loaded");
    }
    return cfg;
}

int main(int argc, char **argv)
{
    g_autofree char *config_path = g_strdup(BRIDGE_DEFAULT_CONFIG);
    g_autofree char *codec_dir = g_strdup(BRIDGE_CODEC_DIR);
    g_autofree char *status_file = NULL;
    g_autofree char *state = NULL;
    gboolean show_status = FALSE, json = FALSE, check_only = FALSE, verbose = FALSE,
             version = FALSE;
    GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
         "The configuration (default " BRIDGE_DEFAULT_CONFIG ")", "PATH"},
        {"codec-dir", 0, 0, G_OPTION_ARG_FILENAME, &codec_dir,
         "Where codec plugins NAME.so are (default " BRIDGE_CODEC_DIR ")", "DIR"},
        {"status-file", 0, 0, G_OPTION_ARG_FILENAME, &status_file,
         "Where the bridge writes its status (default $RUNTIME_DIRECTORY/status, "
         "else " AGNOCAST_BRIDGE_STATUS_FILE ")",
         "PATH"},
        {"status", 's', 0, G_OPTION_ARG_NONE, &show_status,
         "Print the running bridge's topics and counters, then exit", NULL},
        {"json", 'j', 0, G_OPTION_ARG_NONE, &json, "With --status: as one JSON object", NULL},
        {"check", 0, 0, G_OPTION_ARG_NONE, &check_only,
         "Check the configuration and its codecs, then exit", NULL},
        {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log more", NULL},
        {"version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) oc = g_option_context_new("- carry agnocast topics over DDS");
    g_autoptr(GError) err = NULL;
    struct bridge b = {0};
    struct config *cfg;
    int r = 0, status_warned = 0;

    g_option_context_add_main_entries(oc, entries, NULL);
    g_option_context_set_description(oc, "See agnocast-bridge(8).");
    if (!g_option_context_parse(oc, &argc, &argv, &err) || argc > 1) {
        fprintf(stderr, "agnocast-bridge: %s; see --help\n",
                err ? err->message : "no arguments besides options are taken");
        return 2;
    }
    if (version) {
        printf("agnocast-bridge %s\n", AGNOCAST_VERSION_STRING);
        return 0;
    }
    if (status_file == NULL)
        status_file = g_strdup(default_status_file());
    if (show_status)
        return status_print(status_file, json);
    if (json) {
        fprintf(stderr, "agnocast-bridge: --json goes with --status; see --help\n");
        return 2;
    }
    log_verbose = verbose;
    if ((cfg = load(config_path, &state)) == NULL)
        return 1;
    if (check_only) {
        r = check(cfg, codec_dir);
        config_free(cfg);
        return r;
    }
    handle_signals();
    b.codec_dir = codec_dir;
    b.routes = g_ptr_array_new();
    if ((b.ctx = connect_broker()) == NULL) {
        config_free(cfg);
        return 0;
    }
    signal_ctx = b.ctx;
    bridge_apply(&b, cfg);
    while (!quit) {
        g_autoptr(GError) werr = NULL;
        if (status_write(&b, state, status_file, &werr) < 0 && !status_warned) {
            log_warn("cannot write the status (--status will not see this bridge): %s",
                     werr->message);
            status_warned = 1;
        }
        if ((r = agnocast_context_spin(b.ctx, STATUS_PERIOD_MS)) < 0) {
            log_error("dispatch failed: %s", agnocast_last_error());
            break;
        }
        if (reload && !quit) {
            reload = 0;
            log_info("reloading %s", config_path);
            if ((cfg = load(config_path, &state)) != NULL)
                bridge_apply(&b, cfg);
            else
                log_error("reload failed: keeping the previous configuration");
        }
    }
    signal_ctx = NULL;
    bridge_clear(&b);
    config_free(b.cfg);
    g_ptr_array_free(b.routes, TRUE);
    g_free(b.host);
    agnocast_context_free(b.ctx);
    status_remove(status_file);
    return r < 0 ? 1 : 0;
}
