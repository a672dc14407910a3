/* Unit tests for the broker's state file (agnocastd/state.c): path choice, loading, saving. */
#include <errno.h>
#include <event2/event.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "broker.h"
#include "ranges.h"
#include "registry.h"
#include "agnocast-config.h"
#include "state.h"

static GString *logged; /* every message the code under test logged, one per line */

static GLogWriterOutput capture_log(GLogLevelFlags level, const GLogField *fields, gsize n,
                                    gpointer data)
{
    for (gsize i = 0; i < n; i++)
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            g_string_append(logged, fields[i].value);
            g_string_append_c(logged, '\n');
        }
    return g_log_writer_standard_streams(level, fields, n, data);
}

static void broker_setup(struct broker *b)
{
    memset(b, 0, sizeof(*b));
    b->cfg.window_base = RANGES_DEFAULT_BASE;
    b->cfg.window_size = RANGES_DEFAULT_SIZE;
    b->cfg.restart_grace = 10;
    broker_init(b, event_base_new());
}

static void broker_teardown(struct broker *b)
{
    struct event_base *base = b->base;

    state_free(b->state);
    b->state = NULL;
    broker_fini(b);
    event_base_free(base);
}

/* A table naming this process, whose range a broker that reads it would reserve. */
static char *live_table(void)
{
    return g_strdup_printf("# agnocastd state 1: pid uid starttime base size\n"
                           "%d 0 %" G_GUINT64_FORMAT " 0x40000000000 1048576\n",
                           (int)getpid(), state_pid_starttime(getpid()));
}

/* The file at `path` still holds `text`. */
static void assert_file_holds(const char *path, const char *text)
{
    char *now = NULL;

    assert_true(g_file_get_contents(path, &now, NULL, NULL));
    assert_string_equal(now, text);
    g_free(now);
}

static guint dir_entries(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    guint n = 0;

    assert_non_null(d);
    while (g_dir_read_name(d) != NULL)
        n++;
    g_dir_close(d);
    return n;
}

static void remove_dir(char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        char *p = g_build_filename(dir, name, NULL);
        g_unlink(p);
        g_free(p);
    }
    if (d != NULL)
        g_dir_close(d);
    assert_int_equal(g_rmdir(dir), 0);
    g_free(dir);
}

static void test_state_default_path(void **state)
{
    char *p, *dir, *system_path;

    dir = g_path_get_dirname(AGNOCAST_DEFAULT_SOCKET_PATH);
    system_path = g_build_filename(dir, "agnocastd.state", NULL);
    g_free(dir);

    unsetenv("RUNTIME_DIRECTORY");
    p = state_default_path("/tmp/x/broker.sock", false);
    assert_string_equal(p, "/tmp/x/broker.sock.state");
    g_free(p);
    /* A socket systemd passed, without RuntimeDirectory=: beside the socket too. */
    p = state_default_path("/tmp/x/broker.sock", true);
    assert_string_equal(p, "/tmp/x/broker.sock.state");
    g_free(p);
    /* The broker on the default socket is the system broker, whoever started it. */
    p = state_default_path(AGNOCAST_DEFAULT_SOCKET_PATH, false);
    assert_string_equal(p, system_path);
    g_free(p);
    p = state_default_path(AGNOCAST_DEFAULT_SOCKET_PATH, true);
    assert_string_equal(p, system_path);
    g_free(p);
    /* No file to derive it from: none. */
    assert_null(state_default_path("@abstract", false));
    assert_null(state_default_path(NULL, true));
    setenv("RUNTIME_DIRECTORY", "/run/a:/run/b", 1);
    p = state_default_path("/run/agnocast/agnocast.sock", true);
    assert_string_equal(p, "/run/a/agnocastd.state");
    g_free(p);
    p = state_default_path(NULL, true);
    assert_string_equal(p, "/run/a/agnocastd.state");
    g_free(p);
    unsetenv("RUNTIME_DIRECTORY");
    g_free(system_path);
}

/* A private broker, started by hand from a shell that may carry the system broker's
 * $RUNTIME_DIRECTORY, never lands on the system broker's table. */
