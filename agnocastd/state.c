/* The state file: the range table written on every change, read back after a restart. */
#include "state.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glib.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "ranges.h"
#include "registry.h"

#define STATE_HEADER    "# agnocastd state 1: pid uid starttime base size"
#define STATE_FILE_NAME "agnocastd.state"
#define STATE_FILE_MAX  (16u << 20) /* far above any real table; a bigger file is not ours */

struct state {
    struct broker *broker;
    char *path;       /* NULL: nothing is kept */
    GArray *reserved; /* struct state_reservation */
    struct event *ev_expire;
    bool warned; /* a failed write was logged; the next success says so */
};

char *state_default_path(const char *socket_path, bool socket_is_file)
{
    const char *rt = getenv("RUNTIME_DIRECTORY");

    if (socket_is_file && socket_path != NULL && socket_path[0] != '\0' && socket_path[0] != '@')
        return g_strconcat(socket_path, ".state", NULL);
    if (rt != NULL && rt[0] == '/') {
        /* systemd lists every RuntimeDirectory=, separated by colons: use the first. */
        const char *colon = strchr(rt, ':');
        char *dir = colon != NULL ? g_strndup(rt, (gsize)(colon - rt)) : g_strdup(rt);
        char *path = g_build_filename(dir, STATE_FILE_NAME, NULL);
        g_free(dir);
        return path;
    }
    return g_strdup("/run/agnocast/" STATE_FILE_NAME);
}

uint64_t state_pid_starttime(pid_t pid)
{
    char path[64], *text = NULL, *p;
    unsigned long long v = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return 0;
    /* The command name may hold spaces and parentheses: fields count from the last ')'. */
    p = strrchr(text, ')');
    if (p != NULL) {
        p++;
        for (int field = 3; field < 22 && p != NULL; field++)
            p = strchr(p + 1, ' ');
        if (p == NULL || sscanf(p, " %llu", &v) != 1)
            v = 0;
    }
    g_free(text);
    return v;
}

/* Alive and the same process: a pid reused since has another start time. */
static bool process_alive(const struct state_reservation *r)
{
    uint64_t now;

    if (kill(r->pid, 0) < 0 && errno != EPERM)
        return false;
    now = state_pid_starttime(r->pid);
    return r->starttime == 0 || now == 0 || now == r->starttime;
}

static void save_process(struct reg_process *p, void *data)
{
    g_string_append_printf(data, "%d %u %" PRIu64 " 0x%" PRIx64 " %" PRIu64 "\n", (int)p->pid,
                           (unsigned)p->uid, p->starttime, p->base, p->size);
}

void state_save(struct state *s)
{
    GString *text;
    char *tmp;
    int fd, err = 0;

    if (s == NULL || s->path == NULL)
        return;
    text = g_string_new(STATE_HEADER "\n");
    registry_foreach_process(s->broker->reg, save_process, text);
    for (guint i = 0; i < s->reserved->len; i++) {
        const struct state_reservation *r =
            &g_array_index(s->reserved, struct state_reservation, i);
        g_string_append_printf(text, "%d %u %" PRIu64 " 0x%" PRIx64 " %" PRIu64 "\n", (int)r->pid,
                               (unsigned)r->uid, r->starttime, r->base, r->size);
    }
    /* Written beside the file and renamed over it: a reader sees the old or the new table. */
    tmp = g_strconcat(s->path, ".tmp", NULL);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) < 0 || write(fd, text->str, text->len) != (ssize_t)text->len)
        err = errno != 0 ? errno : EIO;
    if (fd >= 0 && close(fd) < 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, s->path) < 0)
        err = errno;
    if (err != 0) {
        unlink(tmp);
        if (!s->warned)
            g_warning("cannot write the state file %s: %s; a restarted broker will not know the "
                      "ranges of running processes (fix the directory's permissions or pick "
                      "another --state-file)",
                      s->path, g_strerror(err));
        s->warned = true;
    } else if (s->warned) {
        g_message("state file %s written again", s->path);
        s->warned = false;
    }
    g_free(tmp);
    g_string_free(text, TRUE);
}

static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
    struct state *s = arg;

    for (guint i = 0; i < s->reserved->len; i++) {
        const struct state_reservation *r =
            &g_array_index(s->reserved, struct state_reservation, i);
        g_message("reservation of range 0x%" PRIx64 "-0x%" PRIx64 " for process %d expired: it "
                  "did not re-register within %u s (--restart-grace)",
                  r->base, r->base + r->size, (int)r->pid, s->broker->cfg.restart_grace);
        ranges_release(s->broker->ranges, r->base);
    }
    g_array_set_size(s->reserved, 0);
    state_save(s);
}

