/*
 * Hostile clients next to a well-behaved pair: garbage, truncated and oversized frames, hundreds
 * of connections, topics without end, a request flood that never reads, and a client acting
 * for another. Through all of it the examples' talker and listener keep exchanging messages and
 * agnocastctl keeps answering.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
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

#define MAX_TOPICS  400
#define NOBODY_UID  65534
#define ATTACK_CONN 300

struct world {
    struct broker b;
    pid_t talker, listener;
    int listener_out; /* its stdout: the --json summary */
};

/* The global topic limit is what these tests reach; test-quota.c covers the per-user one. */
static const char *const broker_args[] = {"--max-topics", "400", "--max-topics-per-uid", "400",
                                          NULL};

static pid_t spawn_example(const char *env, char *const extra[], int *out)
{
    const char *exe = getenv(env);
    char *argv[16];
    int p[2] = {-1, -1}, n = 0;
    pid_t pid;

    assert_non_null(exe);
    argv[n++] = (char *)exe;
    for (int i = 0; extra[i] != NULL; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (out != NULL)
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(out != NULL ? p[1] : devnull, 1);
        if (getenv("AGNOCAST_TEST_VERBOSE") == NULL)
            dup2(devnull, 2);
        execv(exe, argv);
        _exit(127);
    }
    if (out != NULL) {
        close(p[1]);
        *out = p[0];
    }
    return pid;
}

