/* Smoke tests of the benchmark cases against a private broker: take busy-poll, throughput to
 * four subscribers, and the scene (its layout, and a small scene over agnocast, over Unix
 * sockets and over both floors). Figures are not checked, only that each case runs and reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench-agnocast.h"
#include "bench-scene.h"
#include "harness-broker.h"

static struct broker broker;

static int start_broker(void **state)
{
    setenv("MEMPOOL_SIZE", "64M", 1);
    return broker_start(&broker, NULL);
}

static int stop_broker(void **state)
{
    broker_cleanup(&broker);
    return 0;
}

/* Runs fn(arg) with stdout captured into buf; returns fn's result. */
static int captured(char *buf, size_t len, int (*fn)(void *), void *arg)
{
    FILE *saved = stdout;
    int rc;

    memset(buf, 0, len);
    stdout = fmemopen(buf, len - 1, "w");
    rc = fn(arg);
    fclose(stdout);
    stdout = saved;
    return rc;
}

/* The value of the JSON member `"name":` in line, as a number (-1 if absent). */
static double member(const char *line, const char *name)
{
    char key[64];
    const char *p;

    snprintf(key, sizeof(key), "\"%s\":", name);
    p = strstr(line, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

static int run_latency(void *arg)
{
    return bench_agnocast_latency(arg);
}

static int run_throughput(void *arg)
{
    return bench_agnocast_throughput(arg);
}

static void test_bench_take_busy_case_runs(void **state)
{
    struct bench_case c = {.transport = "agnocast-take-busy",
                           .size = 64,
                           .busy = true,
                           .take = true,
                           .count = 200,
                           .warm = 10,
                           .nsubs = 1};
    char buf[1024];

    assert_int_equal(captured(buf, sizeof(buf), run_latency, &c), 0);
    assert_non_null(strstr(buf, "\"transport\":\"agnocast-take-busy\""));
    assert_true(member(buf, "count") == 200);
}

static void test_bench_throughput_reports_each_of_four(void **state)
{
    struct bench_case c = {
        .transport = "agnocast-event", .size = 64, .count = 2000, .warm = 0, .nsubs = 4};
    char buf[2048];

    assert_int_equal(captured(buf, sizeof(buf), run_throughput, &c), 0);
    assert_true(member(buf, "subscribers") == 4);
    assert_true(member(buf, "published") == 2000);
    assert_non_null(strstr(buf, "\"received_each\":["));
    assert_non_null(strstr(buf, "\"msgs_per_s_each\":["));
}

static void test_bench_scene_layout_gives_every_topic_two_readers(void **state)
{
    struct bench_scene sc;
    unsigned readers[200] = {0}, subs[2];
    uint32_t topics[BENCH_SCENE_MAX_PER_PROCESS];

    bench_scene_defaults(&sc);
    assert_int_equal(bench_scene_per_pub(&sc), 20);
    for (unsigned j = 0; j < sc.subscribers; j++) {
        unsigned n = bench_scene_sub_topics(&sc, j, topics);
        assert_int_equal(n, 20);
        for (unsigned i = 0; i < n; i++) {
            readers[topics[i]]++;
            bench_scene_topic_subs(&sc, topics[i], subs);
            assert_true(subs[0] == j || subs[1] == j);
        }
    }
    for (unsigned t = 0; t < sc.topics; t++)
        assert_int_equal(readers[t], 2);
}

/* A small scene: 8 topics, 2 publisher and 4 subscriber processes, 200 Hz, 0.3 s. */
static void small_scene(struct bench_scene *sc, const char *transport)
{
    bench_scene_defaults(sc);
    sc->topics = 8;
    sc->publishers = 2;
    sc->subscribers = 4;
    sc->rate_hz = 200;
    sc->seconds = 0.3;
    sc->warm = 0.05;
    sc->transport = transport;
}

static int run_scene_agnocast(void *arg)
{
    return bench_scene_run(arg, &bench_scene_agnocast);
}

static int run_scene_uds(void *arg)
{
    return bench_scene_run(arg, &bench_scene_uds);
}

static int run_scene_floor(void *arg)
{
    return bench_scene_run(arg, &bench_scene_floor);
}

static int run_scene_floor_pipes(void *arg)
{
    return bench_scene_run(arg, &bench_scene_floor_pipes);
}

static void check_scene_line(const char *buf, const char *transport)
{
    char want[64];

    snprintf(want, sizeof(want), "\"transport\":\"%s\"", transport);
    assert_non_null(strstr(buf, "\"case\":\"scene\""));
    assert_non_null(strstr(buf, want));
    assert_true(member(buf, "published") > 0);
    assert_true(member(buf, "received") > 0);
    assert_true(member(buf, "received") <= member(buf, "expected"));
    assert_true(member(buf, "p999_us") > 0);
    assert_true(member(buf, "cpu_ms_per_s") > 0);
    /* Both kinds of process ran and slept: the split and the wake-ups per message are there. */
    assert_true(member(buf, "publisher_cpu_ms_per_s") > 0);
    assert_true(member(buf, "subscriber_cpu_ms_per_s") > 0);
    assert_true(member(buf, "subscriber_slices_per_msg") > 0);
}

static void test_bench_scene_agnocast_runs(void **state)
{
    struct bench_scene sc;
    char buf[2048];

    small_scene(&sc, "agnocast-event");
    sc.daemon_pid = broker.pid;
    assert_int_equal(captured(buf, sizeof(buf), run_scene_agnocast, &sc), 0);
    check_scene_line(buf, "agnocast-event");
}

static void test_bench_scene_uds_runs(void **state)
{
    struct bench_scene sc;
    char buf[2048];

    small_scene(&sc, "uds");
    assert_int_equal(captured(buf, sizeof(buf), run_scene_uds, &sc), 0);
    check_scene_line(buf, "uds");
}

/* The floors: their subscribers sleep with no timeout, so this also checks that the runner's
 * stop wakes them (the run would hang, then fail, otherwise). */
static void test_bench_scene_floors_run(void **state)
{
    static const struct {
        const char *transport;
        int (*run)(void *);
    } floors[] = {{"eventfd-floor", run_scene_floor}, {"pipe-epoll-floor", run_scene_floor_pipes}};
    struct bench_scene sc;
    char buf[2048];

    for (size_t i = 0; i < sizeof(floors) / sizeof(floors[0]); i++) {
        small_scene(&sc, floors[i].transport);
        assert_int_equal(captured(buf, sizeof(buf), floors[i].run, &sc), 0);
        check_scene_line(buf, floors[i].transport);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_take_busy_case_runs),
        cmocka_unit_test(test_bench_throughput_reports_each_of_four),
        cmocka_unit_test(test_bench_scene_layout_gives_every_topic_two_readers),
        cmocka_unit_test(test_bench_scene_agnocast_runs),
        cmocka_unit_test(test_bench_scene_uds_runs),
        cmocka_unit_test(test_bench_scene_floors_run),
    };

    return cmocka_run_group_tests(tests, start_broker, stop_broker);
}
