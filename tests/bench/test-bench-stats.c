/* Unit tests of the benchmark harness pieces: percentiles, JSON lines, one paced baseline case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench-baseline.h"
#include "bench-stats.h"

static void test_bench_stats_percentiles_nearest_rank(void **state)
{
    uint64_t v[100];
    struct bench_stats st;

    for (int i = 0; i < 100; i++)
        v[i] = (uint64_t)(100 - i) * 1000; /* 100 µs down to 1 µs, unsorted */
    assert_int_equal(bench_stats_compute(v, 100, &st), 100);
    assert_true(st.p50_us == 50.0);
    assert_true(st.p90_us == 90.0);
    assert_true(st.p99_us == 99.0);
    assert_true(st.max_us == 100.0);
}

static void test_bench_stats_ignores_lost_samples(void **state)
{
    uint64_t v[] = {0, 3000, 0, 1000, 2000};
    struct bench_stats st;

    assert_int_equal(bench_stats_compute(v, 5, &st), 3);
    assert_true(st.p50_us == 2.0);
    assert_true(st.max_us == 3.0);
    assert_int_equal(st.count, 3);
}

static void test_bench_stats_print_is_one_json_line(void **state)
{
    struct bench_stats st = {.p50_us = 1.5, .p90_us = 2, .p99_us = 3, .max_us = 4, .count = 7};
    char buf[512] = {0};
    FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

    bench_stats_print(f, "latency", "uds", 64, &st, ",\"subscribers\":2");
    bench_print_skip(f, "latency", "iceoryx-busy", "no \"roudi\"");
    fclose(f);
    assert_string_equal(buf,
                        "{\"case\":\"latency\",\"transport\":\"uds\",\"size\":64,\"p50_us\":1.500,"
                        "\"p90_us\":2.000,\"p99_us\":3.000,\"max_us\":4.000,\"count\":7,"
                        "\"subscribers\":2}\n"
                        "{\"case\":\"latency\",\"transport\":\"iceoryx-busy\","
                        "\"skipped\":\"no \\\"roudi\\\"\"}\n");
}

/* The whole paced machinery (fork, ready, pacing, acks, report) over the eventfd floor. */
static void test_bench_baseline_eventfd_case_runs(void **state)
{
    struct bench_case c = {.transport = "eventfd", .size = 64, .count = 50, .warm = 5, .nsubs = 1};
    char buf[512] = {0};
    FILE *saved = stdout;

    stdout = fmemopen(buf, sizeof(buf) - 1, "w");
    int rc = bench_baseline_latency(&c);
    fclose(stdout);
    stdout = saved;
    assert_int_equal(rc, 0);
    assert_non_null(strstr(buf, "\"transport\":\"eventfd\""));
    assert_non_null(strstr(buf, "\"count\":50}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bench_stats_percentiles_nearest_rank),
        cmocka_unit_test(test_bench_stats_ignores_lost_samples),
        cmocka_unit_test(test_bench_stats_print_is_one_json_line),
        cmocka_unit_test(test_bench_baseline_eventfd_case_runs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
