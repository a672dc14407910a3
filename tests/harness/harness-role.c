/* Forked roles of a multi-process test, the roles left behind, and lines over pipes. */
#include "harness-role.h"

#include "harness-util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Roles not yet waited for: a failed assertion leaves its test early, and the teardown kills
 * them while the broker still runs, so that it removes their segments and queues. Beyond 256
 * alive at once the rest go untracked (no test comes close: role_wait() frees the entry). */
static pid_t live_roles[256];

static void role_forget(pid_t pid)
{
    for (size_t i = 0; i < sizeof(live_roles) / sizeof(live_roles[0]); i++)
        if (live_roles[i] == pid)
            live_roles[i] = 0;
}

void role_kill_leftovers(void)
{
    bool killed = false;

    for (size_t i = 0; i < sizeof(live_roles) / sizeof(live_roles[0]); i++) {
        /* Only a child still running: one a test reaped itself may have lent its pid to an
         * unrelated process by now. */
        if (live_roles[i] > 0 && waitpid(live_roles[i], NULL, WNOHANG) == 0) {
            kill(live_roles[i], SIGKILL);
            waitpid(live_roles[i], NULL, 0);
            killed = true;
        }
        live_roles[i] = 0;
    }
    if (killed) {
        /* the broker sees their connections close and cleans up */
        struct timespec ts = {0, 200000000};
        nanosleep(&ts, NULL);
    }
}

int role_start(struct role *r, int (*fn)(void *arg, int out, int in), void *arg)
{
    int up[2], down[2];

    if (pipe2(up, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(down, O_CLOEXEC) < 0) {
        close(up[0]);
        close(up[1]);
        return -1;
    }
    fflush(NULL);
    r->pid = fork();
    if (r->pid < 0) {
        close(up[0]);
        close(up[1]);
        close(down[0]);
        close(down[1]);
        return -1;
    }
    if (r->pid == 0) {
        signal(SIGTERM, SIG_DFL); /* the fixture's handler is for the test process only */
        for (int fd = 3; fd < 1024; fd++)
            if (fd != up[1] && fd != down[0])
                close(fd);
        _exit(fn(arg, up[1], down[0]));
    }
    close(up[1]);
    close(down[0]);
    r->from_child = up[0];
    r->to_child = down[1];
    for (size_t i = 0; i < sizeof(live_roles) / sizeof(live_roles[0]); i++) {
        if (live_roles[i] == 0) {
            live_roles[i] = r->pid;
            break;
        }
    }
    return 0;
}

int role_wait(struct role *r)
{
    int status;

    close(r->to_child);
    waitpid(r->pid, &status, 0);
    role_forget(r->pid);
    close(r->from_child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int send_line(int fd, const char *fmt, ...)
{
    char buf[ROLE_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    /* The newline takes the place of the NUL: it must have fitted. A cut line would reach the
     * other side as a different message. */
    if ((size_t)n >= sizeof(buf)) {
        fprintf(stderr, "harness: send_line: a line of %d bytes is longer than %d\n", n,
                ROLE_LINE_MAX - 1);
        errno = EMSGSIZE;
        return -1;
    }
    buf[n++] = '\n';
    return write(fd, buf, (size_t)n) == n ? 0 : -1;
}

int recv_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

    if (cap == 0)
        return -1;
    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        uint64_t now = now_ms();
        if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
            return -1;
        if (read(fd, &buf[n], 1) != 1)
            return -1;
        /* Once a line has begun, wait for the rest of it rather than lose its first bytes. */
        if (n == 0)
            deadline = now_ms() + 5000;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return (int)n;
}
