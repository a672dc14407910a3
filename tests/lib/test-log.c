/* Unit tests for the library's log (libagnocast/log.c): levels, the stderr default, callbacks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* What a child process printed. */
struct output {
    char out[4096]; /* stdout: what the test's callback received */
    char err[4096]; /* stderr: what the library printed */
    pid_t pid;
};

static void read_fd(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

/*
 * Runs fn in a child with AGNOCAST_LOG_LEVEL set to `level` (NULL: unset), so that each case
 * starts from a library that has not read its environment yet. The outputs are small: the
 * child finishes before its pipes are read.
 */
static void run(const char *level, void (*fn)(void), struct output *o)
{
    int out[2], err[2], status;

    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    fflush(NULL); /* or the child would flush the test's pending output into its pipes */
    o->pid = fork();
    assert_true(o->pid >= 0);
    if (o->pid == 0) {
        dup2(out[1], 1);
        dup2(err[1], 2);
        if (level != NULL)
            setenv("AGNOCAST_LOG_LEVEL", level, 1);
        else
            unsetenv("AGNOCAST_LOG_LEVEL");
        fn();
        fflush(stdout);
        _exit(0);
    }
    close(out[1]);
    close(err[1]);
    assert_int_equal(waitpid(o->pid, &status, 0), o->pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    read_fd(out[0], o->out, sizeof(o->out));
    read_fd(err[0], o->err, sizeof(o->err));
    close(out[0]);
    close(err[0]);
}

/* One message at each level. */
static void log_each_level(void)
{
    agn_log(AGNOCAST_LOG_ERROR, "an error %d", 1);
    agn_log(AGNOCAST_LOG_WARNING, "a warning %d", 2);
    agn_log(AGNOCAST_LOG_INFO, "some info %d", 3);
    agn_log(AGNOCAST_LOG_DEBUG, "a debug line %d", 4);
}

/* The lines log_each_level() prints at `max`, with o->pid in the prefix. */
static void expect_levels(const struct output *o, int max)
{
    static const char *const lines[] = {"error: an error 1", "warning: a warning 2",
                                        "info: some info 3", "debug: a debug line 4"};
    char want[1024] = "", line[128];

    for (int i = 0; i <= max && i < 4; i++) {
        snprintf(line, sizeof(line), "agnocast[%d]: %s\n", (int)o->pid, lines[i]);
        strcat(want, line);
    }
    assert_string_equal(o->err, want);
}

static void test_log_default_prints_warnings_and_errors(void **state)
{
    struct output o;

    run(NULL, log_each_level, &o);
    expect_levels(&o, AGNOCAST_LOG_WARNING);
    run("", log_each_level, &o);
    expect_levels(&o, AGNOCAST_LOG_WARNING);
    assert_string_equal(o.out, "");
}

static void test_log_none_and_silent_print_nothing(void **state)
{
    static const char *const off[] = {"none", "silent", "NONE", "Silent"};
    struct output o;

    for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
        run(off[i], log_each_level, &o);
        assert_string_equal(o.err, "");
    }
}

static void test_log_level_names(void **state)
{
    struct output o;

    run("error", log_each_level, &o);
    expect_levels(&o, AGNOCAST_LOG_ERROR);
    run("warning", log_each_level, &o);
    expect_levels(&o, AGNOCAST_LOG_WARNING);
    run("Info", log_each_level, &o);
    expect_levels(&o, AGNOCAST_LOG_INFO);
    run("DEBUG", log_each_level, &o);
    expect_levels(&o, AGNOCAST_LOG_DEBUG);
}

/* Reads the environment twice: at the first message, and when the default sink is put back. */
static void log_and_reset(void)
{
    agn_log(AGNOCAST_LOG_WARNING, "first");
    agnocast_set_log_callback(NULL, AGNOCAST_LOG_DEBUG, NULL);
    agn_log(AGNOCAST_LOG_INFO, "not shown");
    agn_log(AGNOCAST_LOG_WARNING, "second");
}

static void test_log_unknown_level_reported_once(void **state)
{
    struct output o;
    char want[512];

    run("loud", log_and_reset, &o);
    snprintf(want, sizeof(want),
             "agnocast[%d]: warning: AGNOCAST_LOG_LEVEL=\"loud\" is not a level (error, warning, "
             "info, debug, none); logging warnings and errors\n"
             "agnocast[%d]: warning: first\n"
             "agnocast[%d]: warning: second\n",
             (int)o.pid, (int)o.pid, (int)o.pid);
    assert_string_equal(o.err, want);
}

static void to_stdout(enum agnocast_log_level level, const char *message, void *userdata)
{
    printf("%s %d %s\n", (const char *)userdata, (int)level, message);
}

static void log_through_callback(void)
{
    agnocast_set_log_callback(to_stdout, AGNOCAST_LOG_INFO, "cb");
    log_each_level();
    /* NULL puts stderr back, at the environment's level. */
    agnocast_set_log_callback(NULL, AGNOCAST_LOG_DEBUG, NULL);
    agn_log(AGNOCAST_LOG_INFO, "not shown");
    agn_log(AGNOCAST_LOG_WARNING, "back on stderr");
}

static void test_log_callback_replaces_stderr(void **state)
{
    struct output o;
    char want[256];

    run(NULL, log_through_callback, &o);
    assert_string_equal(o.out, "cb 0 an error 1\ncb 1 a warning 2\ncb 2 some info 3\n");
    snprintf(want, sizeof(want), "agnocast[%d]: warning: back on stderr\n", (int)o.pid);
    assert_string_equal(o.err, want);

    /* The callback's own level counts, not the environment's. */
    run("none", log_through_callback, &o);
    assert_string_equal(o.out, "cb 0 an error 1\ncb 1 a warning 2\ncb 2 some info 3\n");
    assert_string_equal(o.err, "");
}

/* A failure returned to the caller: the caller reports it, so it is printed only at debug. */
static void fail_and_report(void)
{
    agn_clear_error();
    if (agn_fail(-ENOENT, "no broker at %s", "/nowhere/agnocast.sock") == -ENOENT)
        printf("%s\n", agnocast_last_error());
}

static void test_log_failure_is_not_printed_by_default(void **state)
{
    struct output o;
    char want[256];

    run(NULL, fail_and_report, &o);
    assert_string_equal(o.out, "no broker at /nowhere/agnocast.sock\n");
    assert_string_equal(o.err, "");
    run("debug", fail_and_report, &o);
    assert_string_equal(o.out, "no broker at /nowhere/agnocast.sock\n");
    snprintf(want, sizeof(want), "agnocast[%d]: debug: no broker at /nowhere/agnocast.sock\n",
             (int)o.pid);
    assert_string_equal(o.err, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_default_prints_warnings_and_errors),
        cmocka_unit_test(test_log_none_and_silent_print_nothing),
        cmocka_unit_test(test_log_level_names),
        cmocka_unit_test(test_log_unknown_level_reported_once),
        cmocka_unit_test(test_log_callback_replaces_stderr),
        cmocka_unit_test(test_log_failure_is_not_printed_by_default),
    };

    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
