/* Unit tests for the broker's address-range allocator (agnocastd/ranges.c). */
#include <errno.h>
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ranges.h"

#define MiB (1024ull * 1024)
#define GiB (1024ull * MiB)

static void test_ranges_window_validate(void **state)
{
    char *why = NULL;

    assert_int_equal(ranges_window_validate(RANGES_DEFAULT_BASE, RANGES_DEFAULT_SIZE, NULL), 0);
    assert_int_equal(ranges_window_validate(RANGES_DEFAULT_BASE + 1, 1 * GiB, &why), -EINVAL);
    assert_non_null(strstr(why, "page aligned"));
    g_free(why);
    why = NULL;
    assert_int_equal(ranges_window_validate(RANGES_DEFAULT_BASE, 4097, &why), -EINVAL);
    g_free(why);
    assert_int_equal(ranges_window_validate(RANGES_DEFAULT_BASE, 0, NULL), -EINVAL);
    assert_int_equal(ranges_window_validate(0, 1 * GiB, NULL), -EINVAL);
    why = NULL;
    assert_int_equal(ranges_window_validate(RANGES_USER_TOP - GiB, 2 * GiB, &why), -EINVAL);
    assert_non_null(strstr(why, "user space"));
    g_free(why);
    assert_int_equal(ranges_window_validate(RANGES_USER_TOP, 1 * GiB, NULL), -EINVAL);
    /* Wrapping around 2^64 must not pass as "below the top". */
    assert_int_equal(ranges_window_validate(RANGES_DEFAULT_BASE, UINT64_MAX - 4095, NULL), -EINVAL);
    assert_int_equal(ranges_window_validate(RANGES_USER_TOP - GiB, GiB, NULL), 0);
    /* A one-page window that holds no 2 MiB boundary. */
    assert_int_equal(ranges_window_validate(2 * MiB + 4096, 4096, NULL), -EINVAL);
}

static void test_ranges_pool_size_rounding(void **state)
{
    uint64_t out = 0;

    assert_int_equal(ranges_pool_size(1, 64 * MiB, 4 * GiB, &out), 0);
    assert_int_equal(out, RANGES_POOL_UNIT);
    assert_int_equal(ranges_pool_size(RANGES_POOL_UNIT, 64 * MiB, 4 * GiB, &out), 0);
    assert_int_equal(out, RANGES_POOL_UNIT);
    assert_int_equal(ranges_pool_size(RANGES_POOL_UNIT + 1, 64 * MiB, 4 * GiB, &out), 0);
    assert_int_equal(out, 2 * RANGES_POOL_UNIT);
    /* 0 takes the default, rounded too: 64 MiB is 655.36 units. */
    assert_int_equal(ranges_pool_size(0, 64 * MiB, 4 * GiB, &out), 0);
    assert_int_equal(out, 656ull * RANGES_POOL_UNIT);
    assert_int_equal(out % 4096, 0);
    assert_int_equal(ranges_pool_size(4 * GiB + 1, 64 * MiB, 4 * GiB, &out), -EINVAL);
    assert_int_equal(ranges_pool_size(UINT64_MAX, 64 * MiB, UINT64_MAX, &out), -EINVAL);
    assert_int_equal(ranges_pool_size(4 * GiB, 64 * MiB, 4 * GiB, &out), 0);
    assert_true(out >= 4 * GiB);
}

static void test_ranges_alloc_alignment_and_first_fit(void **state)
{
    struct ranges *r = ranges_new(RANGES_DEFAULT_BASE + 4096, 64 * GiB);
    uint64_t a, b, c;

    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &a), 0);
    assert_int_equal(a % RANGES_ALIGN, 0);
    assert_true(a >= RANGES_DEFAULT_BASE + 4096);
    assert_int_equal(ranges_alloc(r, 3 * MiB, 0, &b), 0);
    assert_int_equal(b % RANGES_ALIGN, 0);
    assert_true(b >= a + RANGES_POOL_UNIT);
    assert_int_equal(b, a + RANGES_ALIGN);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &c), 0);
    assert_int_equal(c, b + 4 * MiB);
    /* Releasing the first makes it the first fit again. */
    assert_int_equal(ranges_release(r, a), 0);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &a), 0);
    assert_int_equal(a, b - RANGES_ALIGN);
    assert_int_equal(ranges_count(r), 3);
    assert_int_equal(ranges_alloc(r, 0, 0, &a), -EINVAL);
    ranges_free(r);
}

static void test_ranges_reuse_only_after_release(void **state)
{
    struct ranges *r = ranges_new(RANGES_DEFAULT_BASE, 4 * RANGES_ALIGN);
    uint64_t got[4], extra;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(ranges_alloc(r, RANGES_ALIGN, 0, &got[i]), 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(got[i], got[j]);
    }
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &extra), -ENOMEM);
    assert_int_equal(ranges_release(r, got[2]), 0);
    assert_int_equal(ranges_release(r, got[2]), -ENOENT);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &extra), 0);
    assert_int_equal(extra, got[2]);
    ranges_free(r);
}

