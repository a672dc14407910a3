/*
 * "A member can only hurt itself" (issue 12): per-user quotas, REPORT_OCCUPIED limited to ranges
 * a live process was given, the sender of REGISTER_PROCESS checked against the process that
 * connected, and a refused connection that reads the broker's reason. Each test starts its own
 * broker. Run as root, the greedy member is the user nobody and the test's own uid is the victim
 * that must still be served; otherwise both are this uid and only the refusals are checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define NOBODY_UID 65534
#define FLOOD_CONN 30

static struct broker broker;

static int broker_teardown(void **state)
{
    broker_cleanup(&broker);
    memset(&broker, 0, sizeof(broker));
    return 0;
}

static void start(const char *const *args)
{
    raise_nofile();
    assert_int_equal(broker_start(&broker, args), 0);
}

static bool separate_users(void)
{
    return geteuid() == 0;
}

static int report_occupied(struct raw_peer *p, uint64_t base, uint64_t size, uint32_t owner,
                           char *why, size_t cap)
{
    struct agnocast_wire_range req = {.base = base, .size = size, .owner_pid = owner};

    return raw_reply_to(p, raw_request(p, AGNOCAST_MSG_REPORT_OCCUPIED, &req, sizeof(req), NULL, 0),
                        AGNOCAST_MSG_OK, why, cap);
}

/* One more growth area of `size` bytes (its range only; nothing is attached). */
static int grow(struct raw_peer *p, uint64_t size, char *why, size_t cap)
{
    struct agnocast_wire_register req = {.pool_size = size, .flags = AGNOCAST_REGISTER_GROW};

    return raw_reply_to(p,
                        raw_request(p, AGNOCAST_MSG_REGISTER_PROCESS, &req, sizeof(req), NULL, 0),
                        AGNOCAST_MSG_REGISTER_REPLY, why, cap);
}

/* A new process (an agent) with a connection that said HELLO. */
static void agent_peer(struct agent *a, struct raw_peer *p)
{
    assert_int_equal(agent_start(a), 0);
    raw_peer_init(p, agent_connect(a, broker.socket));
    assert_true(p->fd >= 0);
    assert_int_equal(raw_hello(p), 0);
}

static void agent_peer_stop(struct agent *a, struct raw_peer *p)
{
    raw_peer_close(p);
    agent_stop(a);
}

/* Waits until the broker lists `n` registered processes. */
static void wait_processes(long n)
{
    struct raw_peer q;
    long got = -1;

    raw_peer_init(&q, socket_connect(broker.socket));
    assert_int_equal(raw_hello(&q), 0);
    for (int i = 0; i < 250 && (got = raw_list_total(&q, AGNOCAST_MSG_LIST_PROCESSES)) != n; i++)
        usleep(20 * 1000);
    raw_peer_close(&q);
    assert_int_equal(got, n);
}

/*
 * Another member: a child that runs fn (as nobody when we are root), which writes one line of
 * results to `report`; the child then holds what it made until other_stop.
 */
struct other {
    pid_t pid;
    int up, down;
};

