/* Running the agnocastctl binary from a test and capturing what it printed. */
#ifndef CTL_RUN_H
#define CTL_RUN_H

#include <glib.h>

struct ctl_result {
    int status; /* exit status, or 128 + signal */
    char *out;
    char *err;
};

/*
 * Runs agnocastctl ($AGNOCASTCTL, set by meson) with the NULL-terminated `args`.
 * AGNOCAST_SOCKET is set to `env_socket`, or removed when it is NULL. With `as_nobody`, the
 * child drops to uid/gid 65534 first (only when running as root).
 */
void ctl_run(struct ctl_result *r, const char *env_socket, gboolean as_nobody,
             ...) G_GNUC_NULL_TERMINATED;
void ctl_result_clear(struct ctl_result *r);

/* A fresh private directory for sockets; remove it with ctl_tmpdir_remove(). */
char *ctl_tmpdir_new(void);
void ctl_tmpdir_remove(char *dir);

#endif