/* agnocastctl list-topics answers and shows the pair's topic. */
static void assert_ctl_answers(struct world *w)
{
    const char *ctl = getenv("AGNOCAST_TEST_CTL");
    char out[1 << 16];
    size_t n = 0;
    ssize_t got;
    int p[2], status;
    pid_t pid;

    assert_non_null(ctl);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        execl(ctl, ctl, "--socket", w->b.socket, "list-topics", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    while (n + 1 < sizeof(out) && (got = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("agnocastctl list-topics failed (status 0x%x): %s", status, out);
    assert_non_null(strstr(out, "/chatter"));
}

static int world_setup(void **state)
{
    static struct world w;
    char *largs[] = {"--json", NULL};
    char *targs[] = {"--rate", "100", "--size", "256", NULL};

    raise_nofile();
    assert_int_equal(broker_start(&w.b, broker_args), 0);
    setenv("AGNOCAST_SOCKET", w.b.socket, 1);
    w.listener = spawn_example("AGNOCAST_TEST_LISTENER", largs, &w.listener_out);
    usleep(300 * 1000);
    w.talker = spawn_example("AGNOCAST_TEST_TALKER", targs, NULL);
    usleep(500 * 1000);
    *state = &w;
    return 0;
}

static int world_teardown(void **state)
{
    struct world *w = *state;

    if (w->talker > 0) {
        kill(w->talker, SIGKILL);
        waitpid(w->talker, NULL, 0);
    }
    if (w->listener > 0) {
        kill(w->listener, SIGKILL);
        waitpid(w->listener, NULL, 0);
    }
    broker_cleanup(&w->b);
    return 0;
}

static int connected_peer(struct world *w, struct raw_peer *p)
{
    raw_peer_init(p, socket_connect(w->b.socket));
    return p->fd >= 0 && raw_hello(p) == 0 ? 0 : -1;
}

static void expect_dropped(struct raw_peer *p)
{
    struct raw_reply r;
    ssize_t n;

    /* Whatever was queued, then end of file. */
    while ((n = raw_recv(p, &r, false)) > 0)
        ;
    assert_int_equal(n, 0);
}

static void test_hostile_bad_frames_drop_only_the_sender(void **state)
{
    struct world *w = *state;
    union agnocast_frame_buffer buf;
    struct agnocast_wire_register reg = {0};
    struct agnocast_wire_ok ok = {0};
    static unsigned char big[AGNOCAST_PROTO_FRAME_MAX + 4096];
    struct raw_peer p;
    ssize_t n;

    /* Garbage. */
    assert_int_equal(connected_peer(w, &p), 0);
    assert_true(send(p.fd, "\x01\x02garbage\xff\x1b[31m", 13, 0) == 13);
    expect_dropped(&p);
    raw_peer_close(&p);

    /* Truncated: a REGISTER_PROCESS cut after 20 bytes, its header still claiming 24. */
    assert_int_equal(connected_peer(w, &p), 0);
    n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_REGISTER_PROCESS, 9, &reg,
                              sizeof(reg));
    assert_true(n > 20);
    assert_true(send(p.fd, buf.bytes, 20, 0) == 20);
    expect_dropped(&p);
    raw_peer_close(&p);

    /* A header alone, shorter than a header, and an empty datagram. */
    assert_int_equal(connected_peer(w, &p), 0);
    assert_true(send(p.fd, buf.bytes, 10, 0) == 10);
    expect_dropped(&p);
    raw_peer_close(&p);

    /* Oversized: more than a frame may hold, in one datagram. */
    assert_int_equal(connected_peer(w, &p), 0);
    memcpy(big, buf.bytes, 16);
    assert_true(send(p.fd, big, sizeof(big), 0) == (ssize_t)sizeof(big));
    expect_dropped(&p);
    raw_peer_close(&p);

    /* A reply kind sent as a request. */
    assert_int_equal(connected_peer(w, &p), 0);
    assert_true(raw_request(&p, AGNOCAST_MSG_OK, &ok, sizeof(ok), NULL, 0) != 0);
    expect_dropped(&p);
    raw_peer_close(&p);

    assert_ctl_answers(w);
    assert_true(broker_log_has(&w->b, "malformed frame"));
    assert_true(broker_log_has(&w->b, "over 65536 bytes"));
}

/* The attacker: opens ATTACK_CONN connections, says HELLO on each, reports "accepted refused". */
static int attacker(int report, int go, bool as_nobody, const char *path)
{
    static int fds[ATTACK_CONN];
    int accepted = 0, refused = 0, mentions = 0;
    char c;

    if (as_nobody && (setgid(NOBODY_UID) < 0 || setuid(NOBODY_UID) < 0))
        return 3;
    for (int i = 0; i < ATTACK_CONN; i++)
        fds[i] = socket_connect(path);
    for (int i = 0; i < ATTACK_CONN; i++) {
        struct raw_peer p;
        struct raw_reply r;
        if (fds[i] < 0)
            continue;
        raw_peer_init(&p, fds[i]);
        raw_request(&p, AGNOCAST_MSG_HELLO, &(struct agnocast_wire_hello){0},
                    sizeof(struct agnocast_wire_hello), NULL, 0);
        if (raw_recv(&p, &r, false) <= 0)
            continue;
        if (r.f.kind == AGNOCAST_MSG_HELLO_REPLY) {
            accepted++;
        } else if (r.f.kind == AGNOCAST_MSG_ERROR) {
            const struct agnocast_wire_error *e = r.f.payload;
            refused++;
            if (e->code == -EUSERS && strstr(e->message, "--max-connections-per-uid"))
                mentions++;
        }
    }
    dprintf(report, "%d %d %d\n", accepted, refused, mentions);
    /* Hold the connections until the parent has checked that others are still served. */
    if (read(go, &c, 1) < 0)
        return 4;
    return 0;
}

static void test_hostile_many_connections_hit_the_per_uid_limit(void **state)
{
    struct world *w = *state;
    bool as_nobody = geteuid() == 0;
    int up[2], down[2], accepted = -1, refused = -1, mentions = -1, status;
    char line[64] = "";
    struct pollfd pf;
    pid_t pid;

    assert_int_equal(pipe(up), 0);
    assert_int_equal(pipe(down), 0);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(up[0]);
        close(down[1]);
        _exit(attacker(up[1], down[0], as_nobody, w->b.socket));
    }
    close(up[1]);
    close(down[0]);
    pf = (struct pollfd){.fd = up[0], .events = POLLIN};
    assert_int_equal(poll(&pf, 1, 15000), 1);
    assert_true(read(up[0], line, sizeof(line) - 1) > 0);
    assert_int_equal(sscanf(line, "%d %d %d", &accepted, &refused, &mentions), 3);
    /* While the attacker holds every connection it got, others are served. */
    assert_ctl_answers(w);
    close(down[1]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(up[0]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    print_message("300 connections from one process (%s): %d accepted, %d refused\n",
                  as_nobody ? "uid nobody" : "this uid", accepted, refused);
    assert_int_equal(accepted + refused, ATTACK_CONN);
    assert_int_equal(refused, mentions);
    if (as_nobody)
        assert_int_equal(accepted, 256); /* the default --max-connections-per-uid */
    else
        assert_true(accepted <= 256 && refused >= ATTACK_CONN - 256);
    assert_ctl_answers(w);
}

/* Adds publishers on new topics until refused; returns how many were added. */
static int add_until_refused(struct raw_peer *p, const char *prefix, char *why, size_t cap,
                             int *code)
{
    for (int i = 0; i < 100000; i++) {
        char topic[64];
        snprintf(topic, sizeof(topic), "/%s/t%d", prefix, i);
        *code = raw_add(p, true, (uint32_t)i, topic, why, cap);
        if (*code != 0)
            return i;
    }
    return -1;
}

static void test_hostile_topics_without_end_hit_the_limits(void **state)
{
    struct world *w = *state;
    char why[AGNOCAST_ERROR_TEXT_MAX];
    struct agent a1, a2;
    struct raw_peer p1, p2, q;
    int code, n1, n2;

    assert_int_equal(agent_start(&a1), 0);
    assert_int_equal(agent_start(&a2), 0);
    raw_peer_init(&p1, agent_connect(&a1, w->b.socket));
    raw_peer_init(&p2, agent_connect(&a2, w->b.socket));
    assert_int_equal(raw_hello(&p1), 0);
    assert_int_equal(raw_register(&p1, 0, 0, NULL, 0), 0);
    assert_int_equal(raw_hello(&p2), 0);
    assert_int_equal(raw_register(&p2, 0, 0, NULL, 0), 0);

    n1 = add_until_refused(&p1, "spam1", why, sizeof(why), &code);
    assert_int_equal(n1, 256); /* the default --max-endpoints */
    assert_int_equal(code, -ENOSPC);
    assert_non_null(strstr(why, "--max-endpoints"));
    n2 = add_until_refused(&p2, "spam2", why, sizeof(why), &code);
    assert_int_equal(code, -ENOSPC);
    assert_non_null(strstr(why, "--max-topics"));
    assert_int_equal(n1 + n2 + 1, MAX_TOPICS); /* + the pair's /chatter */
    print_message("topics without end: refused after %d + %d endpoints (%d topics)\n", n1, n2,
                  MAX_TOPICS);

    assert_ctl_answers(w);
    assert_int_equal(connected_peer(w, &q), 0);
    assert_int_equal(raw_list_total(&q, AGNOCAST_MSG_LIST_TOPICS), MAX_TOPICS);
    raw_peer_close(&p1);
    raw_peer_close(&p2);
    agent_stop(&a1);
    agent_stop(&a2);
    for (int i = 0; i < 100 && raw_list_total(&q, AGNOCAST_MSG_LIST_TOPICS) != 1; i++)
        usleep(20 * 1000);
    assert_int_equal(raw_list_total(&q, AGNOCAST_MSG_LIST_TOPICS), 1);
    raw_peer_close(&q);
}

static void test_hostile_flood_without_reading_is_dropped(void **state)
{
    struct world *w = *state;
    struct agnocast_wire_query qy;
    union agnocast_frame_buffer buf;
    struct raw_peer p;
    long sent = 0, rss_before = proc_rss_kb(w->b.pid);
    struct timespec start, end;
    bool dropped = false;
    ssize_t n;

    memset(&qy, 0, sizeof(qy));
    n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_LIST_TOPICS, 1, &qy,
                              sizeof(qy));
    assert_true(n > 0);
    assert_int_equal(connected_peer(w, &p), 0);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int spins = 0; spins < 20000 && !dropped;) {
        if (send(p.fd, buf.bytes, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n) {
            sent++;
            continue;
        }
        if (errno == EAGAIN) {
            struct pollfd pf = {.fd = p.fd, .events = POLLOUT};
            poll(&pf, 1, 1);
            spins++;
            continue;
        }
        dropped = errno == EPIPE || errno == ECONNRESET;
        break;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    print_message("flood: dropped=%d after %ld requests in %.2f s; broker RSS %ld kB -> %ld kB\n",
                  dropped, sent,
                  (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9,
                  rss_before, proc_rss_kb(w->b.pid));
    assert_true(dropped);
    assert_true(broker_log_has(&w->b, "does not read its socket"));
    raw_peer_close(&p);
    assert_ctl_answers(w);
}

static void test_hostile_cannot_act_for_another(void **state)
{
    struct world *w = *state;
    struct agnocast_wire_endpoint_remove rm = {.index = 0};
    struct agnocast_wire_query qy;
    char why[AGNOCAST_ERROR_TEXT_MAX];
    struct agent a_owner, a_other;
    struct raw_peer owner, other, anon;
    struct raw_reply r;
    uint32_t id;

    assert_int_equal(agent_start(&a_owner), 0);
    assert_int_equal(agent_start(&a_other), 0);
    raw_peer_init(&owner, agent_connect(&a_owner, w->b.socket));
    raw_peer_init(&other, agent_connect(&a_other, w->b.socket));
    assert_int_equal(raw_hello(&owner), 0);
    assert_int_equal(raw_register(&owner, 0, 0, NULL, 0), 0);
    assert_int_equal(raw_add(&owner, true, 0, "/mine", NULL, 0), 0);
    assert_int_equal(raw_hello(&other), 0);
    assert_int_equal(raw_register(&other, 0, 0, NULL, 0), 0);
    assert_int_equal(connected_peer(w, &anon), 0);

    /* Removal acts on the sender's own process: another process has no such endpoint... */
    id = raw_request(&other, AGNOCAST_MSG_REMOVE_PUBLISHER, &rm, sizeof(rm), NULL, 0);
    assert_true(raw_recv(&other, &r, true) > 0 && r.f.request_id == id);
    assert_int_equal(r.f.kind, AGNOCAST_MSG_ERROR);
    assert_int_equal(((const struct agnocast_wire_error *)r.f.payload)->code, -ENOENT);
    /* ...and an unregistered connection has no process at all. */
    id = raw_request(&anon, AGNOCAST_MSG_REMOVE_PUBLISHER, &rm, sizeof(rm), NULL, 0);
    assert_true(raw_recv(&anon, &r, true) > 0 && r.f.request_id == id);
    assert_int_equal(((const struct agnocast_wire_error *)r.f.payload)->code, -EPERM);
    /* A live process's range cannot be claimed by another. */
    assert_int_equal(raw_register(&anon, 0, owner.range.base, why, sizeof(why)), -EADDRINUSE);

    /* The owner's publisher is still there, under the owner's pid. */
    memset(&qy, 0, sizeof(qy));
    assert_int_equal(agnocast_topic_field_set(qy.topic, "/mine"), 0);
    id = raw_request(&anon, AGNOCAST_MSG_TOPIC_INFO, &qy, sizeof(qy), NULL, 0);
    assert_true(raw_recv(&anon, &r, true) > 0 && r.f.request_id == id);
    assert_int_equal(r.f.kind, AGNOCAST_MSG_TOPIC_INFO_REPLY);
    assert_int_equal(r.f.list_count, 1);
    assert_int_equal(((const struct agnocast_wire_endpoint_entry *)r.f.entries)[0].pid,
                     a_owner.pid);
    raw_peer_close(&owner);
    raw_peer_close(&other);
    raw_peer_close(&anon);
    agent_stop(&a_owner);
    agent_stop(&a_other);
}

static void test_hostile_pair_kept_exchanging(void **state)
{
    struct world *w = *state;
    unsigned long long received = 0, missed = 0, corrupt = 1;
    char out[1024] = "";
    struct pollfd pf = {.fd = w->listener_out, .events = POLLIN};
    int status;
    size_t n = 0;
    ssize_t got;

    assert_int_equal(waitpid(w->talker, &status, WNOHANG), 0); /* still running */
    kill(w->talker, SIGINT);
    waitpid(w->talker, &status, 0);
    w->talker = 0;
    usleep(200 * 1000);
    kill(w->listener, SIGINT);
    while (n + 1 < sizeof(out) && poll(&pf, 1, 5000) == 1 &&
           (got = read(w->listener_out, out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    waitpid(w->listener, &status, 0);
    w->listener = 0;
    close(w->listener_out);
    print_message("listener: %s", out);
    assert_int_equal(sscanf(out, "{\"received\": %llu, \"missed\": %llu, \"corrupt\": %llu",
                            &received, &missed, &corrupt),
                     3);
    assert_true(received > 0);
    assert_int_equal(corrupt, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_bad_frames_drop_only_the_sender),
        cmocka_unit_test(test_hostile_many_connections_hit_the_per_uid_limit),
        cmocka_unit_test(test_hostile_topics_without_end_hit_the_limits),
        cmocka_unit_test(test_hostile_flood_without_reading_is_dropped),
        cmocka_unit_test(test_hostile_cannot_act_for_another),
        cmocka_unit_test(test_hostile_pair_kept_exchanging),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("hostile", tests, world_setup, world_teardown);
}
