/*
 * Busy polling looks without the lock (libagnocast/peek.c) while publishers come and go: a
 * subscriber process takes in two busy loops (two threads, one subscription) and dispatches
 * callbacks in a third, all lock-free
 * when nothing is new, while publisher processes join, publish, and leave (killed or freed),
 * which removes their sources and unmaps their segments under the looking threads. Every
 * message must arrive once at each subscription, intact, and the subscriber must live.
 */
#include <inttypes.h>
#include <pthread.h>
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

#define TOPIC      "/peek/churn"
#define ROUNDS     150
#define PUBLISHERS 3 /* per round, at once */
#define PER_PUB    8 /* messages each, within every depth below */
#define DEPTH      16
#define MAGIC      0x7065656b636875ull

struct payload {
    uint64_t magic;
    uint64_t round;
    uint64_t check; /* magic ^ round */
};

/* ---- the subscriber ------------------------------------------------------------------------ */

struct sub_state {
    struct agnocast_context *ctx;
    struct agnocast_subscription *take_sub;
    _Atomic uint64_t taken, called, bad;
    _Atomic bool quit;
};

static bool payload_ok(const struct agnocast_message *msg)
{
    const struct payload *p = agnocast_message_data(msg);

    return agnocast_message_size(msg) == sizeof(*p) && p->magic == MAGIC &&
           p->check == (MAGIC ^ p->round);
}

static void on_message(struct agnocast_subscription *sub, struct agnocast_message *msg, void *ud)
{
    struct sub_state *st = ud;

    (void)sub;
    if (payload_ok(msg))
        st->called++;
    else
        st->bad++;
}

/* Take in a busy loop: nearly every call finds nothing and answers without the lock. */
static void *take_thread(void *arg)
{
    struct sub_state *st = arg;

    while (!st->quit) {
        struct agnocast_message *msg;
        int r = agnocast_subscription_take(st->take_sub, &msg);
        if (r == 1) {
            if (payload_ok(msg))
                st->taken++;
            else
                st->bad++;
            agnocast_message_release(msg);
        } else if (r < 0) {
            st->bad++;
        }
    }
    return NULL;
}

static void *spin_thread(void *arg)
{
    struct sub_state *st = arg;

    agnocast_context_spin(st->ctx, -1);
    return NULL;
}

/* Both subscriptions, busy; answers "count" with "taken T called C bad B" until "quit". */
static int subscriber_role(void *arg, int out, int in)
{
    struct sub_state st = {0};
    struct agnocast_subscription *cb_sub;
    pthread_t takers[2], spinner;
    char line[32];

    (void)arg;
    if (agnocast_context_new(&st.ctx) < 0 || agnocast_context_set_busy_poll(st.ctx, 1) < 0 ||
        agnocast_subscription_new(st.ctx, TOPIC, DEPTH, AGNOCAST_RELIABLE, NULL, NULL,
                                  &st.take_sub) < 0 ||
        agnocast_subscription_new(st.ctx, TOPIC, DEPTH, AGNOCAST_RELIABLE, on_message, &st,
                                  &cb_sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    /* Two takers of one subscription: between them each message exactly once. */
    for (int i = 0; i < 2; i++)
        pthread_create(&takers[i], NULL, take_thread, &st);
    pthread_create(&spinner, NULL, spin_thread, &st);
    send_line(out, "ready");
    while (recv_line(in, line, sizeof(line), 120000) >= 0 && strcmp(line, "quit") != 0)
        send_line(out, "taken %" PRIu64 " called %" PRIu64 " bad %" PRIu64, (uint64_t)st.taken,
                  (uint64_t)st.called, (uint64_t)st.bad);
    st.quit = true;
    agnocast_context_stop(st.ctx);
    for (int i = 0; i < 2; i++)
        pthread_join(takers[i], NULL);
    pthread_join(spinner, NULL);
    agnocast_subscription_free(cb_sub);
    agnocast_subscription_free(st.take_sub);
    agnocast_context_free(st.ctx);
    return 0;
}

/* ---- publishers ---------------------------------------------------------------------------- */

/* Waits for both subscriptions, publishes PER_PUB messages, says "published", then waits to be
 * killed or told "free" (frees its publisher and context: the orderly way out). */
static int publisher_role(void *arg, int out, int in)
{
    uint64_t round = (uint64_t)(uintptr_t)arg;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[16];

    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, TOPIC, DEPTH, AGNOCAST_RELIABLE, &pub) < 0 ||
        agnocast_publisher_wait_matched(pub, 2, 20000) < 2) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    for (int i = 0; i < PER_PUB; i++) {
        struct payload *p;
        if (agnocast_publisher_loan(pub, sizeof(*p), (void **)&p) < 0)
            return 1;
        *p = (struct payload){.magic = MAGIC, .round = round, .check = MAGIC ^ round};
        if (agnocast_publisher_publish(pub, p) < 0)
            return 1;
    }
    send_line(out, "published");
    if (recv_line(in, line, sizeof(line), 60000) >= 0 && strcmp(line, "free") == 0) {
        agnocast_publisher_free(pub);
        agnocast_context_free(ctx);
    }
    return 0;
}

