/*
 * A publisher can only hurt itself (issue 12): what it writes into its own segment, or tries
 * to do to it, cannot crash, hang or mislead its subscribers, and a good publisher on the same
 * topic keeps being delivered. Each test pairs one lying publisher with one honest one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mqueue.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "agnocast-proto.h"
#include "harness.h"
#include "shm-layout.h"

#define TOPIC "/hostile/pub"

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

/* The descriptor of this process's own segment (the memfd agnocast@PID), -1 if not found. */
static int own_segment_fd(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -1;

    while (d && (e = readdir(d)) != NULL) {
        char path[300], target[128];
        ssize_t n;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strstr(target, "memfd:agnocast@") && !strchr(strrchr(target, '@'), '.')) {
            found = atoi(e->d_name);
            break;
        }
    }
    if (d)
        closedir(d);
    return found;
}

/* Publishes every 5 ms until told "quit". */
static int honest_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[16];
    uint64_t i = 0;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 || agnocast_publisher_new(ctx, TOPIC, 4, 0, &pub) < 0)
        return 1;
    send_line(out, "ready");
    while (recv_line(in, line, sizeof(line), 5) < 0)
        publish_u64(pub, ++i);
    agnocast_context_free(ctx);
    return 0;
}

/*
 * arg "head": publishes, then writes a wild ring head. "area": declares a growth area the
 * broker never got. "shrink": tries to shrink, punch and write its sealed segment through its
 * descriptor, reports what the kernel said, and keeps publishing.
 */
static int liar_role(void *arg, int out, int in)
{
    const char *mode = arg;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agn_seg_header *h;
    char line[64];
    void *base;
    size_t size;

    if (agnocast_context_new(&ctx) < 0 || agnocast_publisher_new(ctx, TOPIC, 4, 0, &pub) < 0)
        return 1;
    agnocast_context_segment(ctx, &base, &size);
    h = base;
    send_line(out, "ready");
    recv_line(in, line, sizeof(line), 10000); /* the subscriber is there */
    for (uint64_t i = 1; i <= 3; i++)
        publish_u64(pub, i);
    if (!strcmp(mode, "head")) {
        atomic_store(&h->pubs[0].head, UINT64_MAX - 5);
    } else if (!strcmp(mode, "area")) {
        atomic_store(&h->areas[0].base, (uint64_t)(uintptr_t)base + (1ull << 40));
        atomic_store(&h->areas[0].size, 1u << 20);
        atomic_store(&h->nareas, 1);
        publish_u64(pub, 4);
    } else {
        int fd = own_segment_fd(), t, p, w;
        char byte = 1;
        t = fd >= 0 && ftruncate(fd, 4096) < 0 ? errno : 0;
        p = fd >= 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size) < 0
                ? errno
                : 0;
        w = fd >= 0 && pwrite(fd, &byte, 1, 0) < 0 ? errno : 0;
        send_line(out, "fd %d truncate %d punch %d write %d", fd >= 0, t, p, w);
        for (uint64_t i = 4; i <= 6; i++)
            publish_u64(pub, i);
    }
    send_line(out, "lied");
    recv_line(in, line, sizeof(line), 30000);
    _exit(0); /* as a hostile process would: no tidying */
}

struct tally {
    unsigned long honest, from_liar;
    pid_t liar;
};

static void count(struct agnocast_subscription *sub, struct agnocast_message *msg, void *data)
{
    struct tally *t = data;
    const uint64_t *m = agnocast_message_data(msg);

    (void)sub;
    /* Every delivered message is intact, whoever sent it. */
    assert_true(agnocast_message_contains(msg, m, 256));
    assert_int_equal(m[31], ~m[0]);
    if (agnocast_message_publisher_pid(msg) == t->liar)
        t->from_liar++;
    else
        t->honest++;
}

