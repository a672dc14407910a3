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

#include "agnocast-config.h"
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

char *state_default_path(const char *socket_file, bool from_systemd)
{
    const char *rt = getenv("RUNTIME_DIRECTORY");

    /* $RUNTIME_DIRECTORY counts only when the service manager that passed the socket set it:
     * a broker started by hand may have inherited the system broker's. */
    if (from_systemd && rt != NULL && rt[0] == '/') {
        /* systemd lists every RuntimeDirectory=, separated by colons: use the first. */
        const char *colon = strchr(rt, ':');
        char *dir = colon != NULL ? g_strndup(rt, (gsize)(colon - rt)) : g_strdup(rt);
        char *path = g_build_filename(dir, STATE_FILE_NAME, NULL);
        g_free(dir);
        return path;
    }
    if (socket_file == NULL || socket_file[0] == '\0' || socket_file[0] == '@')
        return NULL;
    /* The broker on the default socket is the system broker: it keeps the name it always had. */
    if (strcmp(socket_file, AGNOCAST_DEFAULT_SOCKET_PATH) == 0) {
        char *dir = g_path_get_dirname(socket_file);
        char *path = g_build_filename(dir, STATE_FILE_NAME, NULL);
        g_free(dir);
        return path;
    }
    return g_strconcat(socket_file, ".state", NULL);
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

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
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
    /* Written to a new file beside it and renamed over it: a reader sees the old or the new
     * table. The new file is created here (O_EXCL), so it is this broker's whatever was lying
     * in the directory, and a rename never follows a symlink at the path. */
    tmp = g_strconcat(s->path, ".XXXXXX", NULL);
    fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        err = errno != 0 ? errno : EIO;
    else if (fchmod(fd, 0600) < 0)
        err = errno;
    else
        err = write_all(fd, text->str, text->len);
    if (fd >= 0 && close(fd) < 0 && err == 0)
        err = errno;
    if (err == 0 && rename(tmp, s->path) < 0)
        err = errno;
    if (err != 0) {
        if (fd >= 0)
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

/*
 * Opens the file a previous broker of this user left, for reading. 1 and *fd: it is there and
 * ours; 0: there is none; -1: it is not this broker's to read or replace (logged).
 */
static int open_own(const struct state *s, int *fd)
{
    struct stat st, fst;

    if (lstat(s->path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        g_warning("cannot look at the state file %s: %s; this broker keeps no state, so a "
                  "restarted broker will not know the ranges of running processes (fix the "
                  "permissions or pick another --state-file)",
                  s->path, g_strerror(errno));
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        g_warning("the state file %s is a symbolic link; not following it: this broker keeps "
                  "no state (remove the link, or give --state-file the file's own path)",
                  s->path);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        g_warning("the state file %s is not a regular file; this broker keeps no state (remove "
                  "it or pick another --state-file)",
                  s->path);
        return -1;
    }
    if (st.st_uid != geteuid()) {
        g_warning("the state file %s belongs to uid %u, not to this broker (uid %u): it is "
                  "another broker's table, so this broker neither reads nor replaces it and "
                  "keeps no state; give this broker its own --state-file, or remove %s if no "
                  "broker of uid %u uses it",
                  s->path, (unsigned)st.st_uid, (unsigned)geteuid(), s->path, (unsigned)st.st_uid);
        return -1;
    }
    *fd = open(s->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) {
        if (errno == ENOENT)
            return 0;
        g_warning("cannot read the state file %s: %s; this broker keeps no state (fix its "
                  "permissions or pick another --state-file)",
                  s->path, g_strerror(errno));
        return -1;
    }
    /* Replaced between lstat and open (another broker at work?): trust neither. */
    if (fstat(*fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
        g_warning("the state file %s changed while it was opened; this broker keeps no state "
                  "(is another broker using it? give each its own --state-file)",
                  s->path);
        close(*fd);
        return -1;
    }
    return 1;
}

/* The whole file, NUL-terminated; NULL if unreadable or larger than STATE_FILE_MAX (logged). */
static char *read_all(const struct state *s, int fd, gsize *len)
{
    GString *text = g_string_new(NULL);
    char buf[4096];
    ssize_t n;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_warning("cannot read the state file %s: %s; ranges of running processes are not "
                      "reserved",
                      s->path, g_strerror(errno));
            g_string_free(text, TRUE);
            return NULL;
        }
        g_string_append_len(text, buf, n);
        if (text->len > STATE_FILE_MAX)
            break;
    }
    *len = text->len;
    return g_string_free(text, FALSE);
}

/* 0 if the file could be taken as ours (read, or absent), -1 if it was refused. */
static int load(struct state *s)
{
    char *text;
    gsize len = 0;
    char **lines;
    int fd = -1, rc;

    rc = open_own(s, &fd);
    if (rc <= 0)
        return rc;
    text = read_all(s, fd, &len);
    close(fd);
    if (text == NULL)
        return 0;
    if (len > STATE_FILE_MAX || strlen(text) != len) {
        g_warning("%s is not a state file (too large or binary); ignored", s->path);
        g_free(text);
        return 0;
    }
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i] != NULL; i++)
        load_line(s, lines[i], i + 1);
    g_strfreev(lines);
    g_free(text);
    return 0;
}

struct state *state_open(struct broker *b, const char *path, unsigned grace)
{
    struct state *s = g_new0(struct state, 1);

    s->broker = b;
    s->reserved = g_array_new(FALSE, FALSE, sizeof(struct state_reservation));
    if (path == NULL || path[0] == '\0')
        return s;
    s->path = g_strdup(path);
    if (load(s) < 0) {
        /* Not ours: neither rewritten nor removed at shutdown. */
        g_free(s->path);
        s->path = NULL;
        return s;
    }
    if (s->reserved->len > 0) {
        struct timeval tv = {(time_t)grace, 0};
        s->ev_expire = evtimer_new(b->base, expire_cb, s);
        evtimer_add(s->ev_expire, &tv);
    }
    state_save(s);
    return s;
}

const char *state_file(const struct state *s)
{
    return s != NULL ? s->path : NULL;
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
