/* Address ranges: a range already taken in a process is never mapped over; another is used. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static uintptr_t window_base(void)
{
    const char *s = getenv("AGNOCAST_TEST_WINDOW_BASE");

    return s && *s ? (uintptr_t)strtoull(s, NULL, 0) : (uintptr_t)0x40000000000ull;
}

/* Occupies the first ranges of the window, then starts agnocast and publishes. */
static int squatter_role(void *arg, int out, int in)
{
    const size_t taken = 256u << 20; /* more than the first few ranges */
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[16];
    void *mine, *base;
    size_t size;

    (void)arg;
    mine = mmap((void *)window_base(), taken, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (mine != (void *)window_base()) {
        send_line(out, "error cannot occupy the window start");
        return 1;
    }
    memset(mine, 0x5a, 4096);
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/addr/taken", 10, AGNOCAST_TRANSIENT_LOCAL, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    agnocast_context_segment(ctx, &base, &size);
    for (uint64_t i = 1; i <= 3; i++) {
        uint64_t *m;
        if (agnocast_publisher_loan(pub, 64, (void **)&m) < 0)
            return 1;
        m[0] = i;
        agnocast_publisher_publish(pub, m);
    }
    /* Our own memory there is untouched. */
    send_line(out, "base %p intact %d", base, ((unsigned char *)mine)[100] == 0x5a);
    recv_line(in, line, sizeof(line), 30000);
    agnocast_context_free(ctx);
    return 0;
}

static void test_address_taken_in_owner_gets_another_range(void **state)
{
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct agnocast_message *msg = NULL;
    struct role r;
    char line[128];
    void *base = NULL;
    int intact = 0;
    uint64_t deadline;

    (void)state;
    assert_int_equal(role_start(&r, squatter_role, NULL), 0);
    assert_true(recv_line(r.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(sscanf(line, "base %p intact %d", &base, &intact), 2);
    assert_int_equal(intact, 1);
    assert_true((uintptr_t)base >= window_base() + (256u << 20));
    /* Peers map it at its new address and read its messages. */
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(agnocast_subscription_new(ctx, "/addr/taken", 10, AGNOCAST_TRANSIENT_LOCAL,
                                               NULL, NULL, &sub),
                     0);
    deadline = now_ms() + 5000;
    while (agnocast_subscription_take(sub, &msg) != 1 && now_ms() < deadline)
        usleep(1000);
    assert_non_null(msg);
    assert_true(agnocast_message_data(msg) >= base);
    assert_int_equal(*(const uint64_t *)agnocast_message_data(msg), 1);
    agnocast_message_release(msg);
    send_line(r.to_child, "quit");
    assert_int_equal(role_wait(&r), 0);
    agnocast_context_free(ctx);
}

/* Publishes on /addr/peer until told "quit"; says "base BASE size SIZE" first. */
static int peer_publisher_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[16];
    void *base;
    size_t size;

    (void)arg;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, "/addr/peer", 10, AGNOCAST_TRANSIENT_LOCAL, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    agnocast_context_segment(ctx, &base, &size);
    send_line(out, "base %p size %zu", base, size);
    while (recv_line(in, line, sizeof(line), 10) < 0 || strcmp(line, "quit") != 0) {
        uint64_t *m;
        if (agnocast_publisher_loan(pub, 64, (void **)&m) == 0) {
            m[0] = (uint64_t)getpid();
            agnocast_publisher_publish(pub, m);
        }
    }
    agnocast_context_free(ctx);
    return 0;
}

struct squat {
    void *base;
    size_t size;
};

/* Occupies the given range, then subscribes to /addr/peer. Commands: "take" answers
 * "from PID" or "none"; "intact" answers 1 if the squatted memory is untouched. */
static int squatting_subscriber_role(void *arg, int out, int in)
{
    struct squat *sq = arg;
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    unsigned char *mine;
    char line[16];

    mine = mmap(sq->base, sq->size, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (mine != sq->base) {
        send_line(out, "error cannot occupy %p", sq->base);
        return 1;
    }
    memset(mine, 0xa7, 8192);
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, "/addr/peer", 10, AGNOCAST_TRANSIENT_LOCAL, NULL, NULL,
                                  &sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "joined");
    while (recv_line(in, line, sizeof(line), 30000) >= 0) {
        if (!strcmp(line, "take")) {
            struct agnocast_message *msg = NULL;
            uint64_t deadline = now_ms() + 3000;
            while (agnocast_subscription_take(sub, &msg) != 1 && now_ms() < deadline)
                usleep(1000);
            if (msg) {
                send_line(out, "from %d", (int)agnocast_message_publisher_pid(msg));
                agnocast_message_release(msg);
            } else {
                send_line(out, "none");
            }
        } else if (!strcmp(line, "intact")) {
            int ok = 1;
            for (int i = 0; i < 8192; i++)
                ok &= mine[i] == 0xa7;
            send_line(out, "%d", ok);
        } else if (!strcmp(line, "quit")) {
            break;
        }
    }
    agnocast_context_free(ctx);
    return 0;
}

static uint64_t reports_of_occupied(void)
{
    char *argv[] = {getenv("AGNOCAST_TEST_CTL"), "stats", "--json", NULL};
    char out[16384];
    const char *p;

    if (run_capture(argv, out, sizeof(out)) != 0)
        return 0;
    p = strstr(out, "\"kind\":\"REPORT_OCCUPIED\"");
    p = p ? strstr(p, "\"count\":") : NULL;
    return p ? strtoull(p + 8, NULL, 10) : 0;
}

/* A subscriber that has a publisher's range occupied cannot map it: nothing is clobbered, the
 * broker is told, and the next publisher gets a range it can map. */
static void test_address_taken_in_subscriber_is_reported(void **state)
{
    struct role first, second, squatter;
    struct squat sq;
    char line[128];
    void *base2 = NULL;
    size_t size2 = 0;
    uint64_t deadline;
    int from = 0;

    (void)state;
    assert_int_equal(role_start(&first, peer_publisher_role, NULL), 0);
    assert_true(recv_line(first.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(sscanf(line, "base %p size %zu", &sq.base, &sq.size), 2);
    assert_int_equal(role_start(&squatter, squatting_subscriber_role, &sq), 0);
    assert_true(recv_line(squatter.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "joined");
    /* It cannot read the first publisher, and says so to the broker. */
    send_line(squatter.to_child, "take");
    assert_true(recv_line(squatter.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "none");
    deadline = now_ms() + 3000;
    while (reports_of_occupied() < 1 && now_ms() < deadline)
        usleep(50000);
    assert_int_equal(reports_of_occupied(), 1);
    /* The first publisher leaves; its range must not go to the next one. */
    send_line(first.to_child, "quit");
    assert_int_equal(role_wait(&first), 0);
    assert_int_equal(role_start(&second, peer_publisher_role, NULL), 0);
    assert_true(recv_line(second.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(sscanf(line, "base %p size %zu", &base2, &size2), 2);
    assert_true((uintptr_t)base2 >= (uintptr_t)sq.base + sq.size ||
                (uintptr_t)base2 + size2 <= (uintptr_t)sq.base);
    send_line(squatter.to_child, "take");
    assert_true(recv_line(squatter.from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(sscanf(line, "from %d", &from), 1);
    assert_int_equal(from, second.pid);
    send_line(squatter.to_child, "intact");
    assert_true(recv_line(squatter.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "1");
    send_line(squatter.to_child, "quit");
    assert_int_equal(role_wait(&squatter), 0);
    send_line(second.to_child, "quit");
    assert_int_equal(role_wait(&second), 0);
}

/* MemAvailable + SwapFree in bytes, 0 if unknown. */
static uint64_t memory_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb, total = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1 ||
            sscanf(line, "SwapFree: %llu kB", &kb) == 1)
            total += kb;
    fclose(f);
    return (uint64_t)total * 1024;
}

static int huge_pool_setup(void **state)
{
    char max[32];
    const char *const args[] = {"--max-pool-size", max, NULL};
    /* A broker that allows any pool: the refusal must come from the library's own check. */
    snprintf(max, sizeof(max), "%llu", 1ull << 40);
    return harness_broker_setup_with(state, args);
}

/* A pool the machine cannot back is refused with the sizes, never a SIGBUS at first touch. */
static void test_address_pool_larger_than_memory_is_refused(void **state)
{
    struct agnocast_context *ctx = NULL;
    uint64_t avail = memory_available();
    char size[32];
    int r;

    (void)state;
    if (avail == 0 || avail + (8ull << 30) > (1ull << 40))
        skip();
    snprintf(size, sizeof(size), "%lluG", (unsigned long long)((avail >> 30) + 8));
    setenv("MEMPOOL_SIZE", size, 1);
    r = agnocast_context_new(&ctx);
    unsetenv("MEMPOOL_SIZE");
    assert_int_equal(r, -ENOMEM);
    assert_null(ctx);
    print_message("%s\n", agnocast_last_error());
    assert_non_null(strstr(agnocast_last_error(), "MiB of memory available"));
    assert_non_null(strstr(agnocast_last_error(), "MEMPOOL_SIZE"));
}

/* The T suffix the size's messages name is a size (it was "not a size"): 2T is parsed, then
 * refused because no test machine can back it. */
static void test_address_pool_size_takes_terabytes(void **state)
{
    struct agnocast_context *ctx = NULL;
    int r;

    (void)state;
    if (memory_available() >= (2ull << 40))
        skip();
    setenv("MEMPOOL_SIZE", "2T", 1);
    r = agnocast_context_new(&ctx);
    unsetenv("MEMPOOL_SIZE");
    assert_null(ctx);
    print_message("%s\n", agnocast_last_error());
    assert_null(strstr(agnocast_last_error(), "is not a size"));
    assert_true(r == -ENOMEM || r == -EDQUOT || r == -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_address_pool_size_takes_terabytes,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_address_taken_in_owner_gets_another_range,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_address_taken_in_subscriber_is_reported,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_address_pool_larger_than_memory_is_refused,
                                        huge_pool_setup, harness_broker_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
