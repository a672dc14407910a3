/* The message path across processes: delivery, order, keep-last, durability, take, reclaim. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"

/* A message with a nested buffer and string, as users write them. */
struct nested_message {
    uint64_t seq;
    uint64_t self;
    uint32_t *values;
    char *name;
    uint64_t nvalues;
};

static int publish_nested(struct agnocast_publisher *pub, uint64_t seq, uint64_t nvalues)
{
    struct nested_message *m;
    int r;

    if ((r = agnocast_publisher_loan(pub, sizeof(*m), (void **)&m)) < 0)
        return r;
    m->seq = seq;
    m->self = (uint64_t)(uintptr_t)m;
    m->nvalues = nvalues;
    if ((r = agnocast_loan_alloc(pub, m, nvalues * sizeof(uint32_t), (void **)&m->values)) < 0 ||
        (r = agnocast_loan_alloc(pub, m, 32, (void **)&m->name)) < 0) {
        agnocast_publisher_drop(pub, m);
        return r;
    }
    for (uint64_t i = 0; i < nvalues; i++)
        m->values[i] = (uint32_t)(seq * 31 + i);
    snprintf(m->name, 32, "msg-%" PRIu64, seq);
    return agnocast_publisher_publish(pub, m);
}

/* 1 if the message is intact and at the address it was written at. */
static int check_nested(const struct agnocast_message *msg)
{
    const struct nested_message *m = agnocast_message_data(msg);
    char name[32];

    if (m->self != (uint64_t)(uintptr_t)m || m->seq != agnocast_message_sequence(msg))
        return 0;
    if (!agnocast_message_contains(msg, m->values, m->nvalues * sizeof(uint32_t)) ||
        !agnocast_message_contains(msg, m->name, 32))
        return 0;
    for (uint64_t i = 0; i < m->nvalues; i++)
        if (m->values[i] != (uint32_t)(m->seq * 31 + i))
            return 0;
    snprintf(name, sizeof(name), "msg-%" PRIu64, m->seq);
    return strcmp(name, m->name) == 0;
}

/* ---- publisher role: commands from the parent ------------------------------------------ */

struct pub_args {
    const char *topic;
    unsigned depth;
    unsigned flags;
};

/* Commands: "pub N" publishes N messages and answers "done"; "usage" answers "usage BYTES";
 * "quit" ends. Answers "ready" first. */
static int publisher_role(void *arg, int out, int in)
{
    struct pub_args *a = arg;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    char line[128];
    uint64_t seq = 0;

    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_publisher_new(ctx, a->topic, a->depth, a->flags, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "ready");
    while (recv_line(in, line, sizeof(line), 60000) >= 0) {
        unsigned long long n;
        if (sscanf(line, "pub %llu", &n) == 1) {
            for (unsigned long long i = 0; i < n; i++) {
                int r;
                while ((r = publish_nested(pub, ++seq, 16)) == -ENOMEM) {
                    seq--;
                    usleep(100);
                }
                if (r < 0) {
                    send_line(out, "error %s", agnocast_strerror(r));
                    return 1;
                }
            }
            send_line(out, "done");
        } else if (strcmp(line, "usage") == 0) {
            size_t used;
            agnocast_context_pool_usage(ctx, &used, NULL);
            send_line(out, "usage %zu", used);
        } else if (strcmp(line, "free") == 0) {
            pub = agnocast_publisher_free(pub);
            send_line(out, "freed");
        } else if (strcmp(line, "quit") == 0) {
            break;
        }
    }
    agnocast_publisher_free(pub);
    agnocast_context_free(ctx);
    return 0;
}

static void expect_line(struct role *r, const char *want)
{
    char line[256];

    assert_true(recv_line(r->from_child, line, sizeof(line), 30000) >= 0);
    assert_string_equal(line, want);
}

static size_t pool_usage(struct role *pub)
{
    char line[128];
    size_t used = 0;

    send_line(pub->to_child, "usage");
    assert_true(recv_line(pub->from_child, line, sizeof(line), 10000) >= 0);
    assert_int_equal(sscanf(line, "usage %zu", &used), 1);
    return used;
}

