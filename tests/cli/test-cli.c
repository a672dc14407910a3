/*
 * What agnocastd and agnocastctl share as command-line programs, checked by running them: one
 * exit status per kind of failure (cli/cli.h), -V and --version alike, and help that prints
 * "[OPTION...]" in an ASCII locale and "[OPTION…]" in a UTF-8 one, never "[OPTION?]".
 * Usage: test-cli AGNOCASTD AGNOCASTCTL
 */
#include <errno.h>
#include <ftw.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <locale.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "reachable.h"

static const char *agnocastd;
static const char *agnocastctl;

struct run {
    int status; /* exit status, or 128 + signal */
    char *out;
    char *err;
};

static void drop_to_nobody(gpointer data)
{
    (void)data;
    if (getuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
        _exit(125);
}

/* Runs argv (NULL-terminated) with LC_ALL and LANG set as given (NULL: removed), no
 * AGNOCAST_SOCKET, as nobody if asked (and root). */
static void run(struct run *r, const char *lc_all, gboolean as_nobody, const char *const *argv)
{
    char **envp = g_get_environ();
    GError *error = NULL;
    int wait_status = 0;

    envp = g_environ_unsetenv(envp, "AGNOCAST_SOCKET");
    envp = g_environ_unsetenv(envp, "LANG");
    envp = g_environ_unsetenv(envp, "LANGUAGE");
    envp = lc_all != NULL ? g_environ_setenv(envp, "LC_ALL", lc_all, TRUE)
                          : g_environ_unsetenv(envp, "LC_ALL");
    if (!g_spawn_sync(NULL, (char **)argv, envp, G_SPAWN_DEFAULT, as_nobody ? drop_to_nobody : NULL,
                      NULL, &r->out, &r->err, &wait_status, &error))
        fail_msg("cannot run %s: %s", argv[0], error->message);
    r->status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
    g_strfreev(envp);
}

static void run_clear(struct run *r)
{
    g_clear_pointer(&r->out, g_free);
    g_clear_pointer(&r->err, g_free);
}

/* Runs agnocastd with argv[1..] (C.UTF-8) and checks its exit status and a piece of stderr. */
static void expect_broker(int status, const char *needle, const char *const *args)
{
    const char *argv[16] = {agnocastd};
    struct run r = {0};
    size_t n = 1;

    for (; args[n - 1] != NULL && n < G_N_ELEMENTS(argv) - 1; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    run(&r, "C.UTF-8", FALSE, argv);
    if (r.status != status || strstr(r.err, needle) == NULL)
        fail_msg("agnocastd %s: exit %d (want %d), stderr: %s (want \"%s\")", args[0], r.status,
                 status, r.err, needle);
    run_clear(&r);
}

static gboolean utf8_locale_exists(void)
{
    locale_t l = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);

    if (l == (locale_t)0)
        return FALSE;
    freelocale(l);
    return TRUE;
}

static gboolean is_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s > 0x7f)
            return FALSE;
    return TRUE;
}

static void check_help(const char *const *argv, const char *usage)
{
    g_autofree char *ascii = g_strdup_printf("%s [OPTION...]", usage);
    g_autofree char *utf8 = g_strdup_printf("%s [OPTION\u2026]", usage);
    struct run r = {0};

    /* No locale at all, and the C locale named: plain ASCII, "..." for the ellipsis. */
    run(&r, NULL, FALSE, argv);
    assert_int_equal(r.status, CLI_EXIT_OK);
    if (strstr(r.out, ascii) == NULL || !is_ascii(r.out))
        fail_msg("%s without a locale prints:\n%s", argv[0], r.out);
    run_clear(&r);
    run(&r, "C", FALSE, argv);
    assert_int_equal(r.status, CLI_EXIT_OK);
    assert_non_null(strstr(r.out, ascii));
    assert_true(is_ascii(r.out));
    run_clear(&r);
    if (!utf8_locale_exists()) {
        print_message("no C.UTF-8 locale here: the UTF-8 help is not checked\n");
        return;
    }
    run(&r, "C.UTF-8", FALSE, argv);
    assert_int_equal(r.status, CLI_EXIT_OK);
    if (strstr(r.out, utf8) == NULL)
        fail_msg("%s under C.UTF-8 prints:\n%s", argv[0], r.out);
    run_clear(&r);
}

