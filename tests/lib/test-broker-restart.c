/* SIGKILL of the broker mid-stream: messages keep flowing, clients re-register on their own. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"

#define TOPIC "/restart/topic"

static struct broker broker;
static struct role pub, sub, late;

/* Publishes one small message every millisecond until told "quit". */
static int publisher_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *p;
    char line[32];
    uint64_t seq = 0;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 || agnocast_publisher_new(ctx, TOPIC, 100, 0, &p) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "ready");
    while (recv_line(in, line, sizeof(line), 1) < 0 || strcmp(line, "quit") != 0) {
        uint64_t *m;
        if (agnocast_publisher_loan(p, 64, (void **)&m) == 0) {
            m[0] = ++seq;
            m[1] = ~seq;
            agnocast_publisher_publish(p, m);
        }
    }
    agnocast_publisher_free(p);
    agnocast_context_free(ctx);
    return 0;
}

struct counts {
    uint64_t received, corrupt;
};

static void on_message(struct agnocast_subscription *s, struct agnocast_message *msg, void *ud)
{
    struct counts *c = ud;
    const uint64_t *m = agnocast_message_data(msg);

    (void)s;
    c->received++;
    if (agnocast_message_size(msg) != 64 || m[1] != ~m[0] || m[0] != agnocast_message_sequence(msg))
        c->corrupt++;
}

/* Answers "count" with "count RECEIVED CORRUPT"; "quit" ends. */
static int subscriber_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *s;
    struct counts c = {0};
    char line[32];

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, TOPIC, 100, 0, on_message, &c, &s) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "joined");
    for (;;) {
        agnocast_context_spin(ctx, 10);
        if (recv_line(in, line, sizeof(line), 1) < 0)
            continue;
        if (!strcmp(line, "quit"))
            break;
        if (!strcmp(line, "count"))
            send_line(out, "count %" PRIu64 " %" PRIu64, c.received, c.corrupt);
    }
    agnocast_subscription_free(s);
    agnocast_context_free(ctx);
    return 0;
}

static void counts_of(struct role *r, uint64_t *received, uint64_t *corrupt)
{
    char line[64];

    send_line(r->to_child, "count");
    assert_true(recv_line(r->from_child, line, sizeof(line), 5000) >= 0);
    assert_int_equal(sscanf(line, "count %" SCNu64 " %" SCNu64, received, corrupt), 2);
}

static void expect(struct role *r, const char *want)
{
    char line[256];

    assert_true(recv_line(r->from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, want);
}

static int ctl(const char *cmd, const char *arg, char *out, size_t cap)
{
    char *argv[] = {getenv("AGNOCAST_TEST_CTL"), (char *)cmd, (char *)arg, "--json", NULL};

    if (!arg) {
        argv[2] = "--json";
        argv[3] = NULL;
    }
    return run_capture(argv, out, cap);
}

static bool lists_pid(const char *json, pid_t pid)
{
    char needle[32];

    snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)pid);
    return strstr(json, needle) != NULL;
}

static int setup(void **state)
{
    (void)state;
    memset(&pub, 0, sizeof(pub));
    memset(&sub, 0, sizeof(sub));
    memset(&late, 0, sizeof(late));
    return broker_start(&broker, NULL);
}

static int teardown(void **state)
{
    (void)state;
    if (pub.pid > 0)
        kill(pub.pid, SIGKILL);
    if (sub.pid > 0)
        kill(sub.pid, SIGKILL);
    if (late.pid > 0)
        kill(late.pid, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    broker_stop(&broker);
    return 0;
}

static void test_broker_restart_exchange_goes_on(void **state)
{
    char before[8192], after[8192], info[8192];
    uint64_t r0, r1, r2, r3, corrupt, lr, lc;
    uint64_t deadline;

    (void)state;
    assert_int_equal(role_start(&sub, subscriber_role, NULL), 0);
    expect(&sub, "joined");
    assert_int_equal(role_start(&pub, publisher_role, NULL), 0);
    expect(&pub, "ready");
    usleep(200000);
    counts_of(&sub, &r0, &corrupt);
    assert_true(r0 > 0);
    assert_int_equal(ctl("list-topics", NULL, before, sizeof(before)), 0);

    /* The broker dies: the message path does not notice. */
    broker_signal(&broker, SIGKILL);
    counts_of(&sub, &r1, &corrupt);
    usleep(300000);
    counts_of(&sub, &r2, &corrupt);
    assert_true(r2 > r1 + 50);

    /* It comes back: both clients re-register without being told, and the picture is the same. */
    assert_int_equal(broker_restart(&broker, NULL), 0);
    deadline = now_ms() + 5000;
    for (;;) {
        int st = ctl("topic-info", TOPIC, info, sizeof(info));
        if (st == 0 && lists_pid(info, pub.pid) && lists_pid(info, sub.pid))
            break;
        assert_true(now_ms() < deadline);
        usleep(50000);
    }
    assert_int_equal(ctl("list-topics", NULL, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    counts_of(&sub, &r3, &corrupt);
    assert_true(r3 > r2);
    assert_int_equal(corrupt, 0);

    /* New endpoints work afterwards. */
    assert_int_equal(role_start(&late, subscriber_role, NULL), 0);
    expect(&late, "joined");
    deadline = now_ms() + 5000;
    do {
        usleep(50000);
        counts_of(&late, &lr, &lc);
    } while (lr == 0 && now_ms() < deadline);
    assert_true(lr > 0);
    assert_int_equal(lc, 0);

    send_line(late.to_child, "quit");
    assert_int_equal(role_wait(&late), 0);
    late.pid = 0;
    send_line(sub.to_child, "quit");
    assert_int_equal(role_wait(&sub), 0);
    sub.pid = 0;
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&pub), 0);
    pub.pid = 0;
}

/* While the broker is away, a new endpoint fails at once with an error that says so. */
static int orphan_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *p;
    char line[32];
    int r;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0)
        return 1;
    send_line(out, "ready");
    recv_line(in, line, sizeof(line), 10000);
    r = agnocast_publisher_new(ctx, "/restart/new", 1, 0, &p);
    send_line(out, "%d %s", r, agnocast_last_error());
    agnocast_context_free(ctx);
    return 0;
}

static void test_broker_restart_new_endpoint_while_down(void **state)
{
    char line[512];

    (void)state;
    assert_int_equal(role_start(&pub, orphan_role, NULL), 0);
    expect(&pub, "ready");
    broker_signal(&broker, SIGKILL);
    usleep(100000);
    send_line(pub.to_child, "go");
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(atoi(line), -ENOTCONN);
    assert_non_null(strstr(line, "broker"));
    assert_int_equal(role_wait(&pub), 0);
    pub.pid = 0;
    assert_int_equal(broker_restart(&broker, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_broker_restart_exchange_goes_on, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_restart_new_endpoint_while_down, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