/* ---- subscriber role ------------------------------------------------------------------- */

struct sub_args {
    const char *topic;
    unsigned depth;
    unsigned flags;
    int publishers;   /* distinct publishers expected */
    uint64_t per_pub; /* messages expected from each */
    bool no_mqueue;   /* start with RLIMIT_MSGQUEUE 0, so the system refuses the mqueue */
};

/* Receives by callback until per_pub messages from each publisher arrived; checks each arrives
 * once, in order, intact. Answers "joined" after subscribing, then "ok N" or "bad ...". */
struct sub_state {
    struct agnocast_context *ctx;
    struct sub_args *a;
    pid_t pids[8];
    uint32_t index[8];
    uint64_t last[8];
    int npubs;
    uint64_t received;
    int bad;
    char why[128];
};

static void on_message(struct agnocast_subscription *s, struct agnocast_message *msg, void *ud)
{
    struct sub_state *st = ud;
    pid_t pid = agnocast_message_publisher_pid(msg);
    uint32_t idx = agnocast_message_publisher_index(msg);
    uint64_t seq = agnocast_message_sequence(msg);
    int k;

    (void)s;
    for (k = 0; k < st->npubs; k++)
        if (st->pids[k] == pid && st->index[k] == idx)
            break;
    if (k == st->npubs) {
        if (st->npubs == 8)
            return;
        st->pids[k] = pid;
        st->index[k] = idx;
        st->last[k] = 0;
        st->npubs++;
    }
    if (seq != st->last[k] + 1 && !st->bad) {
        st->bad = 1;
        snprintf(st->why, sizeof(st->why), "from %d: got %" PRIu64 " after %" PRIu64, (int)pid, seq,
                 st->last[k]);
    }
    if (!check_nested(msg) && !st->bad) {
        st->bad = 1;
        snprintf(st->why, sizeof(st->why), "message %" PRIu64 " from %d is corrupt", seq, (int)pid);
    }
    st->last[k] = seq;
    st->received++;
    if (st->npubs == st->a->publishers) {
        int done = 1;
        for (int i = 0; i < st->npubs; i++)
            done &= st->last[i] >= st->a->per_pub;
        if (done)
            agnocast_context_stop(st->ctx);
    }
}

static int subscriber_role(void *arg, int out, int in)
{
    struct sub_state st = {.a = arg};
    struct agnocast_subscription *sub;

    if (st.a->no_mqueue) {
        struct rlimit none = {0, 0};
        setrlimit(RLIMIT_MSGQUEUE, &none);
    }
    if (agnocast_context_new(&st.ctx) < 0 ||
        agnocast_subscription_new(st.ctx, st.a->topic, st.a->depth, st.a->flags, on_message, &st,
                                  &sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "joined");
    agnocast_context_spin(st.ctx, 30000);
    if (st.bad)
        send_line(out, "bad %s", st.why);
    else
        send_line(out, "ok %" PRIu64 " missed %" PRIu64, st.received,
                  agnocast_subscription_missed(sub));
    /* Stay until the parent is done looking (it closes the pipe). */
    {
        char line[16];
        recv_line(in, line, sizeof(line), 60000);
    }
    agnocast_subscription_free(sub);
    agnocast_context_free(st.ctx);
    return 0;
}

static void test_message_path_one_to_one(void **state)
{
    struct pub_args pa = {"/mpath/one", 1024, 0};
    struct sub_args sa = {"/mpath/one", 1024, 0, 1, 1000, false};
    struct role pub, sub;

    (void)state;
    assert_int_equal(role_start(&sub, subscriber_role, &sa), 0);
    expect_line(&sub, "joined");
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    /* Published in bursts smaller than the depth so keep-last drops nothing. */
    for (int i = 0; i < 10; i++) {
        send_line(pub.to_child, "pub 100");
        expect_line(&pub, "done");
        usleep(20000);
    }
    expect_line(&sub, "ok 1000 missed 0");
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&sub), 0);
    assert_int_equal(role_wait(&pub), 0);
}

