/* The generated systemd units: systemd-analyze verify, the settings the broker relies on, and
 * the sysusers.d / tmpfiles.d entries applied to a scratch root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl-run.h"

static char *unit_path(const char *name)
{
    return g_build_filename(g_getenv("SYSTEMD_BUILD_DIR"), name, NULL);
}

static GKeyFile *unit_load(const char *name)
{
    g_autofree char *path = unit_path(name);
    GKeyFile *kf = g_key_file_new();
    GError *error = NULL;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error))
        fail_msg("cannot parse %s: %s", path, error->message);
    return kf;
}

static void expect_unit_value(GKeyFile *kf, const char *group, const char *key, const char *want)
{
    g_autofree char *v = g_key_file_get_value(kf, group, key, NULL);
    if (v == NULL)
        fail_msg("[%s] %s= is missing", group, key);
    assert_string_equal(v, want);
}

/* Runs argv; returns the exit status and the captured stderr. */
static int run(char **argv, char **err)
{
    int wait_status = 0;
    GError *error = NULL;

    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, err, &wait_status,
                      &error))
        fail_msg("cannot run %s: %s", argv[0], error->message);
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

static void test_systemd_units_pass_analyze_verify(void **state)
{
    const char *analyze = g_getenv("SYSTEMD_ANALYZE");
    if (analyze == NULL || analyze[0] == '\0') {
        fprintf(stderr, "systemd-analyze not found: install systemd to verify the units\n");
        skip();
    }
    /* verify insists ExecStart= exists: point it at the broker in the build tree (or, before
     * the broker is built, at this test binary) in a scratch copy of the units. */
    const char *agnocastd = g_getenv("AGNOCASTD");
    g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
    const char *exe = agnocastd != NULL && agnocastd[0] != '\0' ? agnocastd : self;
    char *dir = ctl_tmpdir_new();

    for (int i = 0; i < 2; i++) {
        const char *name = i ? "agnocastd.service" : "agnocastd.socket";
        g_autofree char *src = unit_path(name);
        g_autofree char *dst = g_build_filename(dir, name, NULL);
        g_autofree char *text = NULL;
        assert_true(g_file_get_contents(src, &text, NULL, NULL));
        g_autofree char *exec_line = g_strdup_printf("ExecStart=%s/agnocastd", AGNOCAST_SBINDIR);
        g_autofree char *new_line = g_strdup_printf("ExecStart=%s", exe);
        g_auto(GStrv) parts = g_strsplit(text, exec_line, -1);
        g_autofree char *out = g_strjoinv(new_line, parts);
        assert_true(g_file_set_contents(dst, out, -1, NULL));
    }
    g_autofree char *socket = g_build_filename(dir, "agnocastd.socket", NULL);
    g_autofree char *service = g_build_filename(dir, "agnocastd.service", NULL);
    char *argv[] = {(char *)analyze, "verify", "--man=no", socket, service, NULL};
    g_autofree char *err = NULL;
    int rc = run(argv, &err);

    ctl_tmpdir_remove(dir);
    if (rc != 0 || err[0] != '\0')
        fail_msg("systemd-analyze verify: exit %d, said:\n%s", rc, err);
}

static void test_systemd_service_runs_installed_broker_as_agnocast(void **state)
{
    g_autoptr(GKeyFile) kf = unit_load("agnocastd.service");

    expect_unit_value(kf, "Service", "ExecStart", AGNOCAST_SBINDIR "/agnocastd");
    expect_unit_value(kf, "Service", "Type", "notify");
    expect_unit_value(kf, "Service", "User", "agnocast");
    expect_unit_value(kf, "Service", "Group", "agnocast");
    expect_unit_value(kf, "Service", "CapabilityBoundingSet", "");
    expect_unit_value(kf, "Service", "NoNewPrivileges", "yes");
    expect_unit_value(kf, "Service", "Restart", "on-failure");
    expect_unit_value(kf, "Unit", "Requires", "agnocastd.socket");
    expect_unit_value(kf, "Unit", "After", "agnocastd.socket");
}

