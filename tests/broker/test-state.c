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
#include "state.h"

static void test_state_default_path(void **state)
{
    char *p;

    unsetenv("RUNTIME_DIRECTORY");
    p = state_default_path("/tmp/x/broker.sock", true);
    assert_string_equal(p, "/tmp/x/broker.sock.state");
    g_free(p);
    p = state_default_path("@abstract", true);
    assert_string_equal(p, "/run/agnocast/agnocastd.state");
    g_free(p);
    setenv("RUNTIME_DIRECTORY", "/run/a:/run/b", 1);
    p = state_default_path("/run/agnocast/agnocast.sock", false);
    assert_string_equal(p, "/run/a/agnocastd.state");
    g_free(p);
    unsetenv("RUNTIME_DIRECTORY");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_default_path),
        cmocka_unit_test(test_state_starttime_of_self),
        cmocka_unit_test(test_state_load_reserves_live_entries),
    };

    return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