static void test_message_path_two_to_two(void **state)
{
    struct pub_args pa = {"/mpath/two", 1024, 0};
    struct sub_args sa = {"/mpath/two", 1024, 0, 2, 500, false};
    struct role pubs[2], subs[2];

    (void)state;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(role_start(&subs[i], subscriber_role, &sa), 0);
        expect_line(&subs[i], "joined");
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(role_start(&pubs[i], publisher_role, &pa), 0);
        expect_line(&pubs[i], "ready");
    }
    for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 2; i++)
            send_line(pubs[i].to_child, "pub 100");
        for (int i = 0; i < 2; i++)
            expect_line(&pubs[i], "done");
        usleep(20000);
    }
    for (int i = 0; i < 2; i++)
        expect_line(&subs[i], "ok 1000 missed 0");
    for (int i = 0; i < 2; i++) {
        send_line(pubs[i].to_child, "quit");
        assert_int_equal(role_wait(&pubs[i]), 0);
        assert_int_equal(role_wait(&subs[i]), 0);
    }
}

/* Without an mqueue (queues_max is system-wide and may run out) a process still learns of new
 * publishers: the broker relays the notice over its socket. */
static void test_message_path_no_mqueue(void **state)
{
    struct pub_args pa = {"/mpath/nomq", 1024, 0};
    struct sub_args sa = {"/mpath/nomq", 1024, 0, 1, 300, true};
    struct role pub, sub;

    (void)state;
    assert_int_equal(role_start(&sub, subscriber_role, &sa), 0);
    expect_line(&sub, "joined");
    assert_false(mq_name_exists(sub.pid));
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    for (int i = 0; i < 3; i++) {
        send_line(pub.to_child, "pub 100");
        expect_line(&pub, "done");
        usleep(20000);
    }
    expect_line(&sub, "ok 300 missed 0");
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&sub), 0);
    assert_int_equal(role_wait(&pub), 0);
}

/* ---- take-based subscriber: commands from the parent ------------------------------------ */

struct take_args {
    const char *topic;
    unsigned depth;
    unsigned flags;
};

/* Commands: "take" -> "msg SEQ" or "none"; "latest" -> same with take_latest; "hold" -> takes
 * and keeps it, "held SEQ"/"none"; "release" releases all held; "missed" -> "missed N". */
static int take_role(void *arg, int out, int in)
{
    struct take_args *a = arg;
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    struct agnocast_message *held[64];
    int nheld = 0;
    char line[128];

    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, a->topic, a->depth, a->flags, NULL, NULL, &sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "joined");
    while (recv_line(in, line, sizeof(line), 60000) >= 0) {
        struct agnocast_message *msg;
        int r;
        if (!strcmp(line, "take") || !strcmp(line, "latest") || !strcmp(line, "hold")) {
            /* The publisher's accept of this process may still be on its way: retry briefly. */
            uint64_t deadline = now_ms() + 2000;
            do {
                r = strcmp(line, "latest") ? agnocast_subscription_take(sub, &msg)
                                           : agnocast_subscription_take_latest(sub, &msg);
            } while (r == 0 && strcmp(line, "hold") == 0 && now_ms() < deadline &&
                     usleep(1000) == 0);
            if (r != 1) {
                send_line(out, "none");
                continue;
            }
            if (!check_nested(msg)) {
                send_line(out, "corrupt");
                continue;
            }
            if (!strcmp(line, "hold")) {
                held[nheld++] = msg;
                send_line(out, "held %" PRIu64, agnocast_message_sequence(msg));
            } else {
                send_line(out, "msg %" PRIu64, agnocast_message_sequence(msg));
                agnocast_message_release(msg);
            }
        } else if (!strcmp(line, "release")) {
            while (nheld > 0)
                agnocast_message_release(held[--nheld]);
            send_line(out, "released");
        } else if (!strcmp(line, "missed")) {
            send_line(out, "missed %" PRIu64, agnocast_subscription_missed(sub));
        } else if (!strcmp(line, "quit")) {
            break;
        }
    }
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
    return 0;
}

