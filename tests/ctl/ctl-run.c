/* Running the agnocastctl binary from a test and capturing what it printed. */
#include "ctl-run.h"
#include "reachable.h"

#include <glib/gstdio.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void ctl_run_drop_privileges(gpointer data)
{
    (void)data;
    if (getuid() != 0)
        return;
    /* The child must not keep root's group list either, or a 0660 root socket stays reachable. */
    if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
        _exit(125);
}

void ctl_run(struct ctl_result *r, const char *env_socket, gboolean as_nobody, ...)
{
    const char *exe = g_getenv("AGNOCASTCTL");
    GPtrArray *argv = g_ptr_array_new();
    va_list ap;
    GError *error = NULL;
    int wait_status = 0;

    if (exe == NULL) {
        fprintf(stderr, "AGNOCASTCTL is not set: run the test through `meson test`\n");
        abort();
    }
    if (as_nobody)
        exe = reachable_copy(exe);
    g_ptr_array_add(argv, (char *)exe);
    va_start(ap, as_nobody);
    for (const char *a = va_arg(ap, const char *); a != NULL; a = va_arg(ap, const char *))
        g_ptr_array_add(argv, (char *)a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);

    char **envp = g_get_environ();
    envp = env_socket != NULL ? g_environ_setenv(envp, "AGNOCAST_SOCKET", env_socket, TRUE)
                              : g_environ_unsetenv(envp, "AGNOCAST_SOCKET");
    envp = g_environ_setenv(envp, "LC_ALL", "C.UTF-8", TRUE);

    if (!g_spawn_sync(NULL, (char **)argv->pdata, envp, G_SPAWN_DEFAULT,
                      as_nobody ? ctl_run_drop_privileges : NULL, NULL, &r->out, &r->err,
                      &wait_status, &error)) {
        fprintf(stderr, "cannot run %s: %s\n", exe, error->message);
        abort();
    }
    if (WIFEXITED(wait_status))
        r->status = WEXITSTATUS(wait_status);
    else
        r->status = 128 + WTERMSIG(wait_status);
    g_strfreev(envp);
    g_ptr_array_free(argv, TRUE);
}

void ctl_result_clear(struct ctl_result *r)
{
    g_clear_pointer(&r->out, g_free);
    g_clear_pointer(&r->err, g_free);
}

char *ctl_tmpdir_new(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("agnocastctl-test-XXXXXX", &error);

    if (dir == NULL) {
        fprintf(stderr, "cannot make a temporary directory: %s\n", error->message);
        abort();
    }
    return dir;
}

static void ctl_tmpdir_remove_tree(const char *path)
{
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *child = g_build_filename(path, name, NULL);
        if (g_file_test(child, G_FILE_TEST_IS_DIR) && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
            ctl_tmpdir_remove_tree(child);
        else
            (void)g_unlink(child);
    }
    if (d != NULL)
        g_dir_close(d);
    (void)g_rmdir(path);
}

void ctl_tmpdir_remove(char *dir)
{
    if (dir == NULL)
        return;
    ctl_tmpdir_remove_tree(dir);
    g_free(dir);
}