static void test_state_private_broker_not_on_system_path(void **state)
{
    const char *sockets[] = {"/tmp/x.sock", "relative.sock", "@private", NULL};
    char *dir = g_path_get_dirname(AGNOCAST_DEFAULT_SOCKET_PATH);
    char *system_path = g_build_filename(dir, "agnocastd.state", NULL);

    for (int env = 0; env < 2; env++) {
        if (env)
            setenv("RUNTIME_DIRECTORY", dir, 1);
        else
            unsetenv("RUNTIME_DIRECTORY");
        for (int i = 0; i < (int)G_N_ELEMENTS(sockets); i++) {
            char *p = state_default_path(sockets[i], false);
            if (p != NULL)
                assert_string_not_equal(p, system_path);
            g_free(p);
            /* Socket activation of a unit without RuntimeDirectory=. */
            if (!env) {
                p = state_default_path(sockets[i], true);
                if (p != NULL)
                    assert_string_not_equal(p, system_path);
                g_free(p);
            }
        }
    }
    unsetenv("RUNTIME_DIRECTORY");
    g_free(system_path);
    g_free(dir);
}

static void test_state_starttime_of_self(void **state)
{
    assert_true(state_pid_starttime(getpid()) > 0);
    assert_int_equal(state_pid_starttime(0x7ffffff0), 0);
}

/* Live entries are reserved, dead, reused-pid and garbage ones are not; claims are pid-only. */
static void test_state_load_reserves_live_entries(void **state)
{
    char *dir = g_dir_make_tmp("agnocast-state-XXXXXX", NULL);
    char *path = g_build_filename(dir, "s.state", NULL);
    uint64_t start = state_pid_starttime(getpid());
    struct broker b;
    struct state_reservation r;
    struct stat st;
    char *text;

    text = g_strdup_printf("# header\n"
                           "%d 0 %" G_GUINT64_FORMAT " 0x40000000000 1048576\n"
                           "%d 0 %" G_GUINT64_FORMAT " 0x40000200000 1048576\n"
                           "2147483000 0 0 0x40000400000 1048576\n"
                           "not a line at all\n"
                           "%d 0 0 0x1 1048576\n",
                           (int)getpid(), start, (int)getppid(), start + 12345, (int)getpid());
    assert_true(g_file_set_contents(path, text, -1, NULL));
    g_free(text);
    memset(&b, 0, sizeof(b));
    b.cfg.window_base = RANGES_DEFAULT_BASE;
    b.cfg.window_size = RANGES_DEFAULT_SIZE;
    b.cfg.restart_grace = 10;
    broker_init(&b, event_base_new());
    b.state = state_open(&b, path, 10);
    /* Only our own entry: the parent's start time differs, the third pid is dead. */
    assert_int_equal(state_reservations(b.state), 1);
    assert_int_equal(ranges_count(b.ranges), 1);
    assert_int_equal(state_reserved_by(b.state, 0x40000000000ull + 4096, 1), getpid());
    assert_int_equal(state_reserved_by(b.state, 0x40000200000ull, 4096), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* Another uid, then the right claim. */
    assert_int_equal(state_claim(b.state, getpid(), 1234, 0x40000000000ull, &r), 0);
    assert_int_equal(state_reservations(b.state), 0);
    assert_int_equal(ranges_count(b.ranges), 0);
    state_restore(b.state,
                  &(struct state_reservation){getpid(), 0, start, 0x40000000000ull, 1 << 20});
    assert_int_equal(state_claim(b.state, getpid(), 0, 0x40000000000ull, &r), 1);
    assert_int_equal(r.base, 0x40000000000ull);
    assert_int_equal(r.size, 1 << 20);

    state_shutdown(b.state); /* nothing registered or reserved: the file goes */
    assert_int_equal(stat(path, &st), -1);
    struct event_base *base = b.base;
    broker_fini(&b);
    event_base_free(base);
    g_rmdir(dir);
    g_free(path);
    g_free(dir);
}

/* Root's broker must not take over the table of a broker of another user (the system one). */
static void test_state_refuses_file_of_another_uid(void **state)
{
    char *dir, *path, *text;
    struct broker b;
    struct stat st;

    if (geteuid() != 0) {
        print_message("skipped: needs root to give a file to another uid (uid 65534)\n");
        skip();
    }
    dir = g_dir_make_tmp("agnocast-state-XXXXXX", NULL);
    path = g_build_filename(dir, "agnocastd.state", NULL);
    text = live_table();
    assert_true(g_file_set_contents(path, text, -1, NULL));
    assert_int_equal(chown(path, 65534, 65534), 0);
    assert_int_equal(chmod(path, 0600), 0);

    g_string_truncate(logged, 0);
    broker_setup(&b);
    b.state = state_open(&b, path, 10);
    assert_int_equal(state_reservations(b.state), 0);
    assert_int_equal(ranges_count(b.ranges), 0);
    assert_null(state_file(b.state));
    /* The warning names the file, its owner and the remedy. */
    assert_non_null(strstr(logged->str, path));
    assert_non_null(strstr(logged->str, "belongs to uid 65534"));
    assert_non_null(strstr(logged->str, "--state-file"));

    /* Never rewritten, never removed. */
    state_save(b.state);
    state_shutdown(b.state);
    assert_file_holds(path, text);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_uid, 65534);
    assert_int_equal(dir_entries(dir), 1);

    broker_teardown(&b);
    g_free(text);
    g_free(path);
    remove_dir(dir);
}