static void wait_accepted(struct role *taker)
{
    /* A new subscriber may read a publisher once the publisher has mapped it (its control
     * thread does that on a notice); this settles within milliseconds. */
    (void)taker;
    usleep(100000);
}

static void expect_take(struct role *t, const char *cmd, const char *want)
{
    send_line(t->to_child, "%s", cmd);
    expect_line(t, want);
}

static void test_message_path_keep_last_slow_subscriber(void **state)
{
    struct pub_args pa = {"/mpath/keeplast", 10, 0};
    struct take_args ta = {"/mpath/keeplast", 3, 0};
    struct role pub, taker;

    (void)state;
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    assert_int_equal(role_start(&taker, take_role, &ta), 0);
    expect_line(&taker, "joined");
    wait_accepted(&taker);
    send_line(pub.to_child, "pub 10");
    expect_line(&pub, "done");
    /* Depth 3: the newest three, 7 missed, exactly. */
    expect_take(&taker, "take", "msg 8");
    expect_take(&taker, "take", "msg 9");
    expect_take(&taker, "take", "msg 10");
    expect_take(&taker, "take", "none");
    expect_take(&taker, "missed", "missed 7");
    /* take-latest skips to the newest and counts the rest as missed. */
    send_line(pub.to_child, "pub 3");
    expect_line(&pub, "done");
    expect_take(&taker, "latest", "msg 13");
    expect_take(&taker, "missed", "missed 9");
    send_line(taker.to_child, "quit");
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&taker), 0);
    assert_int_equal(role_wait(&pub), 0);
}

/* A callback subscription dispatched on command: "dispatch" -> "got SEQ... missed N". */
struct dispatched {
    char got[512];
    size_t len;
};

static void on_dispatched(struct agnocast_subscription *sub, struct agnocast_message *msg,
                          void *userdata)
{
    struct dispatched *d = userdata;
    int n;

    (void)sub;
    n = snprintf(d->got + d->len, sizeof(d->got) - d->len, " %" PRIu64,
                 check_nested(msg) ? agnocast_message_sequence(msg) : 0);
    if (n > 0 && (size_t)n < sizeof(d->got) - d->len)
        d->len += (size_t)n;
}

static int dispatch_role(void *arg, int out, int in)
{
    struct take_args *a = arg;
    struct dispatched d = {.len = 0};
    struct agnocast_context *ctx;
    struct agnocast_subscription *sub;
    char line[128];

    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, a->topic, a->depth, a->flags, on_dispatched, &d, &sub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    send_line(out, "joined");
    while (recv_line(in, line, sizeof(line), 60000) >= 0) {
        if (!strcmp(line, "dispatch")) {
            d.len = 0;
            d.got[0] = '\0';
            while (agnocast_context_dispatch(ctx) > 0)
                ;
            send_line(out, "got%s missed %" PRIu64, d.got, agnocast_subscription_missed(sub));
        } else if (!strcmp(line, "quit")) {
            break;
        }
    }
    agnocast_subscription_free(sub);
    agnocast_context_free(ctx);
    return 0;
}

/* A subscription at least as deep as the publisher's ring finds what is new from the ring
 * entries alone (an older number: nothing; the wanted one: deliver), and reads the head only
 * when lapped. Every answer must still be exact. */
static void test_message_path_callback_whole_ring_window(void **state)
{
    struct pub_args pa = {"/mpath/wholering", 4, 0};
    struct take_args ta = {"/mpath/wholering", 8, 0};
    struct role pub, sub;

    (void)state;
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    assert_int_equal(role_start(&sub, dispatch_role, &ta), 0);
    expect_line(&sub, "joined");
    wait_accepted(&sub);
    expect_take(&sub, "dispatch", "got missed 0");
    send_line(pub.to_child, "pub 10");
    expect_line(&pub, "done");
    /* The ring holds 7..10: those, and 1..6 missed. */
    expect_take(&sub, "dispatch", "got 7 8 9 10 missed 6");
    expect_take(&sub, "dispatch", "got missed 6");
    send_line(pub.to_child, "pub 4");
    expect_line(&pub, "done");
    expect_take(&sub, "dispatch", "got 11 12 13 14 missed 6");
    /* 15..21: the entry of 15 now carries 19 (lapped); the head says 18..21 remain. */
    send_line(pub.to_child, "pub 7");
    expect_line(&pub, "done");
    expect_take(&sub, "dispatch", "got 18 19 20 21 missed 9");
    expect_take(&sub, "dispatch", "got missed 9");
    send_line(sub.to_child, "quit");
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&sub), 0);
    assert_int_equal(role_wait(&pub), 0);
}