/* Runs one liar against one honest publisher; returns the subscription's corrupt count. */
static uint64_t run_pair(const char *mode, char *said, size_t cap)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct role liar, honest;
    struct tally t = {0};
    char line[128];
    unsigned long before;
    uint64_t corrupt, missed;

    said[0] = '\0';
    assert_int_equal(role_start(&honest, honest_role, NULL), 0);
    assert_true(recv_line(honest.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(role_start(&liar, liar_role, (void *)mode), 0);
    assert_true(recv_line(liar.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "ready");
    t.liar = liar.pid;
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(agnocast_subscription_new(ctx, TOPIC, 4, 0, count, &t, &sub), 0);
    usleep(200000); /* both publishers accept us */
    send_line(liar.to_child, "go");
    while (recv_line(liar.from_child, line, sizeof(line), 10000) >= 0 && strcmp(line, "lied"))
        snprintf(said, cap, "%s", line);
    /* A bounded loop: spin returns on time whatever the liar wrote. */
    uint64_t start = now_ms();
    assert_int_equal(agnocast_context_spin(ctx, 3000), 0);
    assert_true(now_ms() - start < 6000);
    before = t.honest;
    assert_int_equal(agnocast_context_spin(ctx, 500), 0);
    /* The honest publisher is still delivered after the liar did its worst. */
    assert_true(t.honest > before);
    corrupt = agnocast_subscription_corrupt(sub);
    missed = agnocast_subscription_missed(sub);
    print_message("%s: honest %lu, from the liar %lu, corrupt %llu, missed %llu\n", mode, t.honest,
                  t.from_liar, (unsigned long long)corrupt, (unsigned long long)missed);
    /* Missed counts messages, not what a head claims: no wrap, no 2^64. */
    assert_true(missed < (1ull << 40));
    send_line(liar.to_child, "quit");
    send_line(honest.to_child, "quit");
    assert_int_equal(role_wait(&liar), 0);
    assert_int_equal(role_wait(&honest), 0);
    agnocast_context_free(ctx);
    return corrupt;
}

static void test_hostile_publisher_wild_head(void **state)
{
    char said[128];

    (void)state;
    assert_true(run_pair("head", said, sizeof(said)) >= 1);
}

static void test_hostile_publisher_area_never_handed_over(void **state)
{
    char said[128];

    (void)state;
    assert_true(run_pair("area", said, sizeof(said)) >= 1);
}

/* The kernel refuses every way to shrink or write the segment outside the one mapping, so a
 * subscriber's mapping of it can never fault (no SIGBUS) and its messages stay intact. */
static void test_hostile_publisher_cannot_shrink_its_segment(void **state)
{
    char said[128];

    (void)state;
    assert_int_equal(run_pair("shrink", said, sizeof(said)), 0);
    assert_string_equal(said, "fd 1 truncate 1 punch 1 write 1"); /* EPERM, each */
}

/* A process that publishes on /forge/out and subscribes to /forge/in, as alice did; says how
 * many messages its /forge/in subscription got after `in` says "count". */
static int victim_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *sub;
    char line[16];
    uint64_t i = 0;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/forge/out", 4, 0, &pub) < 0 ||
        agnocast_subscription_new(ctx, "/forge/in", 4, 0, NULL, NULL, &sub) < 0)
        return 1;
    send_line(out, "pid %d", (int)getpid());
    while (recv_line(in, line, sizeof(line), 5) < 0) {
        struct agnocast_message *msg;
        publish_u64(pub, ++i);
        while (agnocast_subscription_take(sub, &msg) == 1)
            agnocast_message_release(msg);
    }
    send_line(out, "%llu", (unsigned long long)agnocast_subscription_received(sub));
    agnocast_context_free(ctx);
    return 0;
}

/* A forged notice has nowhere to go: there is no notice queue to write into, and the broker
 * drops a connection that sends it a notice. (Before protocol 3, a group-writable
 * /new_publisher@PID queue took a forged NOTICE_PUBLISHER_ADDED naming the victim's own
 * /forge/out publisher, and its /forge/in subscription delivered /forge/out's messages.) */
static void test_hostile_forged_notice_has_nowhere_to_go(void **state)
{
    struct agnocast_wire_notice_endpoint n = {0};
    union agnocast_frame_buffer buf;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    struct agnocast_wire_hello hello = {0};
    struct role victim;
    char line[64], name[64];
    int victim_pid = 0, sock, fds[2], nfds = 2;
    ssize_t len;

    (void)state;
    assert_int_equal(role_start(&victim, victim_role, NULL), 0);
    assert_true(recv_line(victim.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(sscanf(line, "pid %d", &victim_pid), 1);
    usleep(100000);
    /* No queue of the victim's to write a notice into. */
    snprintf(name, sizeof(name), "/new_publisher@%d", victim_pid);
    assert_int_equal(mq_open(name, O_WRONLY), (mqd_t)-1);
    assert_int_equal(errno, ENOENT);
    /* The notice the attack used, sent where notices come from: the broker refuses it. */
    n.pid = (uint32_t)victim_pid;
    n.qos.depth = 4;
    n.seg_base = 0x40000000000ull;
    n.seg_size = 1u << 20;
    agnocast_topic_field_set(n.topic, "/forge/in");
    sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", getenv("AGNOCAST_SOCKET"));
    assert_int_equal(connect(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
    len = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_HELLO, 1, &hello,
                                sizeof(hello));
    assert_int_equal(agnocast_proto_send(sock, buf.bytes, (size_t)len, NULL, 0), 0);
    assert_true(agnocast_proto_recv(sock, buf.bytes, sizeof(buf.bytes), fds, &nfds) > 0);
    len = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED,
                                0, &n, sizeof(n));
    assert_int_equal(agnocast_proto_send(sock, buf.bytes, (size_t)len, NULL, 0), 0);
    nfds = 2;
    assert_int_equal(agnocast_proto_recv(sock, buf.bytes, sizeof(buf.bytes), fds, &nfds), 0);
    close(sock);
    usleep(300000); /* the victim publishes on /forge/out all along */
    send_line(victim.to_child, "count");
    assert_true(recv_line(victim.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "0");
    assert_int_equal(role_wait(&victim), 0);
}

/* The read ends of pipes this process holds (its wake channels' kept ends among them). */
static int own_pipe_read_ends(int *fds, int cap)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL && n < cap) {
        char path[300], target[128];
        ssize_t len;
        int fd = atoi(e->d_name), fl;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0 || fd == dirfd(d))
            continue;
        target[len] = '\0';
        fl = fcntl(fd, F_GETFL);
        if (strncmp(target, "pipe:", 5) == 0 && fl >= 0 && (fl & O_ACCMODE) == O_RDONLY)
            fds[n++] = fd;
    }
    if (d)
        closedir(d);
    return n;
}

