/* The harness itself: lines over pipes, tree removal, program output, a broker's life. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static bool readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    return poll(&p, 1, 0) == 1;
}

static void test_harness_send_line_refuses_a_line_too_long(void **state)
{
    char longest[ROLE_LINE_MAX], got[ROLE_LINE_MAX + 16];
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    /* One byte too many: refused whole, nothing written, nothing past the buffer. */
    memset(longest, 'x', sizeof(longest) - 1);
    longest[sizeof(longest) - 1] = '\0';
    errno = 0;
    assert_int_equal(send_line(p[1], "%s!", longest), -1);
    assert_int_equal(errno, EMSGSIZE);
    assert_false(readable(p[0]));
    /* The longest that fits arrives whole. */
    assert_int_equal(send_line(p[1], "%s", longest), 0);
    assert_int_equal(recv_line(p[0], got, sizeof(got), 1000), ROLE_LINE_MAX - 1);
    assert_string_equal(got, longest);
    close(p[0]);
    close(p[1]);
}

static void test_harness_recv_line_cuts_and_times_out(void **state)
{
    char got[4];
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(send_line(p[1], "abcdef"), 0);
    /* Cut at cap - 1; the rest is the next call's. */
    assert_int_equal(recv_line(p[0], got, sizeof(got), 1000), 3);
    assert_string_equal(got, "abc");
    assert_int_equal(recv_line(p[0], got, sizeof(got), 1000), 3);
    assert_string_equal(got, "def");
    assert_int_equal(recv_line(p[0], got, sizeof(got), 1000), 0);
    assert_string_equal(got, "");
    /* Nothing comes: -1 after the timeout; end of file: -1. */
    assert_int_equal(recv_line(p[0], got, sizeof(got), 50), -1);
    close(p[1]);
    assert_int_equal(recv_line(p[0], got, sizeof(got), 1000), -1);
    close(p[0]);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_harness_remove_tree_keeps_what_links_point_to(void **state)
{
    char outside[] = "/tmp/agnocast-harness-outside-XXXXXX";
    char tree[] = "/tmp/agnocast-harness-tree-XXXXXX";
    char path[256], keep[256];

    (void)state;
    assert_non_null(mkdtemp(outside));
    assert_non_null(mkdtemp(tree));
    snprintf(keep, sizeof(keep), "%s/keep", outside);
    write_file(keep, "kept\n");
    snprintf(path, sizeof(path), "%s/a", tree);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/a/b", tree);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/a/b/file", tree);
    write_file(path, "gone\n");
    /* A name with a quote and a space: no shell to break. */
    snprintf(path, sizeof(path), "%s/it's here", tree);
    write_file(path, "gone\n");
    snprintf(path, sizeof(path), "%s/dir-link", tree);
    assert_int_equal(symlink(outside, path), 0);
    snprintf(path, sizeof(path), "%s/a/file-link", tree);
    assert_int_equal(symlink(keep, path), 0);

    assert_int_equal(remove_tree(tree), 0);
    assert_int_equal(access(tree, F_OK), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(access(keep, F_OK), 0);
    /* Already gone is not an error. */
    assert_int_equal(remove_tree(tree), 0);
    assert_int_equal(remove_tree(outside), 0);
}

static void test_harness_run_capture_drains_a_long_output(void **state)
{
    char out[16];

    (void)state;
    /* 1 MB on a 64 KiB pipe: the child must not block once out is full. */
    assert_int_equal(
        run_capture((char *const[]){"/usr/bin/head", "-c", "1000000", "/dev/zero", NULL}, out,
                    sizeof(out)),
        0);
    assert_int_equal(run_capture((char *const[]){"/bin/echo", "hello", NULL}, out, sizeof(out)), 0);
    assert_string_equal(out, "hello\n");
    assert_int_equal(run_capture((char *const[]){"/bin/false", NULL}, out, sizeof(out)), 1);
}

static void test_harness_broker_starts_restarts_and_stops(void **state)
{
    struct broker b;
    struct stat st;
    char dir[sizeof(b.dir)];
    int fd;

    (void)state;
    assert_int_equal(broker_start(&b, NULL), 0);
    assert_true(b.pid > 0);
    assert_string_equal(getenv("AGNOCAST_SOCKET"), b.socket);
    assert_int_equal(stat(b.dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(stat(b.socket, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0666);
    assert_int_equal(access(b.log, F_OK), 0);

    assert_int_equal(broker_signal(&b, SIGKILL), 128 + SIGKILL);
    assert_int_equal(b.pid, 0);
    assert_int_equal(broker_signal(&b, SIGKILL), -1);
    assert_int_equal(broker_restart(&b, NULL), 0);
    fd = socket_connect(b.socket);
    assert_true(fd >= 0);
    close(fd);

    snprintf(dir, sizeof(dir), "%s", b.dir);
    assert_int_equal(broker_stop(&b), 0);
    assert_int_equal(b.pid, 0);
    assert_int_equal(access(dir, F_OK), -1);
    broker_cleanup(&b); /* twice is harmless */
}

static void test_harness_broker_start_failure_leaves_nothing(void **state)
{
    static const char *const bad[] = {"--no-such-option", NULL};
    char tmp[] = "/tmp/agnocast-harness-tmp-XXXXXX";
    const char *old = getenv("TMPDIR");
    char *saved = old != NULL ? strdup(old) : NULL;
    struct broker b;

    (void)state;
    assert_non_null(mkdtemp(tmp));
    setenv("TMPDIR", tmp, 1);
    assert_int_equal(broker_start(&b, bad), -1);
    assert_int_equal(b.pid, 0);
    /* Its directory went with it: TMPDIR is empty again. */
    assert_int_equal(rmdir(tmp), 0);
    if (saved != NULL)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    broker_cleanup(&b);
}

static int forever(void *arg, int out, int in)
{
    (void)arg;
    (void)out;
    (void)in;
    for (;;)
        pause();
    return 0;
}

static void test_harness_role_leftovers_are_killed_and_reaped(void **state)
{
    struct role r;

    (void)state;
    /* A role that never ends, as one a failed assertion leaves behind. */
    assert_int_equal(role_start(&r, forever, NULL), 0);
    assert_int_equal(kill(r.pid, 0), 0);
    role_kill_leftovers();
    assert_int_equal(kill(r.pid, 0), -1);
    assert_int_equal(errno, ESRCH);
    close(r.to_child);
    close(r.from_child);
}

static void test_harness_fixture_gives_a_broker(void **state)
{
    int fd;

    (void)state;
    assert_true(harness_broker.pid > 0);
    fd = socket_connect(getenv("AGNOCAST_SOCKET"));
    assert_true(fd >= 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness_send_line_refuses_a_line_too_long),
        cmocka_unit_test(test_harness_recv_line_cuts_and_times_out),
        cmocka_unit_test(test_harness_remove_tree_keeps_what_links_point_to),
        cmocka_unit_test(test_harness_run_capture_drains_a_long_output),
        cmocka_unit_test(test_harness_broker_starts_restarts_and_stops),
        cmocka_unit_test(test_harness_broker_start_failure_leaves_nothing),
        cmocka_unit_test(test_harness_role_leftovers_are_killed_and_reaped),
        cmocka_unit_test_setup_teardown(test_harness_fixture_gives_a_broker, harness_broker_setup,
                                        harness_broker_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("harness", tests, NULL, NULL);
}
