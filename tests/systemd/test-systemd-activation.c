/* The broker under socket activation: systemd-socket-activate hands it a listening socket
 * through LISTEN_FDS as systemd would, and agnocastctl gets answers through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl-run.h"

struct activation {
    char *dir;
    char *sock;
    GPid pid;
    struct ctl_result r;
};

static int activation_setup(void **state)
{
    struct activation *a = g_new0(struct activation, 1);
    GError *error = NULL;

    a->dir = ctl_tmpdir_new();
    a->sock = g_build_filename(a->dir, "agnocast.sock", NULL);
    char *argv[] = {(char *)g_getenv("SOCKET_ACTIVATE"), "--seqpacket", "-l", a->sock,
                    (char *)g_getenv("AGNOCASTD"),       NULL};
    if (!g_spawn_async(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &a->pid, &error))
        fail_msg("cannot run %s: %s", argv[0], error->message);
    /* The activator binds before it waits for the first connection; the broker starts then. */
    for (int i = 0; i < 500 && !g_file_test(a->sock, G_FILE_TEST_EXISTS); i++)
        g_usleep(10000);
    *state = a;
    return 0;
}

static int activation_teardown(void **state)
{
    struct activation *a = *state;
    if (a->pid > 0) {
        kill(a->pid, SIGKILL);
        waitpid(a->pid, NULL, 0);
    }
    ctl_result_clear(&a->r);
    ctl_tmpdir_remove(a->dir);
    g_free(a->sock);
    g_free(a);
    return 0;
}

static void test_systemd_activation_broker_answers_on_handed_socket(void **state)
{
    struct activation *a = *state;
    assert_true(g_file_test(a->sock, G_FILE_TEST_EXISTS));

    ctl_run(&a->r, NULL, FALSE, "--socket", a->sock, "list-topics", NULL);
    if (a->r.status != 0)
        fail_msg("agnocastctl list-topics: exit %d: %s", a->r.status, a->r.err);
    assert_string_equal(a->r.out, "TOPIC  PUBLISHERS  SUBSCRIPTIONS\n");
    ctl_result_clear(&a->r);

    /* The activator execs the broker in place: the pid that answers is the one we started. */
    ctl_run(&a->r, a->sock, FALSE, "stats", "--json", NULL);
    assert_int_equal(a->r.status, 0);
    g_autofree char *want = g_strdup_printf("{\"broker_pid\":%d,", (int)a->pid);
    assert_true(g_str_has_prefix(a->r.out, want));
    assert_non_null(strstr(a->r.out, "{\"kind\":\"LIST_TOPICS\",\"code\":400,\"count\":1}"));
}

static void test_systemd_activation_broker_leaves_socket_to_manager(void **state)
{
    struct activation *a = *state;
    int status = 0;

    ctl_run(&a->r, a->sock, FALSE, "list-processes", NULL);
    assert_int_equal(a->r.status, 0);
    assert_int_equal(kill(a->pid, SIGTERM), 0);
    assert_int_equal(waitpid(a->pid, &status, 0), a->pid);
    a->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The socket belongs to the service manager, which keeps listening across broker restarts:
     * the broker must not unlink it. */
    assert_true(g_file_test(a->sock, G_FILE_TEST_EXISTS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_systemd_activation_broker_answers_on_handed_socket,
                                        activation_setup, activation_teardown),
        cmocka_unit_test_setup_teardown(test_systemd_activation_broker_leaves_socket_to_manager,
                                        activation_setup, activation_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
