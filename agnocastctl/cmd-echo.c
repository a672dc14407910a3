/* `agnocastctl echo TOPIC`: each new message's sequence, publisher, size and first bytes. */
#include "agnocastctl.h"
#include "client.h"
#include "endpoints.h"
#include "json.h"
#include "segcache.h"
#include "stop.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#define CMD_ECHO_POLL_MS   2
#define CMD_ECHO_REFRESH_S 1.0
#define CMD_ECHO_BYTES_MAX 4096

static struct {
    int count;
    int bytes;
} cmd_echo_opt = {.bytes = 16};

static const GOptionEntry cmd_echo_options[] = {
    {"count", 'n', 0, G_OPTION_ARG_INT, &cmd_echo_opt.count,
     "Stop after N messages (default 0: until interrupted)", "N"},
    {"bytes", 'b', 0, G_OPTION_ARG_INT, &cmd_echo_opt.bytes,
     "Show the first K bytes of each message (default 16, 0 to 4096)", "K"},
    {NULL},
};

struct cmd_echo {
    struct client *c;
    struct segcache *sc;
    const char *topic;
    gboolean json;
    GArray *endpoints;
    GHashTable *next; /* endpoints_key -> next message number to show */
    unsigned shown;
    unsigned char *buf;
};

static void cmd_echo_hex(GString *out, const unsigned char *p, size_t n, const char *sep)
{
    for (size_t i = 0; i < n; i++)
        g_string_append_printf(out, "%s%02x", i ? sep : "", p[i]);
}

static void cmd_echo_print(struct cmd_echo *ec, const struct ctl_endpoint *e,
                           const struct segview_msg *m, size_t n)
{
    GString *out = g_string_new(NULL);

    if (ec->json) {
        g_string_append_c(out, '{');
        json_append_key(out, "topic");
        json_append_string(out, ec->topic);
        g_string_append_printf(
            out,
            ",\"sequence\":%" PRIu64 ",\"pid\":%" PRIu32 ",\"index\":%" PRIu32 ",\"size\":%" PRIu64
            ",\"timestamp_ns\":%" PRIu64 ",\"address\":\"0x%" PRIx64 "\",\"hex\":\"",
            m->seq, e->entry.pid, e->entry.index, m->size, m->timestamp_ns, m->addr);
        cmd_echo_hex(out, ec->buf, n, "");
        g_string_append(out, "\"}\n");
    } else {
        g_string_append_printf(out,
                               "seq %" PRIu64 "  publisher %" PRIu32 "/%" PRIu32 "  size %" PRIu64,
                               m->seq, e->entry.pid, e->entry.index, m->size);
        if (n > 0)
            g_string_append(out, "  ");
        cmd_echo_hex(out, ec->buf, n, " ");
        g_string_append_c(out, '\n');
    }
    fputs(out->str, stdout);
    g_string_free(out, TRUE);
}

static void cmd_echo_skipped(struct cmd_echo *ec, const struct ctl_endpoint *e, uint64_t first,
                             uint64_t count, const char *why)
{
    if (ec->json) {
        GString *out = g_string_new("{");
        json_append_key(out, "topic");
        json_append_string(out, ec->topic);
        g_string_append_printf(out,
                               ",\"pid\":%" PRIu32 ",\"index\":%" PRIu32 ",\"skipped\":%" PRIu64
                               ",\"first_sequence\":%" PRIu64 ",\"reason\":",
                               e->entry.pid, e->entry.index, count, first);
        json_append_string(out, why);
        g_string_append(out, "}\n");
        fputs(out->str, stdout);
        g_string_free(out, TRUE);
    } else {
        printf("skipped %" PRIu64 " message%s of publisher %" PRIu32 "/%" PRIu32
               " from seq %" PRIu64 ": %s\n",
               count, count == 1 ? "" : "s", e->entry.pid, e->entry.index, first, why);
    }
}

static uint64_t *cmd_echo_next(struct cmd_echo *ec, const struct ctl_endpoint *e)
{
    guint64 key = endpoints_key(e);
    uint64_t *next = g_hash_table_lookup(ec->next, &key);

    if (next == NULL) {
        guint64 *k = g_new(guint64, 1);
        *k = key;
        next = g_new(uint64_t, 1);
        *next = e->published + 1; /* only messages published from now on */
        g_hash_table_insert(ec->next, k, next);
    }
    return next;
}

