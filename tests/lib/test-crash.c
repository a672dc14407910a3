/* Clients dying at any instant: holds released, memory reclaimed, names gone, data kept. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mqueue.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"
#include "shm-layout.h"

static int publish_u64(struct agnocast_publisher *pub, uint64_t v)
{
    uint64_t *m;
    int r = agnocast_publisher_loan(pub, 256, (void **)&m);

    if (r < 0)
        return r;
    m[0] = v;
    m[31] = ~v;
    return agnocast_publisher_publish(pub, m);
}

/* Subscribes, holds one message, says "held", then waits to be killed. */
static int holder_role(void *arg, int out, int in)
{
    const char *topic = arg;
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct agnocast_message *msg;
    uint64_t deadline = now_ms() + 5000;
    char line[16];

    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, topic, 1, AGNOCAST_TRANSIENT_LOCAL, NULL, NULL, &sub) < 0)
        return 1;
    while (agnocast_subscription_take(sub, &msg) != 1)
        if (now_ms() > deadline)
            return 2;
        else
            usleep(200);
    send_line(out, "held");
    recv_line(in, line, sizeof(line), 60000);
    return 0;
}

/* A publisher that loses 1000 holding subscribers to SIGKILL keeps a bounded pool. */
static void test_crash_thousand_killed_holders(void **state)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    size_t base, used;
    int killed = 0;
    const int n = getenv("AGNOCAST_TEST_HOLDERS") ? atoi(getenv("AGNOCAST_TEST_HOLDERS")) : 1000;

    (void)state;
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(
        agnocast_publisher_new(ctx, "/crash/holders", 1, AGNOCAST_TRANSIENT_LOCAL, &pub), 0);
    assert_int_equal(publish_u64(pub, 0), 0);
    assert_int_equal(agnocast_context_pool_usage(ctx, &base, NULL), 0);
    for (int i = 1; i <= n; i++) {
        struct role r;
        char line[16];
        assert_int_equal(role_start(&r, holder_role, "/crash/holders"), 0);
        assert_true(recv_line(r.from_child, line, sizeof(line), 10000) >= 0);
        assert_string_equal(line, "held");
        /* The message it holds leaves the ring: it stays allocated while the holder lives. */
        assert_int_equal(publish_u64(pub, (uint64_t)i), 0);
        kill(r.pid, SIGKILL);
        assert_int_equal(role_wait(&r), 128 + SIGKILL);
        killed++;
    }
    /* Every holder is gone: after the broker's notices, only the ring's message remains. */
    uint64_t deadline = now_ms() + 5000;
    do {
        usleep(20000);
        assert_int_equal(agnocast_context_pool_usage(ctx, &used, NULL), 0);
    } while (used != base && now_ms() < deadline);
    assert_int_equal(used, base);
    assert_int_equal(killed, n);
    /* And it goes on publishing. */
    for (int i = 0; i < 10000; i++)
        assert_int_equal(publish_u64(pub, (uint64_t)(n + i)), 0);
    agnocast_context_free(ctx);
}

/* Publishes one message, says its address, then waits to be killed. */
static int doomed_publisher_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[16];

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/crash/pub", 4, AGNOCAST_TRANSIENT_LOCAL, &pub) < 0)
        return 1;
    publish_u64(pub, 42);
    send_line(out, "published");
    recv_line(in, line, sizeof(line), 60000);
    return 0;
}

static bool mapped(const void *addr)
{
    char perms[8], path[256];

    return find_mapping(getpid(), (uintptr_t)addr, perms, path, sizeof(path)) == 0;
}

/* A killed publisher's message stays valid for its holder until released, then is unmapped. */
static void test_crash_publisher_killed_holder_keeps_data(void **state)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub, *late;
    struct agnocast_message *msg = NULL, *none = NULL;
    struct role pub;
    char line[32];
    const uint64_t *data;
    pid_t pub_pid;
    uint64_t deadline;

    (void)state;
    assert_int_equal(role_start(&pub, doomed_publisher_role, NULL), 0);
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    pub_pid = pub.pid;
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(
        agnocast_subscription_new(ctx, "/crash/pub", 4, AGNOCAST_TRANSIENT_LOCAL, NULL, NULL, &sub),
        0);
    deadline = now_ms() + 5000;
    while (agnocast_subscription_take(sub, &msg) != 1 && now_ms() < deadline)
        usleep(1000);
    assert_non_null(msg);
    data = agnocast_message_data(msg);
    kill(pub.pid, SIGKILL);
    assert_int_equal(role_wait(&pub), 128 + SIGKILL);
    /* Its name disappears; our reference stays readable. */
    deadline = now_ms() + 2000;
    while (shm_name_exists(pub_pid) && now_ms() < deadline)
        usleep(10000);
    assert_false(shm_name_exists(pub_pid));
    usleep(100000); /* let the PROCESS_GONE notice arrive */
    assert_true(data[0] == 42 && data[31] == ~(uint64_t)42);
    assert_true(mapped(data));
    /* A new subscription no longer sees it. */
    assert_int_equal(agnocast_subscription_new(ctx, "/crash/pub", 4, AGNOCAST_TRANSIENT_LOCAL, NULL,
                                               NULL, &late),
                     0);
    assert_int_equal(agnocast_subscription_take(late, &none), 0);
    /* Released: the dead publisher's segment is unmapped. */
    agnocast_message_release(msg);
    assert_false(mapped(data));
    agnocast_context_free(ctx);
}

