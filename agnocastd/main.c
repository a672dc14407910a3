/* agnocastd: options, start-up checks, signals, the event loop and an orderly shutdown. */
#include <errno.h>
#include <event2/event.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "agnocast-config.h"
#include "agnocast-proto.h"
#include "access.h"
#include "broker.h"
#include "cli.h"
#include "client.h"
#include "listener.h"
#include "notify.h"
#include "options.h"
#include "ranges.h"
#include "registry.h"
#include "state.h"

static int check_config(const struct broker_config *cfg)
{
    char *why = NULL;
    uint64_t pool;

    if (ranges_window_validate(cfg->window_base, cfg->window_size, &why) < 0) {
        g_printerr("agnocastd: %s\n", why);
        g_free(why);
        return -1;
    }
    if (ranges_pool_size(0, cfg->pool_size, cfg->max_pool_size, &pool) < 0) {
        g_printerr("agnocastd: --pool-size %" G_GUINT64_FORMAT
                   " is 0 or over --max-pool-size %" G_GUINT64_FORMAT
                   "; lower one or raise the other\n",
                   cfg->pool_size, cfg->max_pool_size);
        return -1;
    }
    if (pool > cfg->window_size) {
        g_printerr("agnocastd: the window (--window-size %" G_GUINT64_FORMAT ") cannot hold one "
                   "pool of the default size (%" G_GUINT64_FORMAT "); raise --window-size\n",
                   cfg->window_size, pool);
        return -1;
    }
    return 0;
}

/* The exit status for a listener_open() failure (cli.h). */
static int listen_status(int err)
{
    switch (err) {
    case -EADDRINUSE:
        return CLI_EXIT_IN_USE;
    case -EACCES:
    case -EPERM:
        return CLI_EXIT_DENIED;
    case -ENAMETOOLONG:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_FAILURE;
    }
}

/* Each client holds its socket and its eventfd, plus queued duplicates: use the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void reload_cb(evutil_socket_t sig, short what, void *arg)
{
    broker_access_reload(arg);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct broker *b = arg;

    g_message("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopbreak(b->base);
}

int main(int argc, char **argv)
{
    struct broker b = {0};
    struct event *ev_term, *ev_int, *ev_hup;
    char *err = NULL, *state_path;
    int rc;

    cli_init();
    signal(SIGPIPE, SIG_IGN);
    rc = options_parse(argc, argv, &b.cfg, &err);
    if (rc != 0) {
        if (rc < 0)
            g_printerr("agnocastd: %s\nTry `agnocastd --help`.\n", err);
        g_free(err);
        options_clear(&b.cfg);
        return rc < 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (b.cfg.verbose)
        g_log_set_debug_enabled(TRUE);
    /* Options that are each valid but do not fit together: still the command line's fault. */
    if (check_config(&b.cfg) < 0) {
        options_clear(&b.cfg);
        return CLI_EXIT_USAGE;
    }
    /* Before the socket exists: a broker with rules it cannot read must not serve anyone. */
    if (broker_access_load(&b, &err) < 0) {
        g_printerr("agnocastd: %s\n", err);
        g_free(err);
        options_clear(&b.cfg);
        return CLI_EXIT_CONFIG;
    }
    raise_fd_limit();

    /* Signals first: a SIGTERM that comes once clients can connect must stop us cleanly. */
    b.base = event_base_new();
    if (b.base == NULL) {
        g_printerr("agnocastd: cannot create the event loop\n");
        options_clear(&b.cfg);
        return CLI_EXIT_FAILURE;
    }
    ev_term = evsignal_new(b.base, SIGTERM, signal_cb, &b);
    ev_int = evsignal_new(b.base, SIGINT, signal_cb, &b);
    ev_hup = evsignal_new(b.base, SIGHUP, reload_cb, &b);
    event_add(ev_term, NULL);
    event_add(ev_int, NULL);
    event_add(ev_hup, NULL);
    rc = listener_open(b.cfg.socket_path, b.cfg.socket_mode, &b.listener, &err);
    if (rc < 0) {
        g_printerr("agnocastd: %s\n", err);
        g_free(err);
        event_free(ev_term);
        event_free(ev_int);
        event_free(ev_hup);
        event_base_free(b.base);
        access_rules_free(b.access);
        options_clear(&b.cfg);
        return listen_status(rc);
    }
    broker_init(&b, b.base);
    if (b.cfg.state_file != NULL) {
        state_path = g_strdup(b.cfg.state_file);
    } else {
        state_path =
            state_default_path(listener_socket_file(b.listener), listener_from_systemd(b.listener));
        if (state_path == NULL)
            g_message("the socket %s is not a file: no state file is kept beside it; give "
                      "--state-file PATH to keep the ranges of running processes across a "
                      "restart",
                      listener_path(b.listener));
    }
    b.state = state_open(&b, state_path, b.cfg.restart_grace);
    g_free(state_path);
    listener_start(b.listener, b.base, client_accept, &b);

    g_message("agnocastd %s (protocol %d) listening on %s; window 0x%" G_GINT64_MODIFIER
              "x-0x%" G_GINT64_MODIFIER "x, default pool %" G_GUINT64_FORMAT " bytes; state %s",
              AGNOCAST_VERSION_STRING, AGNOCAST_PROTO_VERSION, listener_path(b.listener),
              b.cfg.window_base, b.cfg.window_base + b.cfg.window_size, b.cfg.pool_size,
              state_file(b.state) != NULL ? state_file(b.state) : "not kept");
    g_message("per-user quotas: %u processes, %" G_GUINT64_FORMAT " bytes of address ranges, %u "
              "endpoints, %u topics, %" G_GUINT64_FORMAT " bytes queued; %u connections",
              b.cfg.max_processes_per_uid, b.cfg.max_space_per_uid, b.cfg.max_endpoints_per_uid,
              b.cfg.max_topics_per_uid, b.cfg.max_queued_per_uid, b.cfg.max_connections_per_uid);
    rc = notify_send("READY=1");
    if (rc < 0)
        g_warning("cannot notify the service manager ($NOTIFY_SOCKET): %s", g_strerror(-rc));

    event_base_dispatch(b.base);

    notify_send("STOPPING=1");
    /* Clients keep running without us (and re-register with the next broker): no clean-up, and
     * the state file stays while anything is registered. */
    state_shutdown(b.state);
    broker_fini(&b);
    listener_close(b.listener);
    event_free(ev_term);
    event_free(ev_int);
    event_free(ev_hup);
    event_base_free(b.base);
    libevent_global_shutdown();
    options_clear(&b.cfg);
    g_message("stopped");
    return CLI_EXIT_OK;
}