static void test_state_refuses_symlink(void **state)
{
    char *dir = g_dir_make_tmp("agnocast-state-XXXXXX", NULL);
    char *target = g_build_filename(dir, "elsewhere", NULL);
    char *path = g_build_filename(dir, "s.state", NULL);
    char *text = live_table();
    struct broker b;
    struct stat st;

    assert_true(g_file_set_contents(target, text, -1, NULL));
    assert_int_equal(symlink(target, path), 0);

    g_string_truncate(logged, 0);
    broker_setup(&b);
    b.state = state_open(&b, path, 10);
    assert_int_equal(state_reservations(b.state), 0);
    assert_null(state_file(b.state));
    assert_non_null(strstr(logged->str, path));
    assert_non_null(strstr(logged->str, "symbolic link"));

    state_save(b.state);
    state_shutdown(b.state);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_file_holds(target, text);
    assert_int_equal(dir_entries(dir), 2);

    broker_teardown(&b);
    g_free(text);
    g_free(path);
    g_free(target);
    remove_dir(dir);
}

static void test_state_refuses_non_regular_file(void **state)
{
    char *dir = g_dir_make_tmp("agnocast-state-XXXXXX", NULL);
    char *path = g_build_filename(dir, "s.state", NULL);
    struct broker b;
    struct stat st;

    assert_int_equal(mkfifo(path, 0600), 0);
    g_string_truncate(logged, 0);
    broker_setup(&b);
    b.state = state_open(&b, path, 10); /* must not block on the FIFO */
    assert_null(state_file(b.state));
    assert_non_null(strstr(logged->str, "not a regular file"));
    state_shutdown(b.state);
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    broker_teardown(&b);
    g_free(path);
    remove_dir(dir);
}

/* Each write is a new file of this broker's user, mode 0600 whatever the umask, renamed over the
 * old one; nothing is left beside it. */
static void test_state_write_is_atomic_and_owned(void **state)
{
    char *dir = g_dir_make_tmp("agnocast-state-XXXXXX", NULL);
    char *path = g_build_filename(dir, "s.state", NULL);
    struct broker b;
    struct stat before, after;
    mode_t old = umask(0);

    broker_setup(&b);
    b.state = state_open(&b, path, 10);
    assert_string_equal(state_file(b.state), path);
    assert_int_equal(stat(path, &before), 0);
    assert_int_equal(before.st_mode & 07777, 0600);
    assert_int_equal(before.st_uid, geteuid());
    state_save(b.state);
    assert_int_equal(stat(path, &after), 0);
    assert_int_not_equal(after.st_ino, before.st_ino); /* replaced, not rewritten in place */
    assert_int_equal(after.st_mode & 07777, 0600);
    assert_int_equal(after.st_uid, geteuid());
    assert_int_equal(dir_entries(dir), 1);
    umask(old);

    /* Its own file from a previous run is read back, and replaced again. */
    broker_teardown(&b);
    g_string_truncate(logged, 0);
    broker_setup(&b);
    b.state = state_open(&b, path, 10);
    assert_string_equal(state_file(b.state), path);
    assert_null(strstr(logged->str, "state file"));
    state_shutdown(b.state); /* nothing registered: the file goes */
    assert_int_equal(dir_entries(dir), 0);

    broker_teardown(&b);
    g_free(path);
    remove_dir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_default_path),
        cmocka_unit_test(test_state_private_broker_not_on_system_path),
        cmocka_unit_test(test_state_refuses_file_of_another_uid),
        cmocka_unit_test(test_state_refuses_symlink),
        cmocka_unit_test(test_state_refuses_non_regular_file),
        cmocka_unit_test(test_state_write_is_atomic_and_owned),
        cmocka_unit_test(test_state_starttime_of_self),
        cmocka_unit_test(test_state_load_reserves_live_entries),
    };

    logged = g_string_new(NULL);
    g_log_set_writer_func(capture_log, NULL, NULL);
    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