static void test_cli_help_has_no_question_mark(void **state)
{
    const char *const broker_help[] = {agnocastd, "--help", NULL};
    const char *const ctl_help[] = {agnocastctl, "--help", NULL};
    const char *const ctl_cmd_help[] = {agnocastctl, "list-topics", "--help", NULL};
    const char *const ctl_help_cmd[] = {agnocastctl, "help", "hz", NULL};

    check_help(broker_help, "agnocastd");
    check_help(ctl_help, "agnocastctl");
    check_help(ctl_cmd_help, "agnocastctl list-topics");
    check_help(ctl_help_cmd, "agnocastctl hz");
}

static void test_cli_short_and_long_version_alike(void **state)
{
    const char *const progs[] = {agnocastd, agnocastctl};

    for (size_t i = 0; i < G_N_ELEMENTS(progs); i++) {
        const char *const shrt[] = {progs[i], "-V", NULL};
        const char *const lng[] = {progs[i], "--version", NULL};
        struct run a = {0}, b = {0};

        run(&a, "C.UTF-8", FALSE, shrt);
        run(&b, "C.UTF-8", FALSE, lng);
        assert_int_equal(a.status, CLI_EXIT_OK);
        assert_int_equal(b.status, CLI_EXIT_OK);
        assert_string_equal(a.out, b.out);
        assert_non_null(strstr(a.out, " " AGNOCAST_TEST_VERSION " (protocol "));
        run_clear(&a);
        run_clear(&b);
    }
}

static void test_cli_broker_usage_exits_2(void **state)
{
    expect_broker(CLI_EXIT_USAGE, "Unknown option --frobnicate",
                  (const char *const[]){"--frobnicate", NULL});
    expect_broker(CLI_EXIT_USAGE, "is not a size",
                  (const char *const[]){"--pool-size", "lots", NULL});
    expect_broker(CLI_EXIT_USAGE, "--max-clients",
                  (const char *const[]){"--max-clients", "abc", NULL});
    expect_broker(CLI_EXIT_USAGE, "--max-clients 0: give at least 1",
                  (const char *const[]){"--max-clients", "0", NULL});
    expect_broker(CLI_EXIT_USAGE, "unexpected argument", (const char *const[]){"surplus", NULL});
    /* Each value fine, together not. */
    expect_broker(CLI_EXIT_USAGE, "over --max-pool-size",
                  (const char *const[]){"--pool-size", "8G", "--max-pool-size", "4G", NULL});
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void remove_tree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Starts agnocastd on `sock` and waits for the socket file. */
static GPid start_broker(const char *sock)
{
    const char *argv[] = {agnocastd, "--socket", sock, "--state-file", "", NULL};
    GPid pid;

    assert_true(g_spawn_async(NULL, (char **)argv, NULL,
                              G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                              &pid, NULL));
    for (int i = 0; i < 200 && !g_file_test(sock, G_FILE_TEST_EXISTS); i++)
        g_usleep(10000);
    assert_true(g_file_test(sock, G_FILE_TEST_EXISTS));
    return pid;
}

static void stop_broker(GPid pid)
{
    int status;

    kill(pid, SIGTERM);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CLI_EXIT_OK);
}

