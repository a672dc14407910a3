/* Pool growth: a small pool grows into more segments, every subscriber maps them before it
 * meets an address in them, and growth stops at its ceiling with a clear error. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"

#define PAYLOAD (64u << 10)
#define HELD    60 /* 60 x 64 KiB: almost four times the first 1 MB segment */

static struct agnocast_context *ctx; /* the test process's: freed by teardown */

static int teardown(void **state)
{
    ctx = agnocast_context_free(ctx);
    return harness_broker_teardown(state);
}

struct grow_msg {
    uint64_t seq;
    uint8_t *payload;
};

/* "pub" publishes one message with a 64 KiB nested payload: "done" or "error MESSAGE". */
static int publisher_role(void *arg, int out, int in)
{
    struct agnocast_context *pctx;
    struct agnocast_publisher *pub;
    char line[64];
    uint64_t seq = 0;

    setenv("MEMPOOL_SIZE", "1M", 1);
    setenv("MEMPOOL_MAX_SIZE", arg, 1);
    if (agnocast_context_new(&pctx) < 0 ||
        agnocast_publisher_new(pctx, "/grow/topic", 4, 0, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "ready");
    while (recv_line(in, line, sizeof(line), 30000) >= 0 && strcmp(line, "pub") == 0) {
        struct grow_msg *m;
        int r = agnocast_publisher_loan(pub, sizeof(*m), (void **)&m);
        if (r == 0) {
            m->seq = ++seq;
            r = agnocast_loan_alloc(pub, m, PAYLOAD, (void **)&m->payload);
            if (r < 0)
                agnocast_publisher_drop(pub, m);
        }
        if (r < 0) {
            send_line(out, "error %s", agnocast_last_error());
            continue;
        }
        memset(m->payload, (int)(seq & 0xff), PAYLOAD);
        agnocast_publisher_publish(pub, m);
        send_line(out, "done");
    }
    agnocast_context_free(pctx);
    return 0;
}

static int intact(const struct agnocast_message *msg)
{
    const struct grow_msg *m = agnocast_message_data(msg);

    if (!agnocast_message_contains(msg, m->payload, PAYLOAD))
        return 0;
    for (size_t i = 0; i < PAYLOAD; i += 511)
        if (m->payload[i] != (uint8_t)(m->seq & 0xff))
            return 0;
    return 1;
}

static void test_growth_subscribers_follow(void **state)
{
    struct agnocast_subscription *sub;
    struct agnocast_message *held[HELD];
    struct role pub;
    char line[256], perms[8], path[256];
    int areas_seen = 0;

    (void)state;
    /* The publisher is forked before this process starts its own threads. */
    assert_int_equal(role_start(&pub, publisher_role, "16M"), 0);
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "ready");
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(agnocast_subscription_new(ctx, "/grow/topic", 4, 0, NULL, NULL, &sub), 0);
    usleep(100000); /* the publisher accepts this process */
    for (int i = 0; i < HELD; i++) {
        uint64_t deadline = now_ms() + 5000;
        int r;
        send_line(pub.to_child, "pub");
        assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
        assert_string_equal(line, "done");
        while ((r = agnocast_subscription_take(sub, &held[i])) == 0 && now_ms() < deadline)
            usleep(500);
        assert_int_equal(r, 1);
        assert_int_equal(agnocast_message_sequence(held[i]), (uint64_t)i + 1);
        assert_true(intact(held[i]));
    }
    /* Everything held is still intact, and the publisher's growth areas are mapped here,
     * read-only. */
    for (int i = 0; i < HELD; i++)
        assert_true(intact(held[i]));
    for (int i = 0; i < HELD; i++) {
        const struct grow_msg *m = agnocast_message_data(held[i]);
        if (find_mapping(getpid(), (uintptr_t)m->payload, perms, path, sizeof(path)) == 0 &&
            strchr(strrchr(path, '@') ? strrchr(path, '@') : "", '.')) {
            assert_string_equal(perms, "r--s");
            areas_seen++;
        }
    }
    assert_true(areas_seen > 0);
    assert_int_equal(agnocast_subscription_corrupt(sub), 0);
    for (int i = 0; i < HELD; i++)
        agnocast_message_release(held[i]);
    close(pub.to_child);
    assert_int_equal(role_wait(&pub), 0);
    ctx = agnocast_context_free(ctx);
}

