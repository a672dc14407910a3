/* Broker + publisher process + subscriber process: shared mapping, read-only peers, clean-up. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"
#include "reachable.h"

#define TOPIC   "/mp/topic"
#define PAYLOAD "hello from the publisher"

static int publisher_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[64], *msg;
    void *base;
    size_t size;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 || agnocast_publisher_new(ctx, TOPIC, 10, 0, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    agnocast_context_segment(ctx, &base, &size);
    send_line(out, "ready %p", base);
    /* Publish until told to stop, so a subscriber joining at any time gets one. */
    while (recv_line(in, line, sizeof(line), 20) < 0 || strcmp(line, "quit") != 0) {
        if (agnocast_publisher_loan(pub, sizeof(PAYLOAD), (void **)&msg) == 0) {
            memcpy(msg, PAYLOAD, sizeof(PAYLOAD));
            agnocast_publisher_publish(pub, msg);
        }
    }
    agnocast_publisher_free(pub);
    agnocast_context_free(ctx);
    return 0;
}

static int subscriber_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct agnocast_message *msg = NULL;
    uint64_t deadline = now_ms() + 5000;
    char line[64];
    int status;
    pid_t writer;
    const void *data;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, TOPIC, 10, 0, NULL, NULL, &sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    while (agnocast_subscription_take(sub, &msg) != 1 && now_ms() < deadline)
        usleep(1000);
    if (!msg || strcmp(agnocast_message_data(msg), PAYLOAD) != 0) {
        send_line(out, "error no message");
        return 1;
    }
    send_line(out, "got %p", agnocast_message_data(msg));
    /* A write into the publisher's segment must fault: try it in a child. The address is taken
     * here: in the child every call on the inherited handle answers as after fork (NULL). */
    data = agnocast_message_data(msg);
    writer = fork();
    if (writer == 0) {
        signal(SIGSEGV, SIG_DFL); /* not the test runner's handler: die of it */
        *(volatile char *)data = 'X';
        _exit(0);
    }
    waitpid(writer, &status, 0);
    send_line(out, "writer %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    agnocast_message_release(msg);
    while (recv_line(in, line, sizeof(line), 60000) >= 0 && strcmp(line, "quit") != 0)
        ;
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
    return 0;
}

static char *ctl_exe(void)
{
    return getenv("AGNOCAST_TEST_CTL");
}

/* topic-info --json for TOPIC into out; the exit status. */
static int topic_info(char *out, size_t cap)
{
    char *argv[] = {ctl_exe(), "topic-info", TOPIC, "--json", NULL};

    return run_capture(argv, out, cap);
}

static bool lists_pid(const char *json, pid_t pid)
{
    char needle[32];

    snprintf(needle, sizeof(needle), "\"pid\":%d,", (int)pid);
    return strstr(json, needle) != NULL;
}

/* Waits until topic-info no longer lists pid; returns the milliseconds it took or -1. */
static int wait_gone_from_topic(pid_t pid, int limit_ms)
{
    char out[8192];
    uint64_t start = now_ms();

    while ((int)(now_ms() - start) <= limit_ms) {
        int st = topic_info(out, sizeof(out));
        if (st != 0 || !lists_pid(out, pid))
            return (int)(now_ms() - start);
        usleep(20000);
    }
    return -1;
}

static struct broker b;
static struct role pub, sub;

static int scenario_setup(void **state)
{
    (void)state;
    memset(&pub, 0, sizeof(pub));
    memset(&sub, 0, sizeof(sub));
    return broker_start(&b, NULL);
}

/* Runs even when an assertion failed: no process or directory outlives the test. */
static int scenario_teardown(void **state)
{
    (void)state;
    if (pub.pid > 0)
        kill(pub.pid, SIGKILL);
    if (sub.pid > 0)
        kill(sub.pid, SIGKILL);
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return broker_stop(&b) == 0 ? 0 : -1;
}