static void test_message_path_transient_local_matrix(void **state)
{
    static const unsigned pub_depths[] = {1, 2, 10};
    static const unsigned sub_depths[] = {1, 3};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 2; j++) {
            struct pub_args pa = {"/mpath/tl", pub_depths[i], AGNOCAST_TRANSIENT_LOCAL};
            struct take_args ta = {"/mpath/tl", sub_depths[j], AGNOCAST_TRANSIENT_LOCAL};
            unsigned k = pa.depth < ta.depth ? pa.depth : ta.depth;
            struct role pub, taker;
            char want[32];

            assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
            expect_line(&pub, "ready");
            send_line(pub.to_child, "pub 10");
            expect_line(&pub, "done");
            assert_int_equal(role_start(&taker, take_role, &ta), 0);
            expect_line(&taker, "joined");
            wait_accepted(&taker);
            /* The retained last min(pub depth, sub depth), in order, each once. */
            for (unsigned s = 10 - k + 1; s <= 10; s++) {
                snprintf(want, sizeof(want), "msg %u", s);
                expect_take(&taker, "take", want);
            }
            expect_take(&taker, "take", "none");
            /* Then live ones. */
            send_line(pub.to_child, "pub 1");
            expect_line(&pub, "done");
            expect_take(&taker, "take", "msg 11");
            send_line(taker.to_child, "quit");
            send_line(pub.to_child, "quit");
            assert_int_equal(role_wait(&taker), 0);
            assert_int_equal(role_wait(&pub), 0);
        }
    }
}

static void test_message_path_volatile_joiner(void **state)
{
    struct pub_args pa = {"/mpath/volatile", 10, AGNOCAST_TRANSIENT_LOCAL};
    struct take_args ta = {"/mpath/volatile", 10, 0};
    struct role pub, taker;

    (void)state;
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    send_line(pub.to_child, "pub 5");
    expect_line(&pub, "done");
    assert_int_equal(role_start(&taker, take_role, &ta), 0);
    expect_line(&taker, "joined");
    wait_accepted(&taker);
    expect_take(&taker, "take", "none");
    send_line(pub.to_child, "pub 2");
    expect_line(&pub, "done");
    expect_take(&taker, "take", "msg 6");
    expect_take(&taker, "take", "msg 7");
    expect_take(&taker, "take", "none");
    send_line(taker.to_child, "quit");
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&taker), 0);
    assert_int_equal(role_wait(&pub), 0);
}

/* ---- in one process: ignore_local, retain beyond the callback ---------------------------- */

struct local_state {
    struct agnocast_message *kept;
    int calls;
};

static void keep_first(struct agnocast_subscription *s, struct agnocast_message *msg, void *ud)
{
    struct local_state *st = ud;

    (void)s;
    st->calls++;
    if (!st->kept) {
        agnocast_message_retain(msg);
        st->kept = msg;
    }
}

/* Runs a single-process role to its end and returns the one line it answers in `line`. */
static void run_role(int (*fn)(void *arg, int out, int in), char *line, size_t cap, int timeout_ms)
{
    struct role r;

    assert_int_equal(role_start(&r, fn, NULL), 0);
    assert_true(recv_line(r.from_child, line, cap, timeout_ms) >= 0);
    assert_int_equal(role_wait(&r), 0);
}

/* Publishes message 1, which a callback keeps in *kept, then 5 more (the publisher's depth is
 * 1); says whether *kept is still message 1 and intact, and how much of the pool was in use
 * with it held and after its release (beyond what was in use before message 1). */