/* Shows the new messages of one publisher; FALSE once --count messages were shown. */
static gboolean cmd_echo_publisher(struct cmd_echo *ec, const struct ctl_endpoint *e)
{
    uint64_t *next = cmd_echo_next(ec, e);
    uint64_t head = agn_shm_ring_head(&e->ring);
    uint64_t oldest = head >= e->ring.depth ? head - e->ring.depth + 1 : 1;

    if (head + 1 < *next) {
        *next = head + 1; /* the head went back: another process took the pid and slot */
        return TRUE;
    }
    if (*next < oldest) {
        cmd_echo_skipped(ec, e, *next, oldest - *next, "overwritten before they were read");
        *next = oldest;
    }
    for (; *next <= head; (*next)++) {
        struct segview_msg m;
        size_t n = 0;
        int r = segview_ring_read(e->seg, &e->ring, *next, &m);

        if (r == -EBADMSG) {
            cmd_echo_skipped(ec, e, *next, 1, "its address or size lies outside the segment");
            continue;
        }
        if (r == 0 || !segview_copy(&e->ring, &m, ec->buf, (size_t)cmd_echo_opt.bytes, &n)) {
            cmd_echo_skipped(ec, e, *next, 1, "overwritten while it was read");
            continue;
        }
        cmd_echo_print(ec, e, &m, n);
        if (cmd_echo_opt.count > 0 && ++ec->shown >= (unsigned)cmd_echo_opt.count)
            return FALSE;
    }
    return TRUE;
}

static gboolean cmd_echo_refresh(struct cmd_echo *ec, gboolean first, GError **error)
{
    return endpoints_follow(ec->c, ec->sc, ec->topic, first, &ec->endpoints, error);
}

static int cmd_echo_loop(struct cmd_echo *ec, GError **error)
{
    if (!cmd_echo_refresh(ec, TRUE, error))
        return (*error)->code;

    if (!endpoints_some_ring_readable(ec->endpoints, ec->topic, error))
        return CLI_EXIT_NO_SEGMENT;

    double refreshed = stop_now();
    while (stop_sleep_ms(CMD_ECHO_POLL_MS)) {
        for (guint i = 0; i < ec->endpoints->len; i++) {
            const struct ctl_endpoint *e = &g_array_index(ec->endpoints, struct ctl_endpoint, i);
            if (e->entry.is_publisher && e->ring_ok && !cmd_echo_publisher(ec, e))
                return CLI_EXIT_OK;
        }
        fflush(stdout);
        if (stop_now() - refreshed >= CMD_ECHO_REFRESH_S) {
            if (!cmd_echo_refresh(ec, FALSE, error))
                return (*error)->code;
            refreshed = stop_now();
        }
    }
    return CLI_EXIT_OK;
}

static int cmd_echo_run(const struct ctl_invocation *inv, GError **error)
{
    if (!ctl_check_topic(inv->argv[0], error))
        return CLI_EXIT_USAGE;
    if (cmd_echo_opt.count < 0 || cmd_echo_opt.bytes < 0 ||
        cmd_echo_opt.bytes > CMD_ECHO_BYTES_MAX) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                    "--count must be 0 or more and --bytes 0 to %d (for example --bytes 16)",
                    CMD_ECHO_BYTES_MAX);
        return CLI_EXIT_USAGE;
    }

    struct cmd_echo ec = {.topic = inv->argv[0], .json = inv->json};
    ec.c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (ec.c == NULL)
        return (*error)->code;
    ec.sc = segcache_new(ec.c, TRUE);
    ec.next = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    ec.buf = g_malloc(CMD_ECHO_BYTES_MAX);
    stop_install();

    int rc = cmd_echo_loop(&ec, error);
    fflush(stdout);

    if (ec.endpoints != NULL)
        g_array_free(ec.endpoints, TRUE);
    g_free(ec.buf);
    g_hash_table_destroy(ec.next);
    segcache_free(ec.sc);
    client_free(ec.c);
    return rc;
}

const struct ctl_cmd cmd_echo_entry = {
    .name = "echo",
    .summary = "Print each new message of a topic: sequence, publisher, size, first bytes",
    .usage = "TOPIC",
    .description =
        "Prints one line per message published from now on: its sequence number, the\n"
        "publisher (PID/INDEX), its size and its first --bytes bytes in hex. Messages\n"
        "are read in place through a read-only mapping of the publisher's segment; the\n"
        "publisher never waits for agnocastctl, so a message overwritten before or while\n"
        "it is read is reported as skipped. --json prints one document per line:\n"
        "{\"topic\",\"sequence\",\"pid\",\"index\",\"size\",\"timestamp_ns\",\"address\",\n"
        "\"hex\"}, or {\"topic\",\"pid\",\"index\",\"skipped\",\"first_sequence\",\"reason\"}.\n"
        "Stops after --count messages or on Ctrl-C.",
    .args_min = 1,
    .args_max = 1,
    .flags = CTL_CMD_JSON | CTL_CMD_BROKER,
    .options = cmd_echo_options,
    .run = cmd_echo_run,
};