static void scenario(bool kill_publisher)
{
    char line[256], perms[8], path[256], out[8192];
    void *base = NULL, *got = NULL;
    int sig = 0, waited;

    assert_int_equal(role_start(&pub, publisher_role, NULL), 0);
    assert_true(recv_line(pub.from_child, line, sizeof(line), 5000) > 0);
    assert_int_equal(sscanf(line, "ready %p", &base), 1);
    assert_int_equal(role_start(&sub, subscriber_role, NULL), 0);
    assert_true(recv_line(sub.from_child, line, sizeof(line), 10000) > 0);
    assert_int_equal(sscanf(line, "got %p", &got), 1);

    /* Same address, read-only in the subscriber, writable in the publisher. */
    assert_int_equal(find_mapping(sub.pid, (uintptr_t)got, perms, path, sizeof(path)), 0);
    assert_string_equal(perms, "r--s");
    snprintf(line, sizeof(line), "agnocast@%d", (int)pub.pid);
    assert_non_null(strstr(path, line));
    assert_int_equal(find_mapping(pub.pid, (uintptr_t)got, perms, path, sizeof(path)), 0);
    assert_string_equal(perms, "rw-s");
    assert_true((uintptr_t)got >= (uintptr_t)base);
    assert_true(recv_line(sub.from_child, line, sizeof(line), 5000) > 0);
    assert_int_equal(sscanf(line, "writer %d", &sig), 1);
    assert_int_equal(sig, SIGSEGV);

    /* The operator sees both. */
    {
        char *argv[] = {ctl_exe(), "list-topics", "--json", NULL};
        assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "\"name\":\"" TOPIC "\",\"publishers\":1,\"subscriptions\":1"));
    }
    assert_int_equal(topic_info(out, sizeof(out)), 0);
    assert_true(lists_pid(out, pub.pid));
    assert_true(lists_pid(out, sub.pid));

    /* SIGKILL one side: it leaves the registry within a second and leaves no names behind. */
    {
        struct role *victim = kill_publisher ? &pub : &sub;
        struct role *other = kill_publisher ? &sub : &pub;
        pid_t vpid = victim->pid;
        kill(vpid, SIGKILL);
        assert_int_equal(role_wait(victim), 128 + SIGKILL);
        victim->pid = 0;
        waited = wait_gone_from_topic(vpid, 1000);
        assert_true(waited >= 0);
        /* The broker unlinks the names right when it notices; give it the same second. */
        for (int i = 0; i < 50 && (shm_name_exists(vpid) || mq_name_exists(vpid)); i++)
            usleep(20000);
        assert_false(shm_name_exists(vpid));
        assert_false(mq_name_exists(vpid));
        /* The survivor is still there and still registered. */
        assert_int_equal(topic_info(out, sizeof(out)), 0);
        assert_true(lists_pid(out, other->pid));
        send_line(other->to_child, "quit");
        assert_int_equal(role_wait(other), 0);
        other->pid = 0;
        assert_false(shm_name_exists(other->pid));
        assert_false(mq_name_exists(other->pid));
    }
}

static void test_multiprocess_publisher_killed(void **state)
{
    (void)state;
    scenario(true);
}

static void test_multiprocess_subscriber_killed(void **state)
{
    (void)state;
    scenario(false);
}

/* The same scenario as an ordinary user: nothing here may need root. */
static void test_multiprocess_unprivileged(void **state)
{
    struct passwd *pw;
    pid_t child;
    int status;

    (void)state;
    if (geteuid() != 0) {
        /* Already unprivileged: the two tests above ran as this user. */
        skip();
    }
    pw = getpwnam(getenv("AGNOCAST_TEST_USER") ? getenv("AGNOCAST_TEST_USER") : "nobody");
    assert_non_null(pw);
    /* The build tree may sit where the user cannot reach (a 0700 clone, root's home). */
    const char *broker_copy = reachable_copy(getenv("AGNOCAST_TEST_BROKER"));
    const char *ctl_copy = reachable_copy(getenv("AGNOCAST_TEST_CTL"));
    child = fork();
    if (child == 0) {
        if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
            _exit(99);
        if (getuid() == 0 || setuid(0) == 0)
            _exit(98);
        /* setuid() made us non-dumpable, which hides /proc/PID/maps even from our own uid;
         * an ordinary user's processes are dumpable. */
        prctl(PR_SET_DUMPABLE, 1);
        setenv("TMPDIR", "/tmp", 1);
        setenv("AGNOCAST_TEST_BROKER", broker_copy, 1);
        setenv("AGNOCAST_TEST_CTL", ctl_copy, 1);
        /* cmocka's assertions longjmp to the runner of this process: run a private group. */
        const struct CMUnitTest again[] = {
            cmocka_unit_test_setup_teardown(test_multiprocess_publisher_killed, scenario_setup,
                                            scenario_teardown),
            cmocka_unit_test_setup_teardown(test_multiprocess_subscriber_killed, scenario_setup,
                                            scenario_teardown),
        };
        _exit(cmocka_run_group_tests_name("unprivileged", again, NULL, NULL) == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_multiprocess_publisher_killed, scenario_setup,
                                        scenario_teardown),
        cmocka_unit_test_setup_teardown(test_multiprocess_subscriber_killed, scenario_setup,
                                        scenario_teardown),
        cmocka_unit_test(test_multiprocess_unprivileged),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