static void test_systemd_service_shares_ipc_namespace_and_dev_shm(void **state)
{
    g_autoptr(GKeyFile) kf = unit_load("agnocastd.service");

    /* Segments come over the socket as descriptors: the broker needs neither the host's
     * /dev/shm nor its IPC namespace, so it gets neither. */
    expect_unit_value(kf, "Service", "ReadWritePaths", "/run/agnocast");
    expect_unit_value(kf, "Service", "PrivateDevices", "yes");
    expect_unit_value(kf, "Service", "PrivateIPC", "yes");
    assert_false(g_key_file_has_key(kf, "Service", "InaccessiblePaths", NULL));
    assert_false(g_key_file_has_key(kf, "Service", "RuntimeDirectory", NULL));
}

static void test_systemd_socket_listens_on_default_path_for_group(void **state)
{
    g_autoptr(GKeyFile) kf = unit_load("agnocastd.socket");

    expect_unit_value(kf, "Socket", "ListenSequentialPacket", AGNOCAST_SOCKET_DEFAULT);
    expect_unit_value(kf, "Socket", "SocketUser", "agnocast");
    expect_unit_value(kf, "Socket", "SocketGroup", "agnocast");
    expect_unit_value(kf, "Socket", "SocketMode", "0660");
    expect_unit_value(kf, "Socket", "DirectoryMode", "0755");
    expect_unit_value(kf, "Install", "WantedBy", "sockets.target");
}

static void test_systemd_sysusers_and_tmpfiles_create_user_and_dir(void **state)
{
    const char *sysusers = g_getenv("SYSTEMD_SYSUSERS");
    const char *tmpfiles = g_getenv("SYSTEMD_TMPFILES");
    if (getuid() != 0 || sysusers == NULL || sysusers[0] == '\0' || tmpfiles == NULL ||
        tmpfiles[0] == '\0') {
        fprintf(stderr, "needs root, systemd-sysusers and systemd-tmpfiles\n");
        skip();
    }
    char *root = ctl_tmpdir_new();
    g_autofree char *etc = g_build_filename(root, "etc", NULL);
    g_autofree char *root_opt = g_strdup_printf("--root=%s", root);
    g_autofree char *users =
        g_build_filename(g_getenv("AGNOCAST_SOURCE_ROOT"), "systemd", "agnocast.sysusers", NULL);
    g_autofree char *dirs = unit_path("agnocast.tmpfiles");
    g_autofree char *err1 = NULL, *err2 = NULL, *passwd = NULL;
    assert_int_equal(g_mkdir(etc, 0755), 0);

    char *argv1[] = {(char *)sysusers, root_opt, users, NULL};
    int rc1 = run(argv1, &err1);
    char *argv2[] = {(char *)tmpfiles, root_opt, "--create", dirs, NULL};
    int rc2 = run(argv2, &err2);

    g_autofree char *passwd_path = g_build_filename(etc, "passwd", NULL);
    g_autofree char *run_dir = g_build_filename(root, AGNOCAST_SOCKET_DIR, NULL);
    struct stat st;
    int have_dir = stat(run_dir, &st);
    gboolean have_user = g_file_get_contents(passwd_path, &passwd, NULL, NULL) &&
                         strstr(passwd, "\nagnocast:") != NULL;
    gboolean have_user_first = passwd != NULL && g_str_has_prefix(passwd, "agnocast:");
    ctl_tmpdir_remove(root);

    if (rc1 != 0 || rc2 != 0)
        fail_msg("sysusers exit %d: %s\ntmpfiles exit %d: %s", rc1, err1, rc2, err2);
    assert_true(have_user || have_user_first);
    assert_int_equal(have_dir, 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_not_equal(st.st_uid, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_systemd_units_pass_analyze_verify),
        cmocka_unit_test(test_systemd_service_runs_installed_broker_as_agnocast),
        cmocka_unit_test(test_systemd_service_shares_ipc_namespace_and_dev_shm),
        cmocka_unit_test(test_systemd_socket_listens_on_default_path_for_group),
        cmocka_unit_test(test_systemd_sysusers_and_tmpfiles_create_user_and_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