static int hold_through_five(struct agnocast_context *ctx, struct agnocast_publisher *pub,
                             struct agnocast_message **kept, size_t *held, size_t *after)
{
    size_t before;

    agnocast_context_pool_usage(ctx, &before, NULL);
    publish_nested(pub, 1, 16);
    agnocast_context_spin(ctx, 200);
    for (uint64_t s = 2; s <= 6; s++)
        publish_nested(pub, s, 16);
    agnocast_context_spin(ctx, 200);
    agnocast_context_pool_usage(ctx, held, NULL);
    int intact = *kept && check_nested(*kept) && agnocast_message_sequence(*kept) == 1;
    agnocast_message_release(*kept);
    agnocast_context_pool_usage(ctx, after, NULL);
    *held -= before;
    *after -= before;
    return intact;
}

static int local_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *ignoring, *hearing;
    struct local_state ign = {0}, hear = {0};
    size_t held, after;

    (void)arg;
    (void)in;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, "/mpath/local", 10, AGNOCAST_IGNORE_LOCAL, keep_first, &ign,
                                  &ignoring) < 0 ||
        agnocast_subscription_new(ctx, "/mpath/local", 10, 0, keep_first, &hear, &hearing) < 0 ||
        agnocast_publisher_new(ctx, "/mpath/local", 1, 0, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    /* Message 1 is retained by the callback: it must stay intact and allocated. */
    int intact = hold_through_five(ctx, pub, &hear.kept, &held, &after);
    send_line(out, "ignoring %d hearing %d intact %d held %zu after %zu", ign.calls, hear.calls > 0,
              intact, held, after);
    agnocast_context_free(ctx);
    return 0;
}

static void test_message_path_ignore_local_and_retain(void **state)
{
    char line[256];
    int ign, hear, intact;
    size_t held, after;

    (void)state;
    run_role(local_role, line, sizeof(line), 20000);
    assert_int_equal(sscanf(line, "ignoring %d hearing %d intact %d held %zu after %zu", &ign,
                            &hear, &intact, &held, &after),
                     5);
    assert_int_equal(ign, 0);
    assert_int_equal(hear, 1);
    assert_int_equal(intact, 1);
    /* Held: the retained message 1 and the ring's message 6; after release only message 6. */
    assert_true(held > after);
    assert_true(after > 0);
    assert_int_equal(held, 2 * after);
}

/* A callback that releases its message and takes another, which may land in the same handle:
 * dispatch must not release the taken one behind its back. */
struct reuse_state {
    struct agnocast_subscription *taker;
    struct agnocast_message *taken;
};

static void release_then_take(struct agnocast_subscription *sub, struct agnocast_message *msg,
                              void *userdata)
{
    struct reuse_state *st = userdata;

    (void)sub;
    agnocast_message_release(msg);
    if (!st->taken && agnocast_subscription_take(st->taker, &st->taken) != 1)
        st->taken = NULL;
}

static int handle_reuse_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *cb;
    struct reuse_state st = {0};
    size_t held, after;

    (void)arg;
    (void)in;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, "/mpath/reuse", 10, 0, NULL, NULL, &st.taker) < 0 ||
        agnocast_subscription_new(ctx, "/mpath/reuse", 10, 0, release_then_take, &st, &cb) < 0 ||
        agnocast_publisher_new(ctx, "/mpath/reuse", 1, 0, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    /* The taken message 1 must stay held. */
    int intact = hold_through_five(ctx, pub, &st.taken, &held, &after);
    send_line(out, "intact %d held %zu after %zu", intact, held, after);
    agnocast_context_free(ctx);
    return 0;
}

static void test_message_path_callback_take_reuses_handle(void **state)
{
    char line[256];
    int intact;
    size_t held, after;

    (void)state;
    run_role(handle_reuse_role, line, sizeof(line), 20000);
    assert_int_equal(sscanf(line, "intact %d held %zu after %zu", &intact, &held, &after), 3);
    assert_int_equal(intact, 1);
    /* Held: the taken message 1 and the ring's message 6; after its release only message 6. */
    assert_true(after > 0);
    assert_int_equal(held, 2 * after);
}

