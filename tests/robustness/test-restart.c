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

#include "harness.h"

#define GRACE "2"

static const char *const broker_args[] = {"--pool-size", "4M", "--restart-grace", GRACE, NULL};

static bool overlap(const struct agnocast_wire_register_reply *a,
                    const struct agnocast_wire_register_reply *b)
{
    return a->base < b->base + b->size && b->base < a->base + a->size;
}

/* A live process (the agent) connects, says HELLO and registers. */
static void agent_register(struct broker *b, struct agent *a, struct raw_peer *p, uint64_t want)
{
    char why[AGNOCAST_ERROR_TEXT_MAX];
    int rc;

    raw_peer_init(p, agent_connect(a, b->socket));
    assert_true(p->fd >= 0);
    assert_int_equal(raw_hello(p), 0);
    rc = raw_register(p, 0, want, why, sizeof(why));
    if (rc != 0)
        fail_msg("register (want_base 0x%llx) failed: %d %s", (unsigned long long)want, rc, why);
}

/* Waits until the broker has handled every leave (the test closed all connections). */
static void wait_all_left(struct broker *b)
{
    struct raw_peer q;
    long total = -1;

    raw_peer_init(&q, socket_connect(b->socket));
    assert_int_equal(raw_hello(&q), 0);
    for (int i = 0; i < 250 && (total = raw_list_total(&q, AGNOCAST_MSG_LIST_PROCESSES)) != 0; i++)
        usleep(20 * 1000);
    assert_int_equal(total, 0);
    raw_peer_close(&q);
}

static void test_restart_reserves_ranges_of_live_processes(void **state)
{
    struct broker b;
    struct agent old, idle, dead, fresh;
    struct raw_peer p_old, p_idle, p_dead, p_fresh, p_again;
    struct agnocast_wire_register_reply r_old, r_idle, r_dead;
    char state_path[400], why[AGNOCAST_ERROR_TEXT_MAX];
    struct stat st;

    assert_int_equal(broker_start(&b, broker_args), 0);
    assert_int_equal(agent_start(&old), 0);
    assert_int_equal(agent_start(&idle), 0);
    assert_int_equal(agent_start(&dead), 0);
    assert_int_equal(agent_start(&fresh), 0);
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
    assert_int_equal(broker_signal(&b, SIGKILL), 128 + SIGKILL);
    raw_peer_close(&p_old);
    raw_peer_close(&p_idle);
    raw_peer_close(&p_dead);
    agent_stop(&dead);
    assert_int_equal(broker_restart(&b, broker_args), 0);

    /* Another process cannot take a reserved range by asking for it... */
    raw_peer_init(&p_again, socket_connect(b.socket));
    assert_int_equal(raw_hello(&p_again), 0);
    assert_int_equal(raw_register(&p_again, 0, r_idle.base, why, sizeof(why)), -EADDRINUSE);
    assert_non_null(strstr(why, "before the broker restarted"));
    /* ...while the dead process's range was free at once. */
    assert_int_equal(raw_register(&p_again, 0, r_dead.base, why, sizeof(why)), 0);
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
    for (int i = 0; i < 100 && !broker_log_has(&b, "expired"); i++)
        usleep(100 * 1000);
    assert_true(broker_log_has(&b, "expired"));
    raw_peer_close(&p_again);
    raw_peer_init(&p_again, socket_connect(b.socket));
    assert_int_equal(raw_hello(&p_again), 0);
    usleep(100 * 1000); /* the previous connection's leave is handled */
    assert_int_equal(raw_register(&p_again, 0, r_idle.base, why, sizeof(why)), 0);
    assert_int_equal(p_again.range.base, r_idle.base);

    raw_peer_close(&p_again);
    raw_peer_close(&p_old);
    raw_peer_close(&p_fresh);
    agent_stop(&old);
    agent_stop(&idle);
    agent_stop(&fresh);
    /* Nothing registered at an orderly exit: the state file goes with the socket. */
    wait_all_left(&b);
    assert_int_equal(broker_signal(&b, SIGTERM), 0);
    assert_int_equal(stat(state_path, &st), -1);
    broker_cleanup(&b);
}

static void test_restart_reservation_is_for_that_pid_only(void **state)
{
    struct broker b;
    struct agent owner, thief;
    struct raw_peer p_owner, p_thief;
    struct agnocast_wire_register_reply r_owner;
    char why[AGNOCAST_ERROR_TEXT_MAX];

    assert_int_equal(broker_start(&b, broker_args), 0);
    assert_int_equal(agent_start(&owner), 0);
    assert_int_equal(agent_start(&thief), 0);
    agent_register(&b, &owner, &p_owner, 0);
    r_owner = p_owner.range;
    /* The broker dies first: a connection closed before would be a process that left. */
    assert_int_equal(broker_signal(&b, SIGKILL), 128 + SIGKILL);
    raw_peer_close(&p_owner);
    assert_int_equal(broker_restart(&b, broker_args), 0);

    /* Another live process asks for the owner's base: refused, whatever it claims. */
    raw_peer_init(&p_thief, agent_connect(&thief, b.socket));
    assert_int_equal(raw_hello(&p_thief), 0);
    assert_int_equal(raw_register(&p_thief, 0, r_owner.base, why, sizeof(why)), -EADDRINUSE);
    /* A range overlapping the reservation (a 4M pool spans more than 2 MiB) is refused too. */
    assert_true(r_owner.size > (2u << 20));
    assert_int_equal(raw_register(&p_thief, 0, r_owner.base + (2u << 20), why, sizeof(why)),
                     -EADDRINUSE);
    raw_peer_close(&p_thief);

    /* The owner registering without want_base gives its reservation up. */
    agent_register(&b, &owner, &p_owner, 0);
    assert_true(broker_log_has(&b, "without claiming its reserved range"));
    raw_peer_close(&p_owner);
    agent_stop(&owner);
    agent_stop(&thief);
    assert_int_equal(broker_signal(&b, SIGTERM), 0);
    broker_cleanup(&b);
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