static void test_growth_stops_at_ceiling(void **state)
{
    struct agnocast_subscription *sub;
    struct agnocast_message *held[HELD];
    struct role pub;
    char line[256];
    int nheld = 0;

    (void)state;
    /* The publisher is forked before this process starts its own threads. */
    assert_int_equal(role_start(&pub, publisher_role, "2M"), 0);
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "ready");
    assert_int_equal(agnocast_context_new(&ctx), 0);
    assert_int_equal(agnocast_subscription_new(ctx, "/grow/topic", 4, 0, NULL, NULL, &sub), 0);
    usleep(100000);
    for (;;) {
        uint64_t deadline = now_ms() + 5000;
        send_line(pub.to_child, "pub");
        assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
        if (strncmp(line, "error", 5) == 0)
            break;
        assert_true(nheld < HELD);
        while (agnocast_subscription_take(sub, &held[nheld]) != 1 && now_ms() < deadline)
            usleep(500);
        nheld++;
    }
    /* Held data passes 2 MB only a little: the limit was honoured, and the error says which. */
    assert_true(nheld >= 10 && nheld < 40);
    if (!strstr(line, "MEMPOOL_MAX_SIZE"))
        fail_msg("unexpected error: %s", line);
    /* Released, the same pool serves again. */
    for (int i = 0; i < nheld; i++)
        agnocast_message_release(held[i]);
    send_line(pub.to_child, "pub");
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "done");
    close(pub.to_child);
    assert_int_equal(role_wait(&pub), 0);
    ctx = agnocast_context_free(ctx);
}

/* Publishes flat 1.5 MiB messages (larger than the 1 MB first segment, so each lies in a
 * growth area) whose first 8 bytes are their sequence number, every 20 ms until its input
 * closes. */
#define FLAT (1536u << 10)

static int flat_role(void *arg, int out, int in)
{
    struct agnocast_context *pctx;
    struct agnocast_publisher *pub;
    struct pollfd input = {.fd = in, .events = POLLIN};
    uint64_t seq = 0;

    (void)arg;
    setenv("MEMPOOL_SIZE", "1M", 1);
    setenv("MEMPOOL_MAX_SIZE", "16M", 1);
    if (agnocast_context_new(&pctx) < 0 ||
        agnocast_publisher_new(pctx, "/grow/flat", 2, 0, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "ready");
    while (poll(&input, 1, 20) == 0) { /* until the parent closes our input */
        uint64_t *m;
        if (agnocast_publisher_loan(pub, FLAT, (void **)&m) < 0) {
            send_line(out, "error %s", agnocast_last_error());
            break;
        }
        m[0] = ++seq;
        agnocast_publisher_publish(pub, m);
    }
    agnocast_context_free(pctx);
    return 0;
}

/* agnocastctl echo maps the growth area a message lies in and shows its bytes. */
static void test_growth_ctl_echo_reads_areas(void **state)
{
    char *argv[] = {getenv("AGNOCAST_TEST_CTL"),
                    "echo",
                    "/grow/flat",
                    "--count",
                    "2",
                    "--bytes",
                    "8",
                    "--json",
                    NULL};
    static char out[64 << 10];
    char line[256];
    struct role pub;

    (void)state;
    assert_int_equal(role_start(&pub, flat_role, NULL), 0);
    assert_true(recv_line(pub.from_child, line, sizeof(line), 10000) >= 0);
    assert_string_equal(line, "ready");
    assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
    close(pub.to_child);
    assert_int_equal(role_wait(&pub), 0);
    /* Two messages shown, none skipped, each with its own sequence number as its first bytes. */
    int shown = 0;
    for (char *l = out; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
        unsigned long long seq;
        char hex[17];
        if (strncmp(l, "{", 1) != 0)
            continue;
        if (strstr(l, "\"skipped\"") && strstr(l, "\"skipped\"") < strchr(l, '\n'))
            fail_msg("a message in a growth area was skipped: %s", out);
        const char *p = strstr(l, "\"sequence\":"), *h = strstr(l, "\"hex\":\"");
        assert_non_null(p);
        assert_non_null(h);
        assert_int_equal(sscanf(p, "\"sequence\":%llu", &seq), 1);
        assert_int_equal(sscanf(h, "\"hex\":\"%16[0-9a-f]", hex), 1);
        /* Little-endian: the sequence number's low byte first. */
        char want[17];
        snprintf(want, sizeof want, "%02llx%02llx%02llx%02llx00000000", seq & 0xff,
                 (seq >> 8) & 0xff, (seq >> 16) & 0xff, (seq >> 24) & 0xff);
        assert_string_equal(hex, want);
        assert_non_null(strstr(l, "\"size\":1572864"));
        shown++;
    }
    assert_int_equal(shown, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_growth_subscribers_follow, harness_broker_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_growth_stops_at_ceiling, harness_broker_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_growth_ctl_echo_reads_areas, harness_broker_setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