/* One line of the file: reserve its range if its process lives. */
static void load_line(struct state *s, const char *line, guint lineno)
{
    struct state_reservation r;
    unsigned long long start, base, size;
    unsigned uid;
    int pid, n = 0;
    uint64_t got;

    if (line[0] == '#' || line[0] == '\0')
        return;
    if (sscanf(line, "%d %u %llu %llx %llu%n", &pid, &uid, &start, &base, &size, &n) != 5 ||
        line[n] != '\0' || pid <= 0) {
        g_warning("%s:%u: not a state entry, skipped", s->path, lineno);
        return;
    }
    r = (struct state_reservation){pid, uid, start, base, size};
    if (!process_alive(&r)) {
        g_info("process %d of the previous broker is gone: range 0x%llx is free", pid, base);
        return;
    }
    if (ranges_alloc(s->broker->ranges, size, base, &got) < 0) {
        g_warning("%s:%u: range 0x%llx (%llu bytes) of process %d is outside this broker's window "
                  "or overlaps another; not reserved",
                  s->path, lineno, base, size, pid);
        return;
    }
    g_array_append_val(s->reserved, r);
    g_message("reserved range 0x%llx-0x%llx for process %d until it re-registers (at most %u s)",
              base, base + size, pid, s->broker->cfg.restart_grace);
}

static void load(struct state *s)
{
    GError *error = NULL;
    char *text = NULL;
    gsize len = 0;
    char **lines;

    if (!g_file_get_contents(s->path, &text, &len, &error)) {
        if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_warning("cannot read the state file: %s; ranges of running processes are not "
                      "reserved",
                      error->message);
        g_error_free(error);
        return;
    }
    if (len > STATE_FILE_MAX || strlen(text) != len) {
        g_warning("%s is not a state file (too large or binary); ignored", s->path);
        g_free(text);
        return;
    }
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++)
        load_line(s, lines[i], i + 1);
    g_strfreev(lines);
    g_free(text);
}

struct state *state_open(struct broker *b, const char *path, unsigned grace)
{
    struct state *s = g_new0(struct state, 1);

    s->broker = b;
    s->reserved = g_array_new(FALSE, FALSE, sizeof(struct state_reservation));
    if (path == NULL || path[0] == '\0')
        return s;
    s->path = g_strdup(path);
    load(s);
    if (s->reserved->len > 0) {
        struct timeval tv = {(time_t)grace, 0};
        s->ev_expire = evtimer_new(b->base, expire_cb, s);
        evtimer_add(s->ev_expire, &tv);
    }
    state_save(s);
    return s;
}

void state_shutdown(struct state *s)
{
    if (s == NULL || s->path == NULL)
        return;
    if (registry_process_count(s->broker->reg) == 0 && s->reserved->len == 0)
        unlink(s->path);
}

void state_free(struct state *s)
{
    if (s == NULL)
        return;
    if (s->ev_expire != NULL)
        event_free(s->ev_expire);
    g_array_free(s->reserved, TRUE);
    g_free(s->path);
    g_free(s);
}

static guint find(const struct state *s, pid_t pid)
{
    guint i;

    for (i = 0; i < s->reserved->len; i++)
        if (g_array_index(s->reserved, struct state_reservation, i).pid == pid)
            break;
    return i;
}

int state_claim(struct state *s, pid_t pid, uid_t uid, uint64_t want_base,
                struct state_reservation *out)
{
    struct state_reservation r;
    guint i;
    uint64_t now;

    if (s == NULL || (i = find(s, pid)) == s->reserved->len)
        return 0;
    r = g_array_index(s->reserved, struct state_reservation, i);
    g_array_remove_index_fast(s->reserved, i);
    ranges_release(s->broker->ranges, r.base);
    now = state_pid_starttime(pid);
    if (r.uid == uid && r.base == want_base &&
        (r.starttime == 0 || now == 0 || now == r.starttime)) {
        *out = r;
        return 1;
    }
    g_message("process %d registered without claiming its reserved range 0x%" PRIx64
              " (a new process with a recycled pid, or one that gave the range up); released",
              (int)pid, r.base);
    return 0;
}

void state_restore(struct state *s, const struct state_reservation *r)
{
    uint64_t got;

    if (ranges_alloc(s->broker->ranges, r->size, r->base, &got) == 0)
        g_array_append_val(s->reserved, *r);
}

pid_t state_reserved_by(const struct state *s, uint64_t base, uint64_t size)
{
    for (guint i = 0; s != NULL && i < s->reserved->len; i++) {
        const struct state_reservation *r =
            &g_array_index(s->reserved, struct state_reservation, i);
        if (base < r->base + r->size && r->base < base + size)
            return r->pid;
    }
    return 0;
}

guint state_reservations(const struct state *s)
{
    return s != NULL ? s->reserved->len : 0;
}
