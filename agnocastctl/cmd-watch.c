/* `agnocastctl watch`: a refreshing view of every topic with its rate and missed messages. */
#include "agnocastctl.h"
#include "client.h"
#include "endpoints.h"
#include "format.h"
#include "segcache.h"
#include "stop.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static struct {
    double interval_s;
    int iterations;
} cmd_watch_opt = {.interval_s = 1.0};

static const GOptionEntry cmd_watch_options[] = {
    {"interval", 'i', 0, G_OPTION_ARG_DOUBLE, &cmd_watch_opt.interval_s,
     "Seconds between refreshes (default 1, 0.1 to 3600)", "SEC"},
    {"iterations", 'n', 0, G_OPTION_ARG_INT, &cmd_watch_opt.iterations,
     "Stop after N views (default 0: until interrupted)", "N"},
    {NULL},
};

/* One topic's figures in one view. */
struct cmd_watch_row {
    char *topic;
    guint pubs, subs;
    guint pubs_read, subs_read; /* endpoints whose counters could be read */
    guint pubs_rated;           /* publishers also read in the previous view */
    uint64_t advanced;          /* messages published since the previous view */
    uint64_t published, received, missed, corrupt, unreachable;
};

struct cmd_watch {
    struct client *c;
    struct segcache *sc;
    GHashTable *heads;     /* "topic pid index" -> head at the previous view */
    GHashTable *now;       /* the same, being filled for this view */
    GPtrArray *unreadable; /* messages of segments that could not be read, this view */
};

static void cmd_watch_row_free(void *p)
{
    struct cmd_watch_row *r = p;

    g_free(r->topic);
    g_free(r);
}

static void cmd_watch_add(struct cmd_watch *w, struct cmd_watch_row *row, const GArray *eps)
{
    for (guint i = 0; i < eps->len; i++) {
        const struct ctl_endpoint *e = &g_array_index(eps, struct ctl_endpoint, i);

        if (e->seg == NULL && e->why != NULL) {
            g_autofree char *line = g_strdup(e->why);
            gboolean dup = FALSE;
            for (guint k = 0; k < w->unreadable->len && !dup; k++)
                dup = g_str_equal(g_ptr_array_index(w->unreadable, k), line);
            if (!dup)
                g_ptr_array_add(w->unreadable, g_steal_pointer(&line));
        }
        if (!e->entry.is_publisher) {
            row->subs++;
            if (e->have_counters) {
                row->subs_read++;
                row->received += e->sub.received;
                row->missed += e->sub.missed;
                row->corrupt += e->sub.corrupt;
                row->unreachable += e->sub.unreachable;
            }
            continue;
        }
        row->pubs++;
        if (!e->have_counters)
            continue;
        row->pubs_read++;
        row->published += e->published;
        char *key =
            g_strdup_printf("%s %" PRIu32 " %" PRIu32, row->topic, e->entry.pid, e->entry.index);
        uint64_t *prev = g_hash_table_lookup(w->heads, key);
        if (prev != NULL && *prev <= e->published) {
            row->pubs_rated++;
            row->advanced += e->published - *prev;
        }
        g_hash_table_replace(w->now, key, g_memdup2(&e->published, sizeof e->published));
    }
}

/* One view's rows, or NULL with *error set when the broker cannot be asked. */
static GPtrArray *cmd_watch_sample(struct cmd_watch *w, GError **error)
{
    GArray *topics = client_query_list(w->c, AGNOCAST_MSG_LIST_TOPICS, NULL, error);

    if (topics == NULL)
        return NULL;
    if (!segcache_refresh(w->sc, error)) {
        g_array_free(topics, TRUE);
        return NULL;
    }
    GPtrArray *rows = g_ptr_array_new_with_free_func(cmd_watch_row_free);
    g_ptr_array_set_size(w->unreadable, 0);
    for (guint i = 0; i < topics->len; i++) {
        const char *name = g_array_index(topics, struct agnocast_wire_topic_entry, i).topic;
        GError *local = NULL;
        GArray *eps = endpoints_query(w->c, w->sc, name, FALSE, &local);

        if (eps == NULL) {
            if (local->code != CLI_EXIT_REFUSED) {
                g_propagate_error(error, local);
                g_ptr_array_free(rows, TRUE);
                g_array_free(topics, TRUE);
                return NULL;
            }
            g_error_free(local); /* gone since the list: leave it out */
            continue;
        }
        struct cmd_watch_row *row = g_new0(struct cmd_watch_row, 1);
        row->topic = g_strdup(name);
        cmd_watch_add(w, row, eps);
        g_ptr_array_add(rows, row);
        g_array_free(eps, TRUE);
    }
    g_array_free(topics, TRUE);
    /* This view's heads are the next view's previous ones. */
    GHashTable *old = w->heads;
    w->heads = w->now;
    w->now = old;
    g_hash_table_remove_all(w->now);
    return rows;
}

static char *cmd_watch_count(guint have, guint of, uint64_t value)
{
    if (of == 0)
        return g_strdup("-");
    return have > 0 ? g_strdup_printf("%" PRIu64 "%s", value, have < of ? "+" : "") : g_strdup("?");
}