static void test_ranges_want_base(void **state)
{
    struct ranges *r = ranges_new(RANGES_DEFAULT_BASE, 1 * GiB);
    uint64_t want = RANGES_DEFAULT_BASE + 10 * RANGES_ALIGN, got = 0, other;

    assert_int_equal(ranges_alloc(r, 3 * MiB, want, &got), 0);
    assert_int_equal(got, want);
    /* The same base, and one overlapping its tail, are taken. */
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, want, &other), -EADDRINUSE);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, want + RANGES_ALIGN, &other), -EADDRINUSE);
    /* A range below that would run into it is refused too. */
    assert_int_equal(ranges_alloc(r, 3 * MiB, want - RANGES_ALIGN, &other), -EADDRINUSE);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, want + 1, &other), -EINVAL);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, RANGES_DEFAULT_BASE + 2 * GiB, &other),
                     -EADDRINUSE);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, want + 2 * RANGES_ALIGN, &other), 0);
    assert_int_equal(other, want + 2 * RANGES_ALIGN);
    /* First fit still starts at the bottom of the window. */
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &other), 0);
    assert_int_equal(other, RANGES_DEFAULT_BASE);
    ranges_free(r);
}

static void test_ranges_alloc_avoiding_passes_every_span(void **state)
{
    struct ranges *r = ranges_new(RANGES_DEFAULT_BASE, 64 * MiB);
    /* Two spans that cover many candidate positions (the old search gave up after 8). */
    const struct ranges_span avoid[] = {
        {RANGES_DEFAULT_BASE, 20 * MiB + 4096},
        {RANGES_DEFAULT_BASE + 24 * MiB, 16 * MiB},
    };
    uint64_t a, b;

    assert_int_equal(ranges_alloc_avoiding(r, RANGES_POOL_UNIT, 0, avoid, 2, &a), 0);
    assert_int_equal(a, RANGES_DEFAULT_BASE + 22 * MiB);
    assert_int_equal(ranges_alloc_avoiding(r, 3 * MiB, 0, avoid, 2, &b), 0);
    assert_int_equal(b, RANGES_DEFAULT_BASE + 40 * MiB);
    /* want_base inside a span is taken; the window's rest fills up, then -ENOMEM. */
    assert_int_equal(
        ranges_alloc_avoiding(r, RANGES_POOL_UNIT, RANGES_DEFAULT_BASE + 2 * MiB, avoid, 2, &a),
        -EADDRINUSE);
    assert_int_equal(ranges_alloc_avoiding(r, 20 * MiB, 0, avoid, 2, &a), 0);
    assert_int_equal(a, RANGES_DEFAULT_BASE + 44 * MiB);
    assert_int_equal(ranges_alloc_avoiding(r, RANGES_POOL_UNIT, 0, avoid, 2, &a), -ENOMEM);
    /* Without the spans their addresses are free. */
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &a), 0);
    assert_int_equal(a, RANGES_DEFAULT_BASE);
    ranges_free(r);
}

static void test_ranges_exhaustion(void **state)
{
    struct ranges *r = ranges_new(RANGES_DEFAULT_BASE, 16 * MiB);
    uint64_t base;
    int n = 0;

    assert_int_equal(ranges_alloc(r, 17 * MiB, 0, &base), -ENOMEM);
    while (ranges_alloc(r, 3 * MiB, 0, &base) == 0)
        n++;
    assert_int_equal(n, 4);
    assert_int_equal(ranges_alloc(r, 3 * MiB, 0, &base), -ENOMEM);
    assert_int_equal(ranges_alloc(r, RANGES_POOL_UNIT, 0, &base), -ENOMEM);
    ranges_free(r);
}

static void test_ranges_random_no_overlap(void **state)
{
    enum { SLOTS = 64, ROUNDS = 4000 };
    const uint64_t wbase = RANGES_DEFAULT_BASE, wsize = 1 * GiB;
    struct ranges *r = ranges_new(wbase, wsize);
    uint64_t base[SLOTS] = {0}, size[SLOTS] = {0};
    GRand *rng = g_rand_new_with_seed(12345);
    int nomem = 0;

    for (int round = 0; round < ROUNDS; round++) {
        int i = g_rand_int_range(rng, 0, SLOTS);
        if (size[i] != 0) {
            assert_int_equal(ranges_release(r, base[i]), 0);
            size[i] = 0;
            continue;
        }
        uint64_t sz = (uint64_t)g_rand_int_range(rng, 1, 400) * RANGES_POOL_UNIT;
        int rc = ranges_alloc(r, sz, 0, &base[i]);
        if (rc == -ENOMEM) {
            nomem++;
            continue;
        }
        assert_int_equal(rc, 0);
        size[i] = sz;
        assert_int_equal(base[i] % RANGES_ALIGN, 0);
        assert_true(base[i] >= wbase && base[i] + sz <= wbase + wsize);
        for (int j = 0; j < SLOTS; j++) {
            if (j == i || size[j] == 0)
                continue;
            assert_true(base[i] + size[i] <= base[j] || base[j] + size[j] <= base[i]);
        }
    }
    g_rand_free(rng);
    ranges_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_window_validate),
        cmocka_unit_test(test_ranges_pool_size_rounding),
        cmocka_unit_test(test_ranges_alloc_alignment_and_first_fit),
        cmocka_unit_test(test_ranges_reuse_only_after_release),
        cmocka_unit_test(test_ranges_want_base),
        cmocka_unit_test(test_ranges_alloc_avoiding_passes_every_span),
        cmocka_unit_test(test_ranges_exhaustion),
        cmocka_unit_test(test_ranges_random_no_overlap),
    };
    return cmocka_run_group_tests_name("ranges", tests, NULL, NULL);
}