static void other_start(struct other *o, void (*fn)(int report, void *arg), void *arg)
{
    int up[2], down[2];

    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    fflush(NULL);
    o->pid = fork();
    assert_true(o->pid >= 0);
    if (o->pid == 0) {
        char c;
        close(up[0]);
        close(down[1]);
        if (separate_users() &&
            (setgroups(0, NULL) < 0 || setgid(NOBODY_UID) < 0 || setuid(NOBODY_UID) < 0))
            _exit(3);
        fn(up[1], arg);
        if (read(down[0], &c, 1) < 0)
            _exit(4);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    o->up = up[0];
    o->down = down[1];
}

/* Its line of results (waits up to `ms`). */
static void other_read(struct other *o, char *line, size_t cap, int ms)
{
    struct pollfd pf = {.fd = o->up, .events = POLLIN};
    ssize_t n;

    assert_int_equal(poll(&pf, 1, ms), 1);
    n = read(o->up, line, cap - 1);
    assert_true(n > 0);
    line[n] = '\0';
}

static void other_stop(struct other *o)
{
    int status;

    close(o->down);
    assert_int_equal(waitpid(o->pid, &status, 0), o->pid);
    close(o->up);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* --- REPORT_OCCUPIED ------------------------------------------------------------------------ */

static void test_quota_report_occupied_names_one_range_of_a_live_process(void **state)
{
    char why[AGNOCAST_ERROR_TEXT_MAX];
    struct agent aa, ab, ax, av;
    struct raw_peer a, b, x, v;

    start(NULL);
    agent_peer(&aa, &a);
    assert_int_equal(raw_register(&a, 0, 0, NULL, 0), 0);
    agent_peer(&ab, &b);
    assert_int_equal(raw_register(&b, 0, 0, NULL, 0), 0);
    agent_peer(&ax, &x);
    assert_int_equal(raw_register(&x, 0, 0, NULL, 0), 0);

    /* One report over the whole window (what once blocked every newcomer): refused. */
    assert_int_equal(report_occupied(&x, a.range.base, 1ull << 40, a.range.pid, why, sizeof(why)),
                     -EINVAL);
    assert_non_null(strstr(why, "is not the segment or a growth area of process"));
    /* A range near one, a process that is not registered, the reporter itself: refused. */
    assert_int_equal(
        report_occupied(&x, a.range.base, a.range.size + 4096, a.range.pid, why, sizeof(why)),
        -EINVAL);
    assert_int_equal(report_occupied(&x, a.range.base, a.range.size, 1, why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "not another live registered process"));
    assert_int_equal(report_occupied(&x, x.range.base, x.range.size, x.range.pid, why, sizeof(why)),
                     -EINVAL);
    /* Exactly a live peer's segment: accepted. */
    assert_int_equal(report_occupied(&x, b.range.base, b.range.size, b.range.pid, why, sizeof(why)),
                     0);

    /* A newcomer still gets a range. */
    agent_peer(&av, &v);
    assert_int_equal(raw_register(&v, 0, 0, why, sizeof(why)), 0);
    agent_peer_stop(&av, &v);
    agent_peer_stop(&ax, &x);
    agent_peer_stop(&ab, &b);
    agent_peer_stop(&aa, &a);
}

static void test_quota_no_range_left_does_not_say_want_base_0(void **state)
{
    /* Room for a 28 MiB pool and a 1 MiB one, nothing more. */
    static const char *const args[] = {
        "--window-size", "32M", "--pool-size", "1M", "--max-address-space-per-uid", "1G", NULL};
    char why[AGNOCAST_ERROR_TEXT_MAX];
    struct agent aa, ab, ac;
    struct raw_peer a, b, c;
    int rc;

    start(args);
    agent_peer(&aa, &a);
    assert_int_equal(raw_register(&a, 28u << 20, 0, why, sizeof(why)), 0);
    agent_peer(&ab, &b);
    assert_int_equal(raw_register(&b, 0, 0, why, sizeof(why)), 0);
    /* B cannot map A's segment; A leaves: its range stays clear of new ranges while B lives. */
    assert_int_equal(report_occupied(&b, a.range.base, a.range.size, a.range.pid, why, sizeof(why)),
                     0);
    agent_peer_stop(&aa, &a);
    wait_processes(1);

    agent_peer(&ac, &c);
    rc = raw_register(&c, 0, 0, why, sizeof(why));
    print_message("no range left: %d: %s\n", rc, why);
    assert_int_equal(rc, -ENOMEM);
    assert_null(strstr(why, "want_base 0"));
    assert_non_null(strstr(why, "reported occupied"));
    assert_non_null(strstr(why, "--window-size"));
    /* Once B is gone, so is its report. */
    agent_peer_stop(&ab, &b);
    wait_processes(0);
    assert_int_equal(raw_register(&c, 0, 0, why, sizeof(why)), 0);
    agent_peer_stop(&ac, &c);
}

/* --- per-user quotas ------------------------------------------------------------------------ */

/* Takes all the address space it can: 8 processes, each a 1 GiB pool grown 15 times. Reports
 * "<bytes granted> <code of the first refusal> <1 if it named the option>". */
static void greedy_space(int report, void *arg)
{
    static struct agent agents[8];
    static struct raw_peer peers[8];
    char why[AGNOCAST_ERROR_TEXT_MAX] = "";
    uint64_t granted = 0;
    int first = 0, named = 0;

    for (int i = 0; i < 8; i++) {
        int rc;
        if (agent_start(&agents[i]) < 0)
            break;
        raw_peer_init(&peers[i], agent_connect(&agents[i], arg));
        if (peers[i].fd < 0 || raw_hello(&peers[i]) < 0)
            break;
        rc = raw_register(&peers[i], 1u << 30, 0, why, sizeof(why));
        for (int g = 0; rc == 0; g++) {
            granted += peers[i].range.size;
            rc = g < 15 ? grow(&peers[i], 1u << 30, why, sizeof(why)) : 1;
        }
        if (rc < 0 && first == 0) {
            first = rc;
            named = strstr(why, "--max-address-space-per-uid") != NULL;
        }
    }
    dprintf(report, "%llu %d %d\n", (unsigned long long)granted, first, named);
}

static void test_quota_address_space_per_uid(void **state)
{
    static const char *const args[] = {"--window-size", "64G", "--max-pool-size", "1G", NULL};
    char line[128], why[AGNOCAST_ERROR_TEXT_MAX];
    unsigned long long granted = 0;
    int first = 0, named = 0;
    struct agent av;
    struct raw_peer v;
    struct other o;

    start(args);
    other_start(&o, greedy_space, broker.socket);
    other_read(&o, line, sizeof(line), 20000);
    assert_int_equal(sscanf(line, "%llu %d %d", &granted, &first, &named), 3);
    print_message("greedy member: %llu bytes of address ranges, then %d\n", granted, first);
    /* The default quota is a quarter of the window. */
    assert_true(granted <= 16ull << 30);
    assert_true(granted >= 14ull << 30);
    assert_int_equal(first, -EDQUOT);
    assert_int_equal(named, 1);
    if (separate_users()) {
        agent_peer(&av, &v);
        assert_int_equal(raw_register(&v, 1u << 30, 0, why, sizeof(why)), 0);
        assert_int_equal(grow(&v, 1u << 30, why, sizeof(why)), 0);
        agent_peer_stop(&av, &v);
    }
    other_stop(&o);
}

/* Registers one process of its own and reports 0 or the refusal's code. */
static void register_once(int report, void *arg)
{
    struct raw_peer p;
    int rc = -EPIPE;

    raw_peer_init(&p, socket_connect(arg));
    if (p.fd >= 0 && raw_hello(&p) == 0)
        rc = raw_register(&p, 0, 0, NULL, 0);
    dprintf(report, "%d\n", rc);
}

static void test_quota_processes_per_uid(void **state)
{
    static const char *const args[] = {"--max-processes-per-uid", "3", NULL};
    char why[AGNOCAST_ERROR_TEXT_MAX], line[32];
    struct agent agents[4];
    struct raw_peer peers[4];
    struct other o;

    start(args);
    for (int i = 0; i < 3; i++) {
        agent_peer(&agents[i], &peers[i]);
        assert_int_equal(raw_register(&peers[i], 0, 0, why, sizeof(why)), 0);
    }
    agent_peer(&agents[3], &peers[3]);
    assert_int_equal(raw_register(&peers[3], 0, 0, why, sizeof(why)), -EDQUOT);
    assert_non_null(strstr(why, "--max-processes-per-uid"));
    print_message("4th process: %s\n", why);
    if (separate_users()) {
        other_start(&o, register_once, broker.socket);
        other_read(&o, line, sizeof(line), 5000);
        assert_int_equal(atoi(line), 0);
        other_stop(&o);
    }
    /* One leaves: the next may come. */
    agent_peer_stop(&agents[0], &peers[0]);
    wait_processes(2);
    assert_int_equal(raw_register(&peers[3], 0, 0, why, sizeof(why)), 0);
    for (int i = 1; i < 4; i++)
        agent_peer_stop(&agents[i], &peers[i]);
}

static void test_quota_endpoints_per_uid(void **state)
{
    static const char *const args[] = {"--max-endpoints-per-uid", "10", NULL};
    struct agnocast_wire_endpoint_remove rm = {.index = 0};
    char why[AGNOCAST_ERROR_TEXT_MAX], topic[32];
    struct agent a1, a2;
    struct raw_peer p1, p2;
    int n2 = 0, rc;

    start(args);
    agent_peer(&a1, &p1);
    assert_int_equal(raw_register(&p1, 0, 0, NULL, 0), 0);
    agent_peer(&a2, &p2);
    assert_int_equal(raw_register(&p2, 0, 0, NULL, 0), 0);
    for (int i = 0; i < 6; i++) {
        snprintf(topic, sizeof(topic), "/e/p1/n%d", i);
        assert_int_equal(raw_add(&p1, true, (uint32_t)i, topic, why, sizeof(why)), 0);
    }
    /* The quota is the user's, across its processes: p2 gets what p1 left. */
    for (;; n2++) {
        snprintf(topic, sizeof(topic), "/e/p2/n%d", n2);
        if ((rc = raw_add(&p2, false, (uint32_t)n2, topic, why, sizeof(why))) != 0)
            break;
    }
    assert_int_equal(n2, 4);
    assert_int_equal(rc, -EDQUOT);
    assert_non_null(strstr(why, "--max-endpoints-per-uid"));
    assert_int_equal(
        raw_reply_to(&p1, raw_request(&p1, AGNOCAST_MSG_REMOVE_PUBLISHER, &rm, sizeof(rm), NULL, 0),
                     AGNOCAST_MSG_OK, why, sizeof(why)),
        0);
    assert_int_equal(raw_add(&p2, false, 99, "/e/again", why, sizeof(why)), 0);
    agent_peer_stop(&a2, &p2);
    agent_peer_stop(&a1, &p1);
}

/* Adds publishers on new topics until refused; reports "<added> <code> <1 if it named the
 * option>". */
static void topics_until_refused(int report, void *arg)
{
    char why[AGNOCAST_ERROR_TEXT_MAX] = "", topic[32];
    struct raw_peer p;
    int n = 0, rc = -EPIPE;

    raw_peer_init(&p, socket_connect(arg));
    if (p.fd >= 0 && raw_hello(&p) == 0 && raw_register(&p, 0, 0, NULL, 0) == 0)
        for (;; n++) {
            snprintf(topic, sizeof(topic), "/t/u%d/n%d", (int)getuid(), n);
            if ((rc = raw_add(&p, true, (uint32_t)n, topic, why, sizeof(why))) != 0)
                break;
        }
    dprintf(report, "%d %d %d\n", n, rc, strstr(why, "--max-topics-per-uid") != NULL);
}

static void test_quota_topics_per_uid(void **state)
{
    static const char *const args[] = {"--max-topics", "40", NULL};
    char why[AGNOCAST_ERROR_TEXT_MAX], line[64];
    int n = -1, rc = 0, named = 0;
    struct agent a;
    struct raw_peer p;
    struct other o;

    start(args);
    /* One member takes what it can: a quarter of --max-topics by default. */
    other_start(&o, topics_until_refused, broker.socket);
    other_read(&o, line, sizeof(line), 10000);
    assert_int_equal(sscanf(line, "%d %d %d", &n, &rc, &named), 3);
    print_message("greedy member: %d topics, then %d\n", n, rc);
    assert_int_equal(n, 10);
    assert_int_equal(rc, -EDQUOT);
    assert_int_equal(named, 1);
    if (separate_users()) {
        /* The others still create topics, and use the greedy one's: */
        agent_peer(&a, &p);
        assert_int_equal(raw_register(&p, 0, 0, NULL, 0), 0);
        for (int i = 0; i < 10; i++) {
            char topic[32];
            snprintf(topic, sizeof(topic), "/mine/n%d", i);
            assert_int_equal(raw_add(&p, true, (uint32_t)i, topic, why, sizeof(why)), 0);
        }
        /* ...a topic another user made counts for this user too, once it has an endpoint. */
        snprintf(line, sizeof(line), "/t/u%d/n0", NOBODY_UID);
        assert_int_equal(raw_add(&p, false, 0, line, why, sizeof(why)), -EDQUOT);
        /* A second endpoint on a topic it already uses is no new topic. */
        assert_int_equal(raw_add(&p, false, 1, "/mine/n0", why, sizeof(why)), 0);
        agent_peer_stop(&a, &p);
    }
    other_stop(&o);
}

/* FLOOD_CONN connections that never read, each flooding LIST_TOPICS until dropped; reports how
 * many were dropped. */
static void flood(int report, void *arg)
{
    static int fds[FLOOD_CONN];
    bool dead[FLOOD_CONN] = {false};
    union agnocast_frame_buffer buf;
    struct agnocast_wire_query qy;
    int alive = 0;
    uint64_t deadline = now_ms() + 30000;
    ssize_t n;

    memset(&qy, 0, sizeof(qy));
    n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_LIST_TOPICS, 1, &qy,
                              sizeof(qy));
    for (int i = 0; i < FLOOD_CONN; i++) {
        struct raw_peer p;
        raw_peer_init(&p, socket_connect(arg));
        fds[i] = p.fd;
        dead[i] = p.fd < 0 || raw_hello(&p) < 0;
        alive += !dead[i];
    }
    while (alive > 0 && now_ms() < deadline) {
        bool progress = false;
        for (int i = 0; i < FLOOD_CONN; i++) {
            for (int k = 0; k < 64 && !dead[i]; k++) {
                if (send(fds[i], buf.bytes, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n) {
                    progress = true;
                    continue;
                }
                if (errno != EAGAIN) {
                    dead[i] = true;
                    alive--;
                }
                break;
            }
        }
        if (!progress)
            usleep(1000);
    }
    dprintf(report, "%d\n", FLOOD_CONN - alive);
}

static void test_quota_queued_bytes_per_uid(void **state)
{
    char why[AGNOCAST_ERROR_TEXT_MAX], line[32], text[64];
    long base_kb, peak_kb, end_kb = 0;
    struct pollfd pf;
    struct agent a;
    struct raw_peer p;
    struct other o;
    uint64_t until;

    start(NULL);
    /* 120 topics: each LIST_TOPICS reply is about 32 kB. */
    agent_peer(&a, &p);
    assert_int_equal(raw_register(&p, 0, 0, NULL, 0), 0);
    for (int i = 0; i < 120; i++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "/flood/n%03d", i);
        assert_int_equal(raw_add(&p, true, (uint32_t)i, topic, why, sizeof(why)), 0);
    }
    base_kb = peak_kb = proc_rss_kb(broker.pid);
    other_start(&o, flood, broker.socket);
    pf = (struct pollfd){.fd = o.up, .events = POLLIN};
    while (poll(&pf, 1, 10) == 0) {
        long kb = proc_rss_kb(broker.pid);
        if (kb > peak_kb)
            peak_kb = kb;
    }
    other_read(&o, line, sizeof(line), 1000);
    /* Dropped connections give their memory back (allow malloc's free lists a little). */
    for (until = now_ms() + 3000; now_ms() < until; usleep(50 * 1000))
        if ((end_kb = proc_rss_kb(broker.pid)) < base_kb + 16 * 1024)
            break;
    print_message("%d connections of one user flooding without reading: %s dropped; broker RSS "
                  "%ld kB -> peak %ld kB -> %ld kB\n",
                  FLOOD_CONN, strtok(line, "\n"), base_kb, peak_kb, end_kb);
    assert_int_equal(atoi(line), FLOOD_CONN);
#if defined(__SANITIZE_ADDRESS__)
    /* The broker of this build runs under AddressSanitizer, whose quarantine keeps freed memory
     * (256 MiB by default) and whose shadow grows with it: its RSS says nothing about the
     * broker's own accounting. The bounds are checked in the normal build's run. */
    print_message("RSS bounds not checked: the broker runs under AddressSanitizer\n");
#else
    /* The default quota is 64 MiB for all of the user's connections together. */
    assert_true(peak_kb < base_kb + 112 * 1024);
    assert_true(end_kb < base_kb + 16 * 1024);
#endif
    snprintf(text, sizeof(text), "(uid %u): uid %u would hold more than",
             separate_users() ? NOBODY_UID : (unsigned)getuid(),
             separate_users() ? NOBODY_UID : (unsigned)getuid());
    assert_true(broker_log_has(&broker, text));
    assert_true(broker_log_has(&broker, "--max-queued-bytes-per-uid"));
    other_stop(&o);
    /* The broker still serves. */
    assert_int_equal(raw_add(&p, false, 0, "/flood/n000", why, sizeof(why)), 0);
    agent_peer_stop(&a, &p);
}

/* --- identity and refusals ------------------------------------------------------------------ */

static void test_quota_register_comes_from_the_process_that_connected(void **state)
{
    char why[AGNOCAST_ERROR_TEXT_MAX], text[128], token[16];
    int sv[2], fd = -1, nfds = 1, status;
    struct raw_peer p, own;
    pid_t child;

    start(NULL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* Connects, hands the socket to its parent, exits. */
        int c = socket_connect(broker.socket);
        _exit(c >= 0 && agnocast_proto_send(sv[1], "connected.......", 16, &c, 1) == 0 ? 0 : 1);
    }
    assert_int_equal(agnocast_proto_recv(sv[0], token, sizeof(token), &fd, &nfds), 16);
    assert_int_equal(nfds, 1);
    assert_int_equal(waitpid(child, &status, 0), child);
    close(sv[0]);
    close(sv[1]);

    raw_peer_init(&p, fd);
    assert_int_equal(raw_hello(&p), 0);
    assert_int_equal(raw_register(&p, 0, 0, why, sizeof(why)), -EPERM);
    print_message("handed-over socket: %s\n", why);
    snprintf(text, sizeof(text),
             "this connection was opened by process %d but REGISTER_PROCESS comes from %d; each "
             "process connects itself",
             (int)child, (int)getpid());
    assert_string_equal(why, text);
    raw_peer_close(&p);
    /* On its own connection this process registers. */
    raw_peer_init(&own, socket_connect(broker.socket));
    assert_int_equal(raw_hello(&own), 0);
    assert_int_equal(raw_register(&own, 0, 0, why, sizeof(why)), 0);
    assert_int_equal(own.range.pid, (uint32_t)getpid());
    raw_peer_close(&own);
}

/* Runs the examples' listener against the broker; returns its exit status, stderr in `err`. */
static int run_listener(char *err, size_t cap)
{
    const char *exe = getenv("AGNOCAST_TEST_LISTENER");
    int p[2], status;
    size_t n = 0;
    ssize_t got;
    pid_t pid;

    assert_non_null(exe);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(p[1], 2);
        setenv("AGNOCAST_SOCKET", broker.socket, 1);
        execl(exe, exe, "--count", "1", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    for (;;) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        if (poll(&pf, 1, 10000) != 1) {
            kill(pid, SIGKILL); /* it got in and waits for a message: fail, do not hang */
            break;
        }
        if (n + 1 >= cap || (got = read(p[0], err + n, cap - 1 - n)) <= 0)
            break;
        n += (size_t)got;
    }
    err[n] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_quota_refused_connection_reads_the_reason(void **state)
{
    static const char *const args[] = {"--max-connections-per-uid", "2", NULL};
    struct agnocast_wire_hello h = {0};
    const struct agnocast_wire_error *e;
    struct raw_peer held[2], late, silent;
    struct raw_reply r;
    char err[4096];
    uint64_t t0;
    uint32_t id;
    int status;

    start(args);
    for (int i = 0; i < 2; i++) {
        raw_peer_init(&held[i], socket_connect(broker.socket));
        assert_int_equal(raw_hello(&held[i]), 0);
    }
    /* Refused: it may still say HELLO, however late, and reads why in the reply. */
    raw_peer_init(&late, socket_connect(broker.socket));
    assert_true(late.fd >= 0);
    usleep(300 * 1000);
    id = raw_request(&late, AGNOCAST_MSG_HELLO, &h, sizeof(h), NULL, 0);
    assert_int_not_equal(id, 0);
    assert_true(raw_recv(&late, &r, false) > 0);
    assert_int_equal(r.f.kind, AGNOCAST_MSG_ERROR);
    assert_int_equal(r.f.request_id, id);
    e = r.f.payload;
    assert_int_equal(e->code, -EUSERS);
    assert_non_null(strstr(e->message, "--max-connections-per-uid"));
    assert_int_equal(raw_recv(&late, &r, false), 0);
    raw_peer_close(&late);
    /* One that says nothing is told anyway, then closed. */
    t0 = now_ms();
    raw_peer_init(&silent, socket_connect(broker.socket));
    assert_true(raw_recv(&silent, &r, false) > 0);
    assert_int_equal(r.f.kind, AGNOCAST_MSG_ERROR);
    assert_int_equal(r.f.request_id, 0);
    assert_int_equal(raw_recv(&silent, &r, false), 0);
    assert_true(now_ms() - t0 < 4000);
    raw_peer_close(&silent);

    /* Through the library: the reason, not "Broken pipe". */
    status = run_listener(err, sizeof(err));
    print_message("listener: %s", err);
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(err, "--max-connections-per-uid"));
    assert_null(strstr(err, "Broken pipe"));
    for (int i = 0; i < 2; i++)
        raw_peer_close(&held[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_quota_report_occupied_names_one_range_of_a_live_process,
                                  broker_teardown),
        cmocka_unit_test_teardown(test_quota_no_range_left_does_not_say_want_base_0,
                                  broker_teardown),
        cmocka_unit_test_teardown(test_quota_address_space_per_uid, broker_teardown),
        cmocka_unit_test_teardown(test_quota_processes_per_uid, broker_teardown),
        cmocka_unit_test_teardown(test_quota_endpoints_per_uid, broker_teardown),
        cmocka_unit_test_teardown(test_quota_topics_per_uid, broker_teardown),
        cmocka_unit_test_teardown(test_quota_queued_bytes_per_uid, broker_teardown),
        cmocka_unit_test_teardown(test_quota_register_comes_from_the_process_that_connected,
                                  broker_teardown),
        cmocka_unit_test_teardown(test_quota_refused_connection_reads_the_reason, broker_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("quota", tests, NULL, NULL);
}
