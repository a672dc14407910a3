/* What a program sees when agnocast_context_new() fails with no broker: the error once, through
 * agnocast_last_error(), and nothing printed by the library at the default log level. */
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

#include "agnocast.h"

#define NO_BROKER "/nonexistent-agnocast-test/agnocast.sock"

static void read_fd(int fd, char *buf, size_t size)
{
    size_t len = 0;
    ssize_t n;

    while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
}

/* In a child with AGNOCAST_LOG_LEVEL = level (NULL: unset): agnocast_context_new() against a
 * socket that does not exist. out gets "rc: last error", err what the library printed. */
static void try_context(const char *level, char *out, size_t outsize, char *err, size_t errsize)
{
    int po[2], pe[2], status;
    pid_t pid;

    assert_int_equal(pipe(po), 0);
    assert_int_equal(pipe(pe), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct agnocast_context *ctx = NULL;
        int rc;

        dup2(po[1], 1);
        dup2(pe[1], 2);
        setenv("AGNOCAST_SOCKET", NO_BROKER, 1);
        if (level != NULL)
            setenv("AGNOCAST_LOG_LEVEL", level, 1);
        else
            unsetenv("AGNOCAST_LOG_LEVEL");
        rc = agnocast_context_new(&ctx);
        printf("%d: %s\n", rc, agnocast_last_error());
        fflush(stdout);
        _exit(ctx == NULL ? 0 : 1);
    }
    close(po[1]);
    close(pe[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    read_fd(po[0], out, outsize);
    read_fd(pe[0], err, errsize);
    close(po[0]);
    close(pe[0]);
}

static void test_log_context_failure_reported_once(void **state)
{
    char out[1024], err[4096], want[64];

    try_context(NULL, out, sizeof(out), err, sizeof(err));
    snprintf(want, sizeof(want), "%d: ", -ENOENT);
    assert_true(strncmp(out, want, strlen(want)) == 0);
    assert_non_null(strstr(out, NO_BROKER)); /* the sentence names the socket */
    assert_string_equal(err, "");            /* the program reports it; the library does not */

    try_context("none", out, sizeof(out), err, sizeof(err));
    assert_non_null(strstr(out, NO_BROKER));
    assert_string_equal(err, "");
}

/* At debug the library shows the same sentence, once. */
static void test_log_context_failure_at_debug(void **state)
{
    char out[1024], err[4096], *sentence, *first;

    try_context("debug", out, sizeof(out), err, sizeof(err));
    sentence = strchr(out, ' ') + 1;
    sentence[strcspn(sentence, "\n")] = '\0';
    assert_true(strlen(sentence) > 0);
    first = strstr(err, sentence);
    assert_non_null(first);
    assert_null(strstr(first + 1, sentence));
    assert_non_null(strstr(err, "]: debug: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_context_failure_reported_once),
        cmocka_unit_test(test_log_context_failure_at_debug),
    };

    return cmocka_run_group_tests_name("log-context", tests, NULL, NULL);
}