/* In a language that writes 0,5 the programs still write 0.5: --json is read by programs. */
static void test_cli_numbers_stay_c_in_any_language(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("agnocast-cli-XXXXXX", NULL);
    g_autofree char *loc = g_build_filename(dir, "de_DE.UTF-8", NULL);
    g_autofree char *sock = g_build_filename(dir, "b.sock", NULL);
    g_autofree char *localedef = g_find_program_in_path("localedef");
    const char *make[] = {localedef, "-i", "de_DE", "-f", "UTF-8", loc, NULL};
    const char *comma[] = {"/usr/bin/printf", "%.1f", "0,5", NULL};
    const char *watch[] = {agnocastctl, "--socket",     sock, "watch", "--interval",
                           "0.5",       "--iterations", "1",  NULL};
    struct run r = {0};
    GPid broker;

    if (localedef == NULL || !g_file_test("/usr/share/i18n/locales/de_DE", G_FILE_TEST_EXISTS)) {
        print_message("no localedef or no de_DE locale source: not checked\n");
        skip();
    }
    /* A private German locale, through LOCPATH: nothing installed on the system. */
    g_spawn_sync(NULL, (char **)make, NULL, G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                 NULL, NULL, NULL, NULL, NULL, NULL);
    g_setenv("LOCPATH", dir, TRUE);
    run(&r, "de_DE.UTF-8", FALSE, comma);
    if (r.status != 0 || strcmp(r.out, "0,5") != 0) {
        g_unsetenv("LOCPATH");
        print_message("the de_DE.UTF-8 locale made here does not write 0,5: not checked\n");
        run_clear(&r);
        skip();
    }
    run_clear(&r);

    broker = start_broker(sock);
    run(&r, "de_DE.UTF-8", FALSE, watch);
    stop_broker(broker);
    g_unsetenv("LOCPATH");
    assert_int_equal(r.status, CLI_EXIT_OK);
    if (strstr(r.out, "every 0.5 s") == NULL)
        fail_msg("agnocastctl watch under de_DE.UTF-8 prints:\n%s", r.out);
    run_clear(&r);
    remove_tree(dir);
}

static void test_cli_broker_exit_per_kind_of_failure(void **state)
{
    g_autofree char *dir = g_dir_make_tmp("agnocast-cli-XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "b.sock", NULL);
    g_autofree char *plain = g_build_filename(dir, "plain", NULL);
    g_autofree char *closed = g_build_filename(dir, "closed", NULL);
    g_autofree char *closed_sock = g_build_filename(closed, "b.sock", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing", "b.sock", NULL);
    g_autofree char *rules = g_build_filename(dir, "none.conf", NULL);
    GPid broker;

    assert_non_null(dir);
    /* 8: the access-rules file cannot be read. */
    expect_broker(CLI_EXIT_CONFIG, "none.conf",
                  (const char *const[]){"--socket", sock, "--access-rules", rules, NULL});
    /* 9: a file that is not a socket is in the way, or another broker listens there. */
    assert_true(g_file_set_contents(plain, "", 0, NULL));
    expect_broker(CLI_EXIT_IN_USE, "is not a socket",
                  (const char *const[]){"--socket", plain, "--state-file", "", NULL});
    broker = start_broker(sock);
    expect_broker(CLI_EXIT_IN_USE, "another broker is already listening",
                  (const char *const[]){"--socket", sock, "--state-file", "", NULL});
    stop_broker(broker);
    /* 1: no directory to bind in. */
    expect_broker(CLI_EXIT_FAILURE, "cannot bind",
                  (const char *const[]){"--socket", missing, "--state-file", "", NULL});

    /* 4: a directory the broker may not write in (as nobody when we are root). */
    assert_int_equal(g_mkdir(closed, 0555), 0);
    assert_int_equal(chmod(dir, 0755), 0);
    {
        const char *exe = getuid() == 0 ? reachable_copy(agnocastd) : agnocastd;
        const char *argv[] = {exe, "--socket", closed_sock, "--state-file", "", NULL};
        struct run r = {0};

        run(&r, "C.UTF-8", TRUE, argv);
        if (r.status != CLI_EXIT_DENIED || strstr(r.err, "Permission denied") == NULL)
            fail_msg("agnocastd in a read-only directory: exit %d, stderr: %s", r.status, r.err);
        run_clear(&r);
    }

    remove_tree(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_help_has_no_question_mark),
        cmocka_unit_test(test_cli_short_and_long_version_alike),
        cmocka_unit_test(test_cli_broker_usage_exits_2),
        cmocka_unit_test(test_cli_broker_exit_per_kind_of_failure),
        cmocka_unit_test(test_cli_numbers_stay_c_in_any_language),
    };

    if (argc != 3) {
        fprintf(stderr, "usage: test-cli AGNOCASTD AGNOCASTCTL\n");
        return 2;
    }
    agnocastd = argv[1];
    agnocastctl = argv[2];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