/* Names carrying our pid (a dead process's leftovers from an older release, or a squatter's)
 * do not stop a start: the library names nothing, and leaves what it did not make alone. */
static int reuse_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    char line[16];
    int r;

    (void)arg;
    recv_line(in, line, sizeof(line), 10000);
    r = agnocast_context_new(&ctx);
    send_line(out, "%d", r);
    if (r == 0)
        agnocast_context_free(ctx);
    return 0;
}

static void test_crash_squatted_names_do_not_stop_a_start(void **state)
{
    struct role r;
    char name[64], line[64];
    struct mq_attr attr = {.mq_maxmsg = 1, .mq_msgsize = 16};
    struct stat before, after;
    int fd;
    mqd_t q;

    (void)state;
    assert_int_equal(role_start(&r, reuse_role, NULL), 0);
    snprintf(name, sizeof(name), "/agnocast@%d", (int)r.pid);
    fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &before), 0);
    snprintf(name, sizeof(name), "/new_publisher@%d", (int)r.pid);
    q = mq_open(name, O_RDONLY | O_CREAT | O_EXCL, 0600, &attr);
    assert_true(q != (mqd_t)-1);
    mq_close(q);
    send_line(r.to_child, "go");
    assert_true(recv_line(r.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "0");
    assert_int_equal(role_wait(&r), 0);
    /* The squatter's objects are untouched: the process neither used nor removed them. */
    assert_int_equal(fstat(fd, &after), 0);
    assert_int_equal(after.st_size, 0);
    assert_int_equal(after.st_ino, before.st_ino);
    assert_true(shm_name_exists(r.pid));
    close(fd);
    snprintf(name, sizeof(name), "/agnocast@%d", (int)r.pid);
    shm_unlink(name);
    snprintf(name, sizeof(name), "/new_publisher@%d", (int)r.pid);
    mq_unlink(name);
    assert_false(shm_name_exists(r.pid));
}

/* A publisher writing wild addresses into its own ring: the subscriber counts corruption and
 * never reads outside the publisher's segment. */
static int corrupting_publisher_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agn_seg_header *h;
    struct agn_ring_entry *ring;
    char line[16];
    void *base;
    size_t size;
    static const uint64_t wild[][2] = {
        {0x1000, 64},         /* below the segment */
        {0, 0},               /* segment start + huge size: filled in below */
        {UINT64_MAX - 8, 64}, /* wraps */
        {0x7fffffff0000, 64}, /* another mapping */
    };

    (void)arg;
    signal(SIGSEGV, SIG_DFL);
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/crash/wild", 8, AGNOCAST_TRANSIENT_LOCAL, &pub) < 0)
        return 1;
    agnocast_context_segment(ctx, &base, &size);
    h = base;
    for (int i = 0; i < 4; i++)
        publish_u64(pub, (uint64_t)i);
    ring = (struct agn_ring_entry *)((char *)base + h->pubs[0].ring_off);
    for (int i = 0; i < 4; i++) {
        struct agn_ring_entry *e = &ring[(i + 1) % 8];
        uint64_t addr = wild[i][0], len = wild[i][1];
        if (i == 1) {
            addr = (uintptr_t)base + h->heap_off;
            len = size; /* runs past the end */
        }
        atomic_store(&e->addr, addr);
        atomic_store(&e->size, len);
    }
    send_line(out, "corrupted");
    recv_line(in, line, sizeof(line), 60000);
    /* Its own ring is garbage now: leave without tidying it, as a hostile process would; the
     * broker removes what it leaves. */
    _exit(0);
}

static void test_crash_corrupting_publisher(void **state)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct agnocast_message *msg;
    struct role pub;
    char line[32];
    int r;

    (void)state;
    assert_int_equal(role_start(&pub, corrupting_publisher_role, NULL), 0);
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "corrupted");
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(agnocast_subscription_new(ctx, "/crash/wild", 8, AGNOCAST_TRANSIENT_LOCAL,
                                               NULL, NULL, &sub),
                     0);
    usleep(100000);
    while ((r = agnocast_subscription_take(sub, &msg)) == 1) {
        /* Only intact messages come through. */
        assert_true(agnocast_message_contains(msg, agnocast_message_data(msg), 256));
        agnocast_message_release(msg);
    }
    assert_int_equal(agnocast_subscription_corrupt(sub), 4);
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&pub), 0);
    agnocast_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_crash_thousand_killed_holders, harness_broker_setup,
                                        harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_crash_publisher_killed_holder_keeps_data,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_crash_squatted_names_do_not_stop_a_start,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_crash_corrupting_publisher, harness_broker_setup,
                                        harness_broker_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