/* Publishes, having made the read end of its wake channel (which it shares with its subscriber)
 * blocking, and reads the wake-up bytes away itself: a subscriber that read the channel after
 * epoll said it was ready would find it empty, and block. The role's own pipe from the test
 * (`in`) is left alone. */
static int thief_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[16], bytes[64];
    int fds[16], n;
    uint64_t i = 0;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/hostile/thief", 4, 0, &pub) < 0 ||
        agnocast_publisher_wait_matched(pub, 1, 10000) < 1)
        return 1;
    n = own_pipe_read_ends(fds, 16);
    for (int k = 0; k < n; k++)
        if (fds[k] != in)
            fcntl(fds[k], F_SETFL, fcntl(fds[k], F_GETFL) & ~O_NONBLOCK);
    send_line(out, "ready %d", n);
    while (recv_line(in, line, sizeof(line), 1) < 0) { /* also its pace: a message a ms */
        publish_u64(pub, ++i);
        for (int k = 0; k < n; k++) {
            struct iovec iov = {.iov_base = bytes, .iov_len = sizeof(bytes)};
            if (fds[k] != in)
                (void)preadv2(fds[k], &iov, 1, -1, RWF_NOWAIT);
        }
    }
    /* No agnocast_context_free: the pipes made blocking include its own control thread's,
     * which would not stop. It hurts only itself; the broker cleans up after the exit. */
    return 0;
}

/* A publisher that makes the shared read end of its wake channel blocking and steals the bytes
 * cannot make its subscriber block: every spin_once returns within its timeout, and messages
 * keep arriving. A drain that read until the channel is empty hangs here (tried: the alarm
 * fires); a single read that loses the race with the thief blocks only until its next publish,
 * a millisecond, which this cannot tell from scheduling noise. */
static void test_hostile_publisher_cannot_block_its_subscriber(void **state)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct role thief;
    char line[32];
    uint64_t t0, longest = 0;
    int ends = 0;

    (void)state;
    assert_int_equal(role_start(&thief, thief_role, NULL), 0); /* before our context */
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(agnocast_subscription_new(ctx, "/hostile/thief", 4, 0, NULL, NULL, &sub), 0);
    assert_true(recv_line(thief.from_child, line, sizeof(line), 15000) >= 0);
    assert_int_equal(sscanf(line, "ready %d", &ends), 1);
    assert_true(ends >= 1); /* it holds the read end it shares with us */
    alarm(30); /* a drain that blocked would hang here: the alarm ends the test, failed */
    t0 = now_ms();
    while (now_ms() - t0 < 2000) {
        uint64_t t = now_ms(), took;
        struct agnocast_message *msg;
        assert_true(agnocast_context_spin_once(ctx, 20) >= 0);
        took = now_ms() - t;
        longest = took > longest ? took : longest;
        while (agnocast_subscription_take(sub, &msg) == 1)
            agnocast_message_release(msg);
    }
    alarm(0);
    send_line(thief.to_child, "quit");
    assert_int_equal(role_wait(&thief), 0);
    fprintf(stderr, "subscriber of a thief: %llu received, longest round %llu ms\n",
            (unsigned long long)agnocast_subscription_received(sub), (unsigned long long)longest);
    assert_true(agnocast_subscription_received(sub) > 0);
    assert_true(longest < 1000);
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hostile_publisher_wild_head, harness_broker_setup,
                                        harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_publisher_area_never_handed_over,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_publisher_cannot_shrink_its_segment,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_forged_notice_has_nowhere_to_go,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_publisher_cannot_block_its_subscriber,
                                        harness_broker_setup, harness_broker_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