static void counts(struct role *sub, uint64_t *taken, uint64_t *called, uint64_t *bad)
{
    char line[128];

    assert_int_equal(send_line(sub->to_child, "count"), 0);
    assert_true(recv_line(sub->from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(
        sscanf(line, "taken %" SCNu64 " called %" SCNu64 " bad %" SCNu64, taken, called, bad), 3);
}

/* "alive", or how the subscriber ended (reaped here; role_wait then finds nothing to wait for). */
static const char *subscriber_fate(struct role *sub, char *buf, size_t cap)
{
    int status;

    if (waitpid(sub->pid, &status, WNOHANG) != sub->pid)
        return "alive";
    if (WIFSIGNALED(status))
        snprintf(buf, cap, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "exited with %d", WEXITSTATUS(status));
    return buf;
}

static void test_peek_churn_busy_take_and_dispatch(void **state)
{
    struct role sub, pubs[PUBLISHERS];
    uint64_t taken = 0, called = 0, bad = 0, want = 0;
    char line[128];

    (void)state;
    assert_int_equal(role_start(&sub, subscriber_role, NULL), 0);
    assert_true(recv_line(sub.from_child, line, sizeof(line), 15000) >= 0);
    assert_string_equal(line, "ready");
    for (uint64_t round = 1; round <= ROUNDS; round++) {
        uint64_t t0;
        for (int i = 0; i < PUBLISHERS; i++)
            assert_int_equal(role_start(&pubs[i], publisher_role, (void *)(uintptr_t)round), 0);
        for (int i = 0; i < PUBLISHERS; i++) {
            char fate[64];
            if (recv_line(pubs[i].from_child, line, sizeof(line), 30000) < 0)
                snprintf(line, sizeof(line), "no answer in 30 s");
            if (strcmp(line, "published") != 0)
                fail_msg("round %" PRIu64 ": a publisher said: %s; the subscriber: %s", round, line,
                         subscriber_fate(&sub, fate, sizeof(fate)));
        }
        want += PUBLISHERS * PER_PUB;
        /* Everything published arrives at both before its publisher goes. */
        t0 = now_ms();
        do
            counts(&sub, &taken, &called, &bad);
        while ((taken < want || called < want) && now_ms() - t0 < 20000);
        if (taken != want || called != want || bad != 0)
            fail_msg("round %" PRIu64 ": taken %" PRIu64 ", called back %" PRIu64 " of %" PRIu64
                     ", %" PRIu64 " bad",
                     round, taken, called, want, bad);
        /* Killed, or leaving in order: both remove the sources while the threads look. */
        for (int i = 0; i < PUBLISHERS; i++) {
            if ((round + (uint64_t)i) % 2)
                kill(pubs[i].pid, SIGKILL);
            else
                send_line(pubs[i].to_child, "free");
            role_wait(&pubs[i]);
        }
    }
    counts(&sub, &taken, &called, &bad);
    fprintf(stderr,
            "%d publisher processes came and went: %" PRIu64 " taken, %" PRIu64
            " called back, %" PRIu64 " bad\n",
            ROUNDS * PUBLISHERS, taken, called, bad);
    send_line(sub.to_child, "quit");
    assert_int_equal(role_wait(&sub), 0); /* not a signal: nothing read an unmapped segment */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_peek_churn_busy_take_and_dispatch,
                                        harness_broker_setup, harness_broker_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
