/* Broker restart: the state file, reservations for live processes, and their expiry. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "robust.h"

#define GRACE "2"

static const char *const broker_args[] = {"--pool-size", "4M", "--restart-grace", GRACE, NULL};

static bool overlap(const struct agnocast_wire_register_reply *a,
                    const struct agnocast_wire_register_reply *b)
{
    return a->base < b->base + b->size && b->base < a->base + a->size;
}

/* A live process (the agent) connects, says HELLO and registers. */
static void agent_register(struct rb_broker *b, struct rb_agent *a, struct rb_peer *p,
                           uint64_t want)
{
    char why[AGNOCAST_ERROR_TEXT_MAX];
    int rc;

    rb_peer_init(p, rb_agent_connect(a, b->socket));
    assert_true(p->fd >= 0);
    assert_int_equal(rb_hello(p), 0);
    rc = rb_register(p, 0, want, why, sizeof(why));
    if (rc != 0)
        fail_msg("register (want_base 0x%llx) failed: %d %s", (unsigned long long)want, rc, why);
}

/* Waits until the broker has handled every leave (the test closed all connections). */
static void wait_all_left(struct rb_broker *b)
{
    struct rb_peer q;
    long total = -1;

    rb_peer_init(&q, rb_connect(b->socket));
    assert_int_equal(rb_hello(&q), 0);
    for (int i = 0; i < 250 && (total = rb_list_total(&q, AGNOCAST_MSG_LIST_PROCESSES)) != 0; i++)
        usleep(20 * 1000);
    assert_int_equal(total, 0);
    rb_peer_close(&q);
}

static void test_restart_reserves_ranges_of_live_processes(void **state)
{
    struct rb_broker b;
    struct rb_agent old, idle, dead, fresh;
    struct rb_peer p_old, p_idle, p_dead, p_fresh, p_again;
    struct agnocast_wire_register_reply r_old, r_idle, r_dead;
    char state_path[400], why[AGNOCAST_ERROR_TEXT_MAX];
    struct stat st;

    assert_int_equal(rb_broker_start(&b, broker_args), 0);
    assert_int_equal(rb_agent_start(&old), 0);
    assert_int_equal(rb_agent_start(&idle), 0);
    assert_int_equal(rb_agent_start(&dead), 0);
    assert_int_equal(rb_agent_start(&fresh), 0);
    agent_register(&b, &old, &p_old, 0);
    agent_register(&b, &idle, &p_idle, 0);
    agent_register(&b, &dead, &p_dead, 0);
    r_old = p_old.range;
    r_idle = p_idle.range;
    r_dead = p_dead.range;

    /* The table is next to the socket, owner-only, and names every registered process. */
    snprintf(state_path, sizeof(state_path), "%s.state", b.socket);
    assert_int_equal(stat(state_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    /* The broker dies; one client dies while it is down; a new broker comes up. */
    assert_int_equal(rb_broker_signal(&b, SIGKILL), 128 + SIGKILL);
    rb_peer_close(&p_old);
    rb_peer_close(&p_idle);
    rb_peer_close(&p_dead);
    rb_agent_stop(&dead);
    assert_int_equal(rb_broker_restart(&b, broker_args), 0);

    /* Another process cannot take a reserved range by asking for it... */
    rb_peer_init(&p_again, rb_connect(b.socket));
    assert_int_equal(rb_hello(&p_again), 0);
    assert_int_equal(rb_register(&p_again, 0, r_idle.base, why, sizeof(why)), -EADDRINUSE);
    assert_non_null(strstr(why, "before the broker restarted"));
    /* ...while the dead process's range was free at once. */
    assert_int_equal(rb_register(&p_again, 0, r_dead.base, why, sizeof(why)), 0);
    assert_int_equal(p_again.range.base, r_dead.base);
    /* A new process gets a range apart from every live one's. */
    agent_register(&b, &fresh, &p_fresh, 0);
    assert_false(overlap(&p_fresh.range, &r_old));
    assert_false(overlap(&p_fresh.range, &r_idle));
    assert_false(overlap(&p_fresh.range, &p_again.range));

    /* The old process re-registers and gets exactly its range back. */
    agent_register(&b, &old, &p_old, r_old.base);
    assert_int_equal(p_old.range.base, r_old.base);
    assert_int_equal(p_old.range.size, r_old.size);

    /* The one that never re-registers loses its reservation after the grace period. */
    for (int i = 0; i < 100 && !rb_broker_log_has(&b, "expired"); i++)
        usleep(100 * 1000);
    assert_true(rb_broker_log_has(&b, "expired"));
    rb_peer_close(&p_again);
    rb_peer_init(&p_again, rb_connect(b.socket));
    assert_int_equal(rb_hello(&p_again), 0);
    usleep(100 * 1000); /* the previous connection's leave is handled */
    assert_int_equal(rb_register(&p_again, 0, r_idle.base, why, sizeof(why)), 0);
    assert_int_equal(p_again.range.base, r_idle.base);

    rb_peer_close(&p_again);
    rb_peer_close(&p_old);
    rb_peer_close(&p_fresh);
    rb_agent_stop(&old);
    rb_agent_stop(&idle);
    rb_agent_stop(&fresh);
    /* Nothing registered at an orderly exit: the state file goes with the socket. */
    wait_all_left(&b);
    assert_int_equal(rb_broker_signal(&b, SIGTERM), 0);
    assert_int_equal(stat(state_path, &st), -1);
    rb_broker_cleanup(&b);
}

static void test_restart_reservation_is_for_that_pid_only(void **state)
{
    struct rb_broker b;
    struct rb_agent owner, thief;
    struct rb_peer p_owner, p_thief;
    struct agnocast_wire_register_reply r_owner;
    char why[AGNOCAST_ERROR_TEXT_MAX];

    assert_int_equal(rb_broker_start(&b, broker_args), 0);
    assert_int_equal(rb_agent_start(&owner), 0);
    assert_int_equal(rb_agent_start(&thief), 0);
    agent_register(&b, &owner, &p_owner, 0);
    r_owner = p_owner.range;
    /* The broker dies first: a connection closed before would be a process that left. */
    assert_int_equal(rb_broker_signal(&b, SIGKILL), 128 + SIGKILL);
    rb_peer_close(&p_owner);
    assert_int_equal(rb_broker_restart(&b, broker_args), 0);

    /* Another live process asks for the owner's base: refused, whatever it claims. */
    rb_peer_init(&p_thief, rb_agent_connect(&thief, b.socket));
    assert_int_equal(rb_hello(&p_thief), 0);
    assert_int_equal(rb_register(&p_thief, 0, r_owner.base, why, sizeof(why)), -EADDRINUSE);
    /* A range overlapping the reservation (a 4M pool spans more than 2 MiB) is refused too. */
    assert_true(r_owner.size > (2u << 20));
    assert_int_equal(rb_register(&p_thief, 0, r_owner.base + (2u << 20), why, sizeof(why)),
                     -EADDRINUSE);
    rb_peer_close(&p_thief);

    /* The owner registering without want_base gives its reservation up. */
    agent_register(&b, &owner, &p_owner, 0);
    assert_true(rb_broker_log_has(&b, "without claiming its reserved range"));
    rb_peer_close(&p_owner);
    rb_agent_stop(&owner);
    rb_agent_stop(&thief);
    assert_int_equal(rb_broker_signal(&b, SIGTERM), 0);
    rb_broker_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_reserves_ranges_of_live_processes),
        cmocka_unit_test(test_restart_reservation_is_for_that_pid_only),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("restart", tests, NULL, NULL);
}
