/* Multi-process test harness: a private broker on a temporary socket, forked roles, pipes. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool can_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    bool ok;

    if (strlen(path) >= sizeof(a.sun_path))
        return false;
    memcpy(a.sun_path, path, strlen(path) + 1);
    ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static int broker_spawn(struct broker *b)
{
    const char *exe = getenv("AGNOCAST_TEST_BROKER");
    const char *base = getenv("AGNOCAST_TEST_WINDOW_BASE");
    const char *max_pool = getenv("AGNOCAST_TEST_BROKER_MAX_POOL");
    uint64_t deadline;

    if (!exe) {
        fprintf(stderr, "harness: AGNOCAST_TEST_BROKER is not set (run through meson test)\n");
        return -1;
    }
    b->pid = fork();
    if (b->pid == 0) {
        char *argv[10];
        int n = 0;
        argv[n++] = (char *)exe;
        argv[n++] = "--socket";
        argv[n++] = b->socket;
        if (base && *base) {
            argv[n++] = "--window-base";
            argv[n++] = (char *)base;
        }
        if (max_pool && *max_pool) {
            argv[n++] = "--max-pool-size";
            argv[n++] = (char *)max_pool;
        }
        argv[n] = NULL;
        if (!getenv("AGNOCAST_TEST_VERBOSE")) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
        }
        execv(exe, argv);
        _exit(127);
    }
    deadline = now_ms() + 5000;
    while (now_ms() < deadline) {
        if (can_connect(b->socket)) {
            setenv("AGNOCAST_SOCKET", b->socket, 1);
            return 0;
        }
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid)
            return -1;
        usleep(10000);
    }
    return -1;
}

int broker_start(struct broker *b)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(b->dir, sizeof(b->dir), "%s/agnocast-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b->dir))
        return -1;
    chmod(b->dir, 0755);
    snprintf(b->socket, sizeof(b->socket), "%s/broker.sock", b->dir);
    return broker_spawn(b);
}

void broker_kill(struct broker *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGKILL);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
}

int broker_restart(struct broker *b)
{
    return broker_spawn(b);
}

int broker_stop(struct broker *b)
{
    int status = 0;
    char cmd[600];

    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, &status, 0);
        b->pid = 0;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: cannot remove %s\n", b->dir);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct broker harness_broker;

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

static void roles_kill_leftovers(void)
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

/* Meson ends a test that ran out of time with SIGTERM: leave no roles, segments or broker
 * behind for the next run. Only async-signal-safe calls here. */
static void on_sigterm(int sig)
{
    (void)sig;
    roles_kill_leftovers();
    if (harness_broker.pid > 0) {
        kill(harness_broker.pid, SIGTERM);
        waitpid(harness_broker.pid, NULL, 0);
    }
    _exit(128 + SIGTERM);
}

int role_start(struct role *r, int (*fn)(void *arg, int out, int in), void *arg)
{
    int up[2], down[2];

    if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
        return -1;
    fflush(NULL);
    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        signal(SIGTERM, SIG_DFL); /* the harness's handler is for the test process only */
        /* Other roles' pipe ends must not stay open here: a role waiting for its pipe to close
         * would wait for every sibling. */
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
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    buf[n++] = '\n';
    return write(fd, buf, (size_t)n) == n ? 0 : -1;
}

int recv_line(int fd, char *buf, size_t cap, int timeout_ms)
{
    size_t n = 0;
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

    while (n + 1 < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) <= 0)
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

int run_capture(char *const argv[], char *out, size_t cap)
{
    int p[2], status;
    size_t n = 0;
    ssize_t got;
    pid_t pid;

    if (pipe(p) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    while (n + 1 < cap && (got = read(p[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    close(p[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool shm_name_exists(pid_t pid)
{
    char path[64];

    snprintf(path, sizeof(path), "/dev/shm/agnocast@%d", (int)pid);
    return access(path, F_OK) == 0;
}

bool mq_name_exists(pid_t pid)
{
    char name[64];
    mqd_t q;

    snprintf(name, sizeof(name), "/new_publisher@%d", (int)pid);
    q = mq_open(name, O_RDONLY | O_NONBLOCK);
    if (q == (mqd_t)-1)
        return errno != ENOENT;
    mq_close(q);
    return true;
}

int find_mapping(pid_t pid, uintptr_t addr, char perms[8], char *path, size_t cap)
{
    char file[64], line[512];
    FILE *f;

    snprintf(file, sizeof(file), "/proc/%d/maps", (int)pid);
    f = fopen(file, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi;
        char p[8], name[300] = "";
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %299[^\n]", &lo, &hi, p, name) < 3)
            continue;
        if (addr >= lo && addr < hi) {
            memcpy(perms, p, 8);
            snprintf(path, cap, "%s", name);
            fclose(f);
            return 0;
        }
    }
    fclose(f);
    return -1;
}

int harness_broker_setup(void **state)
{
    struct sigaction sa = {.sa_handler = on_sigterm};

    (void)state;
    sigaction(SIGTERM, &sa, NULL);
    return broker_start(&harness_broker);
}

int harness_broker_teardown(void **state)
{
    (void)state;
    roles_kill_leftovers();
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return broker_stop(&harness_broker);
}
