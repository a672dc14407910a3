/*
 * Load: 200 client processes, each registering and adding 5 endpoints on topics of its own
 * (1000 topics), then leaving together. Registration and clean-up must be exact; the broker's
 * memory and CPU time are printed for the record.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define PROCESSES 200
#define ENDPOINTS 5

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One client process: registers, adds its endpoints, says so, and stays until told. */
static int client(const char *path, int n, int ready, int hold)
{
    struct raw_peer p;
    char c = 'r';

    raw_peer_init(&p, socket_connect(path));
    if (p.fd < 0 || raw_hello(&p) < 0 || raw_register(&p, 1u << 20, 0, NULL, 0) < 0)
        return 1;
    for (int i = 0; i < ENDPOINTS; i++) {
        char topic[64];
        snprintf(topic, sizeof(topic), "/load/p%d/t%d", n, i);
        if (raw_add(&p, i % 2 == 0, (uint32_t)i, topic, NULL, 0) < 0)
            return 2;
    }
    if (write(ready, &c, 1) != 1)
        return 3;
    /* Reads until the parent closes the pipe (or dies). */
    if (read(hold, &c, 1) < 0)
        return 4;
    return 0;
}

static long poll_total(struct raw_peer *q, uint16_t kind, long want, int timeout_ms)
{
    long total = -1;

    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        total = raw_list_total(q, kind);
        if (total == want)
            break;
        usleep(20 * 1000);
    }
    return total;
}

static void test_load_200_processes_1000_topics(void **state)
{
    static pid_t pids[PROCESSES];
    struct broker b;
    struct raw_peer q;
    int ready[2], hold[2], failed = 0;
    long rss0, cpu0, rss1, cpu1, rss2, cpu2;
    double t0, t1, t2;

    raise_nofile();
    assert_int_equal(broker_start(&b, NULL), 0);
    rss0 = proc_rss_kb(b.pid);
    cpu0 = proc_cpu_ms(b.pid);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    t0 = now_s();
    for (int i = 0; i < PROCESSES; i++) {
        fflush(NULL);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(ready[0]);
            close(hold[1]);
            _exit(client(b.socket, i, ready[1], hold[0]));
        }
    }
    close(ready[1]);
    close(hold[0]);
    for (int got = 0; got < PROCESSES;) {
        struct pollfd pf = {.fd = ready[0], .events = POLLIN};
        char buf[PROCESSES];
        ssize_t n = 0;
        if (poll(&pf, 1, 20000) != 1 || (n = read(ready[0], buf, sizeof(buf))) <= 0)
            fail_msg("only %d of %d client processes got registered", got, PROCESSES);
        got += (int)n;
    }
    t1 = now_s();

    raw_peer_init(&q, socket_connect(b.socket));
    assert_int_equal(raw_hello(&q), 0);
    assert_int_equal(raw_list_total(&q, AGNOCAST_MSG_LIST_PROCESSES), PROCESSES);
    assert_int_equal(raw_list_total(&q, AGNOCAST_MSG_LIST_TOPICS), PROCESSES * ENDPOINTS);
    rss1 = proc_rss_kb(b.pid);
    cpu1 = proc_cpu_ms(b.pid);

    /* All leave at once: the broker learns it from the sockets closing. */
    close(hold[1]);
    for (int i = 0; i < PROCESSES; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    assert_int_equal(failed, 0);
    assert_int_equal(poll_total(&q, AGNOCAST_MSG_LIST_PROCESSES, 0, 10000), 0);
    assert_int_equal(raw_list_total(&q, AGNOCAST_MSG_LIST_TOPICS), 0);
    t2 = now_s();
    rss2 = proc_rss_kb(b.pid);
    cpu2 = proc_cpu_ms(b.pid);
    print_message("load: %d processes, %d topics registered in %.2f s, all gone %.2f s later\n",
                  PROCESSES, PROCESSES * ENDPOINTS, t1 - t0, t2 - t1);
    print_message("load: broker VmRSS %ld kB idle, %ld kB with all registered, %ld kB after; "
                  "CPU time (utime+stime) %ld ms to register, %ld ms to clean up\n",
                  rss0, rss1, rss2, cpu1 - cpu0, cpu2 - cpu1);
    raw_peer_close(&q);
    close(ready[0]);
    assert_int_equal(broker_signal(&b, SIGTERM), 0);
    broker_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_200_processes_1000_topics),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("load", tests, NULL, NULL);
}