static void cmd_watch_render(GString *out, struct cmd_watch *w, const GPtrArray *rows, double dt,
                             gboolean tty)
{
    char clock[16];
    time_t t = time(NULL);
    struct tm tm;

    strftime(clock, sizeof clock, "%H:%M:%S", localtime_r(&t, &tm));
    if (tty)
        g_string_append(out, "\033[H\033[2J");
    g_string_append_printf(
        out, "agnocastctl watch: broker pid %" PRIu32 ", %u topic%s, every %.1f s, %s\n\n",
        client_broker_pid(w->c), rows->len, rows->len == 1 ? "" : "s", cmd_watch_opt.interval_s,
        clock);

    struct format_table table;
    format_table_init(&table, 9);
    format_table_add(&table, format_cells(9, g_strdup("TOPIC"), g_strdup("PUBS"), g_strdup("SUBS"),
                                          g_strdup("RATE_HZ"), g_strdup("PUBLISHED"),
                                          g_strdup("RECEIVED"), g_strdup("MISSED"),
                                          g_strdup("CORRUPT"), g_strdup("UNREACHABLE")));
    for (guint i = 0; i < rows->len; i++) {
        const struct cmd_watch_row *r = g_ptr_array_index(rows, i);
        char *rate = r->pubs == 0         ? g_strdup("-")
                     : r->pubs_rated == 0 ? g_strdup("?")
                                          : g_strdup_printf("%.1f", (double)r->advanced / dt);
        format_table_add(
            &table, format_cells(9, format_clean_text(r->topic), g_strdup_printf("%u", r->pubs),
                                 g_strdup_printf("%u", r->subs), rate,
                                 cmd_watch_count(r->pubs_read, r->pubs, r->published),
                                 cmd_watch_count(r->subs_read, r->subs, r->received),
                                 cmd_watch_count(r->subs_read, r->subs, r->missed),
                                 cmd_watch_count(r->subs_read, r->subs, r->corrupt),
                                 cmd_watch_count(r->subs_read, r->subs, r->unreachable)));
    }
    format_table_flush(&table, out);
    for (guint i = 0; i < w->unreadable->len; i++)
        g_string_append_printf(out, "unreadable: %s\n",
                               (char *)g_ptr_array_index(w->unreadable, i));
    if (!tty)
        g_string_append_c(out, '\n');
}

static int cmd_watch_loop(struct cmd_watch *w, GError **error)
{
    gboolean tty = isatty(STDOUT_FILENO);
    GPtrArray *rows = cmd_watch_sample(w, error);
    double last = stop_now();

    if (rows == NULL)
        return (*error)->code;
    g_ptr_array_free(rows, TRUE);
    for (int n = 1; cmd_watch_opt.iterations == 0 || n <= cmd_watch_opt.iterations; n++) {
        if (!stop_sleep_ms((unsigned)(cmd_watch_opt.interval_s * 1000)))
            break;
        rows = cmd_watch_sample(w, error);
        if (rows == NULL)
            return (*error)->code;
        double now = stop_now();
        GString *out = g_string_new(NULL);
        cmd_watch_render(out, w, rows, now - last, tty);
        last = now;
        fputs(out->str, stdout);
        fflush(stdout);
        g_string_free(out, TRUE);
        g_ptr_array_free(rows, TRUE);
    }
    return CLI_EXIT_OK;
}

static int cmd_watch_run(const struct ctl_invocation *inv, GError **error)
{
    if (!(cmd_watch_opt.interval_s >= 0.1 && cmd_watch_opt.interval_s <= 3600) ||
        cmd_watch_opt.iterations < 0) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                    "--interval must be between 0.1 and 3600 seconds and --iterations 0 or more "
                    "(for example --interval 1)");
        return CLI_EXIT_USAGE;
    }

    struct cmd_watch w = {0};
    w.c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (w.c == NULL)
        return (*error)->code;
    /* Unreadable segments are shown in the view, not repeated on stderr. */
    w.sc = segcache_new(w.c, FALSE);
    w.heads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    w.now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    w.unreadable = g_ptr_array_new_with_free_func(g_free);
    stop_install();

    int rc = cmd_watch_loop(&w, error);

    g_ptr_array_free(w.unreadable, TRUE);
    g_hash_table_destroy(w.heads);
    g_hash_table_destroy(w.now);
    segcache_free(w.sc);
    client_free(w.c);
    return rc;
}

const struct ctl_cmd cmd_watch_entry = {
    .name = "watch",
    .summary = "Show a live, refreshing view of every topic with rates and missed counts",
    .usage = "",
    .description =
        "Every --interval seconds prints every topic with its number of publishers and\n"
        "subscriptions, the publishing rate since the previous view, and the totals of\n"
        "messages published, received, missed and corrupt, and of unreachable publishers\n"
        "(publishers a subscription could not map or read), read from the processes'\n"
        "segments. \"?\": no segment could be read (the reasons are listed below the\n"
        "table), a \"+\" after a number: some could not. On a terminal the screen is\n"
        "cleared before each view; otherwise the views follow one another, separated by\n"
        "a blank line. Stops after --iterations views or on Ctrl-C. There is no --json:\n"
        "scripts use `stats --json` or `hz --json`.",
    .args_min = 0,
    .args_max = 0,
    .flags = CTL_CMD_BROKER,
    .options = cmd_watch_options,
    .run = cmd_watch_run,
};