/* A callback that frees another subscription: that one's callbacks stop at once, even for
 * messages already collected in the same dispatch. */
struct freeing_state {
    struct agnocast_subscription *victim;
    int victim_calls;
};

static void free_victim(struct agnocast_subscription *sub, struct agnocast_message *msg,
                        void *userdata)
{
    struct freeing_state *st = userdata;

    (void)sub;
    (void)msg;
    st->victim = agnocast_subscription_free(st->victim);
}

static void count_victim(struct agnocast_subscription *sub, struct agnocast_message *msg,
                         void *userdata)
{
    struct freeing_state *st = userdata;

    (void)sub;
    (void)msg;
    st->victim_calls++;
}

static int freeing_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct agnocast_subscription *freeing;
    struct freeing_state st = {0};

    (void)arg;
    (void)in;
    if (agnocast_context_new(&ctx) < 0 ||
        agnocast_subscription_new(ctx, "/mpath/free", 10, 0, free_victim, &st, &freeing) < 0 ||
        agnocast_subscription_new(ctx, "/mpath/free", 10, 0, count_victim, &st, &st.victim) < 0 ||
        agnocast_publisher_new(ctx, "/mpath/free", 4, 0, &pub) < 0) {
        send_line(out, "error %s", agnocast_last_error());
        return 1;
    }
    publish_nested(pub, 1, 16);
    agnocast_context_spin(ctx, 200);
    publish_nested(pub, 2, 16);
    agnocast_context_spin(ctx, 200);
    send_line(out, "victim %s calls %d", st.victim ? "alive" : "freed", st.victim_calls);
    agnocast_context_free(ctx);
    return 0;
}

static void test_message_path_callback_frees_subscription(void **state)
{
    char line[256];

    (void)state;
    run_role(freeing_role, line, sizeof(line), 20000);
    assert_string_equal(line, "victim freed calls 0");
}

/* Creating and freeing publishers over and over costs no pool memory: a slot's ring is reused
 * and its messages are reclaimed. */
static int churn_role(void *arg, int out, int in)
{
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    size_t before, after;

    (void)arg;
    (void)in;
    if (agnocast_context_new(&ctx) < 0)
        return 1;
    /* One round first: the slot's ring then exists, and is what every later round reuses. */
    for (int round = 0; round < 1001; round++) {
        if (round == 1)
            agnocast_context_pool_usage(ctx, &before, NULL);
        if (agnocast_publisher_new(ctx, "/mpath/churn", 10, 0, &pub) < 0)
            return 2;
        for (uint64_t s = 1; s <= 3; s++)
            publish_nested(pub, s, 16);
        agnocast_publisher_free(pub);
    }
    agnocast_context_pool_usage(ctx, &after, NULL);
    send_line(out, "grew %zu", after - before);
    agnocast_context_free(ctx);
    return 0;
}

static void test_message_path_publisher_churn_does_not_leak(void **state)
{
    char line[64];

    (void)state;
    run_role(churn_role, line, sizeof(line), 60000);
    assert_string_equal(line, "grew 0");
}

/* ---- reclaim ---------------------------------------------------------------------------- */

