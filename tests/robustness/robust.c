/* Helpers of the robustness tests: a private broker with options, live agents, raw clients. */
#include "robust.h"

#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int rb_connect(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (fd < 0 || strlen(path) >= sizeof(a.sun_path)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int spawn(struct rb_broker *b, const char *const *args)
{
    const char *exe = getenv("AGNOCAST_TEST_BROKER");
    const char *base = getenv("AGNOCAST_TEST_WINDOW_BASE");
    const char *vg = getenv("AGNOCAST_TEST_VALGRIND");
    uint64_t deadline;

    if (exe == NULL) {
        fprintf(stderr, "robust: AGNOCAST_TEST_BROKER is not set (run through meson test)\n");
        return -1;
    }
    fflush(NULL);
    b->pid = fork();
    if (b->pid < 0)
        return -1;
    if (b->pid == 0) {
        const char *argv[64];
        char *vgcopy = vg != NULL ? strdup(vg) : NULL;
        int n = 0, log = open(b->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

        for (char *tok = vgcopy ? strtok(vgcopy, " ") : NULL; tok != NULL && n < 40;
             tok = strtok(NULL, " "))
            argv[n++] = tok;
        argv[n++] = exe;
        argv[n++] = "--socket";
        argv[n++] = b->socket;
        argv[n++] = "--socket-mode";
        argv[n++] = "0666";
        if (base != NULL && *base != '\0') {
            argv[n++] = "--window-base";
            argv[n++] = base;
        }
        for (int i = 0; args != NULL && args[i] != NULL && n < 62; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no broker behind */
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    deadline = now_ms() + (vg != NULL ? 30000 : 5000);
    while (now_ms() < deadline) {
        int fd = rb_connect(b->socket);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        if (waitpid(b->pid, NULL, WNOHANG) == b->pid) {
            b->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

int rb_broker_start(struct rb_broker *b, const char *const *args)
{
    const char *tmp = getenv("TMPDIR");

    memset(b, 0, sizeof(*b));
    snprintf(b->dir, sizeof(b->dir), "%s/agnocast-robust-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(b->dir) == NULL)
        return -1;
    /* Others (the nobody attacker) must reach the socket. */
    chmod(b->dir, 0755);
    snprintf(b->socket, sizeof(b->socket), "%s/broker.sock", b->dir);
    snprintf(b->log, sizeof(b->log), "%s/broker.log", b->dir);
    return spawn(b, args);
}

int rb_broker_restart(struct rb_broker *b, const char *const *args)
{
    return spawn(b, args);
}

int rb_broker_signal(struct rb_broker *b, int sig)
{
    int status = 0;

    if (b->pid <= 0)
        return -1;
    kill(b->pid, sig);
    waitpid(b->pid, &status, 0);
    b->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void rb_broker_cleanup(struct rb_broker *b)
{
    char cmd[600];

    if (b->pid > 0)
        rb_broker_signal(b, SIGKILL);
    if (getenv("AGNOCAST_TEST_KEEP") != NULL) {
        fprintf(stderr, "robust: kept %s\n", b->dir);
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
    if (b->dir[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "robust: cannot remove %s\n", b->dir);
}

bool rb_broker_log_has(const struct rb_broker *b, const char *text)
{
    char buf[1 << 16];
    FILE *f = fopen(b->log, "r");
    bool found = false;

    while (f != NULL && !found && fgets(buf, sizeof(buf), f) != NULL)
        found = strstr(buf, text) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

long rb_proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

long rb_proc_cpu_ms(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, st = 0;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    /* After the name: state is field 3; utime and stime are 14 and 15. */
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (long)((ut + st) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

/* Serves the test: each path it sends becomes a connection made here, relayed to a socketpair
 * whose other end goes back to the test; the broker sees the agent send every frame. */
static void agent_main(int ctl)
{
    union agnocast_frame_buffer buf;
    struct relay r = {0};

    for (;;) {
        int rc = relay_step(&r, ctl), sv[2] = {-1, -1}, fd;
        ssize_t n;
        if (rc < 0)
            _exit(1);
        if (rc == 0)
            continue;
        n = recv(ctl, buf.bytes, sizeof(buf.bytes) - 1, 0);
        if (n <= 0)
            _exit(0);
        buf.bytes[n] = '\0';
        fd = rb_connect((const char *)buf.bytes);
        if (fd >= 0 && (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
                        relay_add(&r, fd, sv[1]) < 0)) {
            close(fd);
            fd = -1;
        }
        /* The transport sends whole headers at least: a 16-byte token carries the test's end. */
        if (agnocast_proto_send(ctl, "connected.......", 16, fd >= 0 ? &sv[0] : NULL,
                                fd >= 0 ? 1 : 0) < 0)
            _exit(1);
        if (sv[0] >= 0)
            close(sv[0]);
    }
}

int rb_agent_start(struct rb_agent *a)
{
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    fflush(NULL);
    a->pid = fork();
    if (a->pid < 0)
        return -1;
    if (a->pid == 0) {
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
        /* Dies with the test, and holds none of its output pipes open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(devnull, 1);
        dup2(devnull, 2);
        /* Copies of the test's sockets here would keep them open after the test closes them. */
        relay_close_others(&sv[1], 1);
        agent_main(sv[1]);
    }
    close(sv[1]);
    a->ctl = sv[0];
    return 0;
}

int rb_agent_connect(struct rb_agent *a, const char *path)
{
    char token[16];
    int fd = -1, nfds = 1;

    if (send(a->ctl, path, strlen(path), MSG_NOSIGNAL) < 0)
        return -1;
    if (agnocast_proto_recv(a->ctl, token, sizeof(token), &fd, &nfds) != 16 || nfds != 1)
        return -1;
    return fd;
}

void rb_agent_stop(struct rb_agent *a)
{
    if (a->pid <= 0)
        return;
    close(a->ctl);
    kill(a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    a->pid = 0;
}

void rb_peer_init(struct rb_peer *p, int fd)
{
    memset(p, 0, sizeof(*p));
    p->fd = fd;
    p->efd = p->mfd = -1;
    p->next_id = 1;
}

void rb_peer_close(struct rb_peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    if (p->efd >= 0)
        close(p->efd);
    if (p->mfd >= 0)
        close(p->mfd);
    p->fd = p->efd = p->mfd = -1;
}

uint32_t rb_request(struct rb_peer *p, uint16_t kind, const void *payload, size_t len,
                    const int *fds, int nfds)
{
    union agnocast_frame_buffer buf;
    uint32_t id = p->next_id++;
    ssize_t n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), kind, id, payload, len);

    if (n < 0 || agnocast_proto_send(p->fd, buf.bytes, (size_t)n, fds, nfds) < 0)
        return 0;
    return id;
}

ssize_t rb_recv(struct rb_peer *p, struct rb_reply *r, bool skip_notices)
{
    for (;;) {
        struct pollfd pf = {.fd = p->fd, .events = POLLIN};
        int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;

        if (poll(&pf, 1, RB_TIMEOUT_MS) != 1)
            return r->len = -ETIMEDOUT;
        r->len = agnocast_proto_recv(p->fd, r->buf.bytes, sizeof(r->buf.bytes), fds, &nfds);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        if (r->len == -ECONNRESET)
            r->len = 0;
        if (r->len <= 0)
            return r->len;
        if (agnocast_proto_decode(r->buf.bytes, (size_t)r->len, &r->f) < 0)
            return r->len = -EBADMSG;
        if (skip_notices && r->f.kind >= AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED &&
            r->f.kind <= AGNOCAST_MSG_NOTICE_PROCESS_GONE)
            continue;
        return r->len;
    }
}

int rb_hello(struct rb_peer *p)
{
    struct agnocast_wire_hello h = {0};
    struct rb_reply r;

    if (rb_request(p, AGNOCAST_MSG_HELLO, &h, sizeof(h), NULL, 0) == 0)
        return -1;
    return rb_recv(p, &r, true) > 0 && r.f.kind == AGNOCAST_MSG_HELLO_REPLY ? 0 : -1;
}

/* The reply to the last request: 0 on `ok_kind`, the ERROR's code, or -EPROTO. */
static int outcome(struct rb_peer *p, uint16_t ok_kind, char *why, size_t cap)
{
    struct rb_reply r;

    if (why != NULL && cap > 0)
        why[0] = '\0';
    if (rb_recv(p, &r, true) <= 0)
        return -EPROTO;
    if (r.f.kind == ok_kind) {
        if (ok_kind == AGNOCAST_MSG_REGISTER_REPLY)
            memcpy(&p->range, r.f.payload, sizeof(p->range));
        return 0;
    }
    if (r.f.kind != AGNOCAST_MSG_ERROR)
        return -EPROTO;
    const struct agnocast_wire_error *e = r.f.payload;
    if (why != NULL)
        snprintf(why, cap, "%s", e->message);
    return e->code;
}

int rb_register(struct rb_peer *p, uint64_t pool, uint64_t want_base, char *why, size_t cap)
{
    struct agnocast_wire_register req = {.pool_size = pool, .want_base = want_base};

    if (rb_request(p, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0) == 0)
        return -EPIPE;
    int rc = outcome(p, AGNOCAST_MSG_REGISTER_REPLY, why, cap);
    if (rc != 0)
        return rc;
    /* As the library does: the segment, a sealed memfd of the range, before any endpoint. */
    struct agnocast_wire_segment seg = {.base = p->range.base, .size = p->range.size};
    if (p->mfd < 0) {
        p->mfd = memfd_create("agnocast-robust", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (p->mfd < 0 || ftruncate(p->mfd, (off_t)p->range.size) < 0 ||
            fcntl(p->mfd, F_ADD_SEALS, AGNOCAST_SEGMENT_SEALS) < 0)
            return -errno;
    }
    if (rb_request(p, AGNOCAST_MSG_ATTACH_SEGMENT, &seg, sizeof(seg), &p->mfd, 1) == 0)
        return -EPIPE;
    return outcome(p, AGNOCAST_MSG_OK, why, cap);
}

int rb_add(struct rb_peer *p, bool publisher, uint32_t index, const char *topic, char *why,
           size_t cap)
{
    struct agnocast_wire_endpoint req;

    memset(&req, 0, sizeof(req));
    req.index = index;
    req.qos.depth = 1;
    req.qos.reliability = AGNOCAST_RELIABILITY_RELIABLE;
    if (agnocast_topic_field_set(req.topic, topic) < 0)
        return -EINVAL;
    if (rb_request(p, publisher ? AGNOCAST_MSG_ADD_PUBLISHER : AGNOCAST_MSG_ADD_SUBSCRIPTION, &req,
                   sizeof(req), NULL, 0) == 0)
        return -EPIPE;
    return outcome(p, AGNOCAST_MSG_OK, why, cap);
}

long rb_list_total(struct rb_peer *p, uint16_t kind)
{
    struct agnocast_wire_query q;
    struct rb_reply r;
    uint32_t id;

    memset(&q, 0, sizeof(q));
    id = rb_request(p, kind, &q, sizeof(q), NULL, 0);
    if (id == 0 || rb_recv(p, &r, true) <= 0 || r.f.request_id != id ||
        r.f.kind == AGNOCAST_MSG_ERROR)
        return -1;
    return (long)r.f.list_total;
}

void rb_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}
