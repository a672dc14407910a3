/* A private agnocastd for a test: start, restart, signal, log, and removal of its directory. */
#include "harness-broker.h"

#include "harness-util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Room for the valgrind words, our options and the caller's. */
#define BROKER_ARGV_MAX 64
#define BROKER_WRAP_MAX 40
/* How long broker_stop() waits after SIGTERM (a broker under valgrind checks leaks first). */
#define BROKER_STOP_MS 30000

/* Copies the broker's log to stderr, framed, so that meson's test log shows it. */
static void broker_dump_log(const struct broker *b, const char *why)
{
    char buf[4096];
    size_t n;
    FILE *f = fopen(b->log, "r");

    if (f == NULL)
        return;
    fprintf(stderr, "harness: %s; the broker's log (%s):\n", why, b->log);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "harness: end of the broker's log\n");
    fclose(f);
}

/* In the child: the command line, then exec. Never returns. */
static void broker_exec(const struct broker *b, const char *exe, const char *const *args)
{
    const char *base = getenv("AGNOCAST_TEST_WINDOW_BASE");
    const char *wrap = getenv("AGNOCAST_TEST_VALGRIND");
    /* No allocation after fork: the test may run with the heap hook preloaded. */
    static char words[1024];
    const char *argv[BROKER_ARGV_MAX];
    int n = 0, log;

    snprintf(words, sizeof(words), "%s", wrap != NULL ? wrap : "");
    for (char *w = strtok(words, " "); w != NULL && n < BROKER_WRAP_MAX; w = strtok(NULL, " "))
        argv[n++] = w;
    argv[n++] = exe;
    argv[n++] = "--socket";
    argv[n++] = b->socket;
    /* The directory is 0755 and the socket open to all: tests play other users (nobody). */
    argv[n++] = "--socket-mode";
    argv[n++] = "0666";
    if (base != NULL && *base != '\0') {
        argv[n++] = "--window-base";
        argv[n++] = base;
    }
    for (int i = 0; args != NULL && args[i] != NULL; i++) {
        if (n == BROKER_ARGV_MAX - 1) {
            fprintf(stderr, "harness: too many broker options\n");
            _exit(127);
        }
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    /* A test that dies leaves no broker behind. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    log = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log >= 0) {
        dup2(log, 1);
        dup2(log, 2);
    }
    execvp(argv[0], (char *const *)argv);
    fprintf(stderr, "harness: cannot run %s\n", argv[0]);
    _exit(127);
}

static int broker_spawn(struct broker *b, const char *const *args)
{
    const char *exe = getenv("AGNOCAST_TEST_BROKER");
    uint64_t deadline;

    if (exe == NULL || *exe == '\0') {
        fprintf(stderr, "harness: AGNOCAST_TEST_BROKER is not set (run through meson test)\n");
        return -1;
    }
    fflush(NULL);
    b->pid = fork();
    if (b->pid < 0) {
        b->pid = 0;
        return -1;
    }
    if (b->pid == 0)
        broker_exec(b, exe, args);
    deadline = now_ms() + (getenv("AGNOCAST_TEST_VALGRIND") != NULL ? 30000 : 5000);
    while (now_ms() < deadline) {
        int fd = socket_connect(b->socket);
        if (fd >= 0) {
            close(fd);
            setenv("AGNOCAST_SOCKET", b->socket, 1);
            return 0;
        }
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
            b->pid = 0;
            broker_dump_log(b, "the broker exited before accepting");
            return -1;
        }
        usleep(10000);
    }
    broker_signal(b, SIGKILL);
    broker_dump_log(b, "the broker did not accept in time");
    return -1;
}

int broker_start(struct broker *b, const char *const *args)
{
    const char *tmp = getenv("TMPDIR");

    memset(b, 0, sizeof(*b));
    snprintf(b->dir, sizeof(b->dir), "%s/agnocast-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(b->dir) == NULL) {
        fprintf(stderr, "harness: cannot make a directory in %s\n", tmp && *tmp ? tmp : "/tmp");
        b->dir[0] = '\0';
        return -1;
    }
    chmod(b->dir, 0755);
    snprintf(b->socket, sizeof(b->socket), "%s/broker.sock", b->dir);
    snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
    if (broker_spawn(b, args) < 0) {
        broker_cleanup(b);
        return -1;
    }
    return 0;
}

int broker_restart(struct broker *b, const char *const *args)
{
    return broker_spawn(b, args);
}

int broker_signal(struct broker *b, int sig)
{
    int status = 0;

    if (b->pid <= 0)
        return -1;
    kill(b->pid, sig);
    waitpid(b->pid, &status, 0);
    b->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool broker_log_has(const struct broker *b, const char *text)
{
    char line[1 << 16];
    FILE *f = fopen(b->log, "r");
    bool found = false;

    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, text) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

void broker_cleanup(struct broker *b)
{
    if (b->pid > 0)
        broker_signal(b, SIGKILL);
    if (b->dir[0] == '\0')
        return;
    if (getenv("AGNOCAST_TEST_VERBOSE") != NULL)
        broker_dump_log(b, "AGNOCAST_TEST_VERBOSE is set");
    if (getenv("AGNOCAST_TEST_KEEP") != NULL)
        fprintf(stderr, "harness: kept %s\n", b->dir);
    else if (remove_tree(b->dir) < 0)
        fprintf(stderr, "harness: cannot remove %s: %m\n", b->dir);
    b->dir[0] = '\0';
}

int broker_stop(struct broker *b)
{
    int status = 0;

    if (b->pid > 0) {
        uint64_t deadline = now_ms() + BROKER_STOP_MS;
        pid_t done = 0;
        kill(b->pid, SIGTERM);
        while ((done = waitpid(b->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
            usleep(10000);
        if (done == 0) {
            fprintf(stderr, "harness: the broker was still running %d s after SIGTERM\n",
                    BROKER_STOP_MS / 1000);
            kill(b->pid, SIGKILL);
            waitpid(b->pid, &status, 0);
        }
        b->pid = 0;
        status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (status != 0 && b->dir[0] != '\0') {
        char why[64];
        snprintf(why, sizeof(why), "the broker's exit status was %d", status);
        broker_dump_log(b, why);
    }
    broker_cleanup(b);
    return status;
}