static void test_message_path_reclaim(void **state)
{
    struct pub_args pa = {"/mpath/reclaim", 1, 0};
    struct take_args ta = {"/mpath/reclaim", 1, 0};
    struct role pub, taker;
    size_t base, one, held, settled;
    char want[32], line[64];
    const int k = 5;

    (void)state;
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    assert_int_equal(role_start(&taker, take_role, &ta), 0);
    expect_line(&taker, "joined");
    wait_accepted(&taker);
    base = pool_usage(&pub);
    send_line(pub.to_child, "pub 1");
    expect_line(&pub, "done");
    one = pool_usage(&pub) - base; /* one message in the ring */
    assert_true(one > 0);
    expect_take(&taker, "take", "msg 1");

    /* 100 000 messages while the subscriber takes and releases: back to one in the ring. */
    for (int i = 0; i < 100; i++) {
        send_line(pub.to_child, "pub 1000");
        expect_line(&pub, "done");
        send_line(taker.to_child, "take");
        assert_true(recv_line(taker.from_child, line, sizeof(line), 10000) >= 0);
        assert_true(strncmp(line, "msg ", 4) == 0);
    }
    assert_int_equal(pool_usage(&pub) - base, one);

    /* The subscriber holds k messages: exactly those stay allocated besides the ring's one. */
    for (int i = 0; i < k; i++) {
        send_line(pub.to_child, "pub 1");
        expect_line(&pub, "done");
        snprintf(want, sizeof(want), "held %d", 100001 + 1 + i);
        expect_take(&taker, "hold", want);
    }
    send_line(pub.to_child, "pub 10");
    expect_line(&pub, "done");
    held = pool_usage(&pub) - base;
    assert_int_equal(held, (size_t)(k + 1) * one);
    expect_take(&taker, "release", "released");
    settled = pool_usage(&pub) - base;
    assert_int_equal(settled, one);

    send_line(taker.to_child, "quit");
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&taker), 0);
    assert_int_equal(role_wait(&pub), 0);
}

/* ---- the broker is not on the message path --------------------------------------------- */

static uint64_t broker_requests(void)
{
    char *argv[] = {getenv("AGNOCAST_TEST_CTL"), "stats", "--json", NULL};
    char out[8192];
    uint64_t total = 0;
    const char *p = out;

    assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
    /* Sum the requests a client makes to register and to add or remove endpoints (codes 101
     * to 399); HELLO and the 4xx queries are agnocastctl's own. */
    while ((p = strstr(p, "\"code\":")) != NULL) {
        const char *count = strstr(p, "\"count\":");
        unsigned long code = strtoul(p + 7, NULL, 10);
        p += 7;
        if (count && code > 100 && code < 400)
            total += strtoull(count + 8, NULL, 10);
    }
    return total;
}

static void test_message_path_broker_requests_flat(void **state)
{
    struct pub_args pa = {"/mpath/flat", 1024, 0};
    struct sub_args sa = {"/mpath/flat", 1024, 0, 1, 10000, false};
    struct role pub, sub;
    uint64_t before, after;
    char line[128];

    (void)state;
    assert_int_equal(role_start(&sub, subscriber_role, &sa), 0);
    expect_line(&sub, "joined");
    assert_int_equal(role_start(&pub, publisher_role, &pa), 0);
    expect_line(&pub, "ready");
    before = broker_requests();
    for (int i = 0; i < 20; i++) {
        send_line(pub.to_child, "pub 500");
        expect_line(&pub, "done");
        usleep(20000);
    }
    assert_true(recv_line(sub.from_child, line, sizeof(line), 30000) >= 0);
    assert_string_equal(line, "ok 10000 missed 0");
    after = broker_requests();
    /* 10 000 messages cost the broker nothing. */
    assert_int_equal(after, before);
    send_line(pub.to_child, "quit");
    assert_int_equal(role_wait(&sub), 0);
    assert_int_equal(role_wait(&pub), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_path_one_to_one),
        cmocka_unit_test(test_message_path_two_to_two),
        cmocka_unit_test(test_message_path_no_mqueue),
        cmocka_unit_test(test_message_path_keep_last_slow_subscriber),
        cmocka_unit_test(test_message_path_callback_whole_ring_window),
        cmocka_unit_test(test_message_path_transient_local_matrix),
        cmocka_unit_test(test_message_path_volatile_joiner),
        cmocka_unit_test(test_message_path_ignore_local_and_retain),
        cmocka_unit_test(test_message_path_callback_take_reuses_handle),
        cmocka_unit_test(test_message_path_callback_frees_subscription),
        cmocka_unit_test(test_message_path_reclaim),
        cmocka_unit_test(test_message_path_publisher_churn_does_not_leak),
        cmocka_unit_test(test_message_path_broker_requests_flat),
    };

    return cmocka_run_group_tests(tests, harness_broker_setup, harness_broker_teardown);
}
