/* Unit tests of the segment allocator (libagnocast/pool.c) against a reference model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "pool.h"

#define AREA_SIZE (4u << 20)
#define SLOTS     512

/* The model: what each live allocation should be and hold. */
struct live {
    uint8_t *p;
    size_t size; /* asked for */
    size_t align;
    uint8_t fill; /* every byte of the first `size` bytes */
};

struct fixture {
    void *area;
    size_t area_size;
    struct agn_pool pool;
    struct live live[SLOTS];
    uint64_t rng;
};

static uint64_t rnd(struct fixture *f)
{
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 7;
    f->rng ^= f->rng << 17;
    return f->rng;
}

static int setup_size(void **state, size_t size)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f)
        return -1;
    f->area_size = size;
    f->area = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (f->area == MAP_FAILED)
        return -1;
    f->rng = 0x9e3779b97f4a7c15ull;
    agn_pool_init(&f->pool, f->area, size);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_size(state, AREA_SIZE);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    agn_pool_fini(&f->pool);
    munmap(f->area, f->area_size);
    free(f);
    return 0;
}

static size_t capacity_free(struct fixture *f)
{
    struct agn_pool_stats st;

    assert_int_equal(agn_pool_check(&f->pool, &st), 0);
    return st.largest_free;
}

static void check_contents(const struct live *l)
{
    for (size_t i = 0; i < l->size; i++)
        if (l->p[i] != l->fill)
            fail_msg("allocation %p of %zu bytes changed at byte %zu", (void *)l->p, l->size, i);
}

/* No two live allocations overlap, each is inside the pool, aligned, and big enough. */
static void check_model(struct fixture *f)
{
    struct {
        uintptr_t lo, hi;
    } iv[SLOTS];
    size_t n = 0;

    for (int i = 0; i < SLOTS; i++) {
        struct live *l = &f->live[i];
        size_t usable;
        if (!l->p)
            continue;
        usable = agn_pool_usable_size(&f->pool, l->p);
        assert_true(usable >= l->size);
        assert_true((uintptr_t)l->p % l->align == 0);
        assert_true((uintptr_t)l->p >= f->pool.start && (uintptr_t)l->p + usable <= f->pool.end);
        assert_ptr_equal(agn_pool_owner(l->p, NULL), &f->pool);
        iv[n].lo = (uintptr_t)l->p;
        iv[n].hi = (uintptr_t)l->p + usable;
        n++;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (iv[i].lo < iv[j].hi && iv[j].lo < iv[i].hi)
                fail_msg("blocks %#lx and %#lx overlap", (unsigned long)iv[i].lo,
                         (unsigned long)iv[j].lo);
    assert_int_equal(agn_pool_check(&f->pool, NULL), 0);
}

static size_t random_size(struct fixture *f)
{
    switch (rnd(f) % 8) {
    case 0:
        return rnd(f) % 17; /* tiny, including 0 */
    case 1:
    case 2:
    case 3:
        return rnd(f) % 256;
    case 4:
    case 5:
        return rnd(f) % 4096;
    case 6:
        return rnd(f) % 65536;
    default:
        return rnd(f) % (256 * 1024);
    }
}

static void op_alloc(struct fixture *f, struct live *l)
{
    size_t size = random_size(f);
    size_t align = 16;
    uint8_t *p;

    if (rnd(f) % 4 == 0) {
        align = (size_t)1 << (4 + rnd(f) % 9); /* 16 .. 4096 */
        p = agn_pool_memalign(&f->pool, align, size);
    } else {
        p = agn_pool_alloc(&f->pool, size);
    }
    if (!p)
        return; /* the pool is full: fine, the model stays as it was */
    *l = (struct live){.p = p, .size = size, .align = align, .fill = (uint8_t)rnd(f)};
    memset(p, l->fill, size);
}

static void op_realloc(struct fixture *f, struct live *l)
{
    size_t size = random_size(f);
    uint8_t *p;

    check_contents(l);
    p = agn_pool_realloc(&f->pool, l->p, size);
    if (!p) {
        check_contents(l); /* failed: the old block is untouched */
        return;
    }
    for (size_t i = 0; i < (size < l->size ? size : l->size); i++)
        assert_int_equal(p[i], l->fill);
    l->p = p;
    l->size = size;
    l->align = 16;
    memset(p, l->fill, size);
}

static void free_all(struct fixture *f)
{
    for (int i = 0; i < SLOTS; i++) {
        if (f->live[i].p) {
            check_contents(&f->live[i]);
            agn_pool_free(&f->pool, f->live[i].p);
            f->live[i].p = NULL;
        }
    }
}

/* The whole area minus control block, area header and end sentinel, as one free block. */
static void assert_one_free_block(struct fixture *f, size_t expect_largest)
{
    struct agn_pool_stats st;

    assert_int_equal(agn_pool_check(&f->pool, &st), 0);
    assert_int_equal(st.free_blocks, 1);
    assert_int_equal(st.used_blocks, 0);
    assert_int_equal(agn_pool_used(&f->pool), 0);
    assert_int_equal(st.largest_free, expect_largest);
}

static void test_pool_random_against_model(void **state)
{
    struct fixture *f = *state;
    size_t initial = capacity_free(f);

    for (int step = 0; step < 20000; step++) {
        struct live *l = &f->live[rnd(f) % SLOTS];
        if (!l->p) {
            op_alloc(f, l);
        } else if (rnd(f) % 3 == 0) {
            op_realloc(f, l);
        } else {
            check_contents(l);
            agn_pool_free(&f->pool, l->p);
            l->p = NULL;
        }
        if (step % 1000 == 0)
            check_model(f);
    }
    check_model(f);
    free_all(f);
    assert_one_free_block(f, initial);
}

static void test_pool_used_is_exact(void **state)
{
    struct fixture *f = *state;
    size_t sum = 0;
    void *p[64];

    for (int i = 0; i < 64; i++) {
        p[i] = agn_pool_alloc(&f->pool, (size_t)i * 37);
        assert_non_null(p[i]);
        /* Header (16 bytes) plus the usable payload: the block as the pool counts it. */
        sum += agn_pool_usable_size(&f->pool, p[i]) + 16;
        assert_int_equal(agn_pool_used(&f->pool), sum);
    }
    for (int i = 0; i < 64; i += 2) {
        sum -= agn_pool_usable_size(&f->pool, p[i]) + 16;
        agn_pool_free(&f->pool, p[i]);
        assert_int_equal(agn_pool_used(&f->pool), sum);
    }
    for (int i = 1; i < 64; i += 2)
        agn_pool_free(&f->pool, p[i]);
    assert_int_equal(agn_pool_used(&f->pool), 0);
}

static void test_pool_usable_size_bounds_waste(void **state)
{
    struct fixture *f = *state;

    for (size_t size = 0; size < 300000; size = size * 5 / 4 + 1) {
        void *p = agn_pool_alloc(&f->pool, size);
        size_t u;
        assert_non_null(p);
        u = agn_pool_usable_size(&f->pool, p);
        assert_true(u >= size);
        /* Bounded internal fragmentation: under 1/32 of the size plus one minimal block. */
        assert_true(u <= size + size / 32 + 32);
        agn_pool_free(&f->pool, p);
    }
    assert_int_equal(agn_pool_usable_size(&f->pool, (char *)f->area + 8), 0);
}

static void test_pool_memalign_up_to_page_and_beyond(void **state)
{
    struct fixture *f = *state;
    size_t initial = capacity_free(f);
    void *p[40];
    int n = 0;

    for (size_t align = 1; align <= 65536; align <<= 1) {
        for (size_t size = 1; size < 10000; size *= 7) {
            void *q = agn_pool_memalign(&f->pool, align, size);
            assert_non_null(q);
            assert_true((uintptr_t)q % align == 0);
            assert_true(agn_pool_usable_size(&f->pool, q) >= size);
            memset(q, 0xa5, size);
            if (n < 40)
                p[n++] = q;
            else
                agn_pool_free(&f->pool, q);
        }
    }
    assert_int_equal(agn_pool_check(&f->pool, NULL), 0);
    for (int i = 0; i < n; i++)
        agn_pool_free(&f->pool, p[i]);
    assert_null(agn_pool_memalign(&f->pool, 48, 10)); /* not a power of two */
    assert_one_free_block(f, initial);
}

static void test_pool_memalign_offset_aligns_after_header(void **state)
{
    struct fixture *f = *state;

    for (size_t align = 32; align <= 8192; align <<= 1) {
        char *q = agn_pool_memalign_offset(&f->pool, align, 32, 100);
        assert_non_null(q);
        assert_true((uintptr_t)(q + 32) % align == 0);
        assert_true(agn_pool_usable_size(&f->pool, q) >= 100);
        agn_pool_free(&f->pool, q);
    }
    assert_null(agn_pool_memalign_offset(&f->pool, 64, 8, 100)); /* offset not a multiple of 16 */
}

static void test_pool_exhaustion_returns_null_and_recovers(void **state)
{
    struct fixture *f = *state;
    size_t initial = capacity_free(f);
    void *p[SLOTS];
    int n = 0;

    while (n < SLOTS && (p[n] = agn_pool_alloc(&f->pool, 16384)))
        n++;
    assert_true(n > 100 && n < SLOTS);
    assert_null(agn_pool_alloc(&f->pool, 16384));
    assert_null(agn_pool_alloc(&f->pool, f->area_size)); /* more than the whole pool */
    assert_null(agn_pool_alloc(&f->pool, SIZE_MAX));
    assert_null(agn_pool_realloc(&f->pool, p[0], 1 << 20)); /* no room: p[0] stays */
    assert_true(agn_pool_usable_size(&f->pool, p[0]) >= 16384);
    agn_pool_free(&f->pool, p[n / 2]);
    assert_non_null(p[n / 2] = agn_pool_alloc(&f->pool, 16384)); /* the freed room is found */
    for (int i = 0; i < n; i++)
        agn_pool_free(&f->pool, p[i]);
    assert_one_free_block(f, initial);
    assert_non_null(p[0] = agn_pool_alloc(&f->pool, initial)); /* the whole free space */
    agn_pool_free(&f->pool, p[0]);
}

static void test_pool_realloc_grows_in_place_and_preserves(void **state)
{
    struct fixture *f = *state;
    char *a = agn_pool_alloc(&f->pool, 100);
    char *b, *c;

    memset(a, 'x', 100);
    b = agn_pool_realloc(&f->pool, a, 5000); /* the rest of the pool follows: in place */
    assert_ptr_equal(a, b);
    for (int i = 0; i < 100; i++)
        assert_int_equal(b[i], 'x');
    c = agn_pool_alloc(&f->pool, 10); /* now b cannot grow in place */
    memset(b, 'y', 5000);
    a = agn_pool_realloc(&f->pool, b, 50000);
    assert_non_null(a);
    assert_ptr_not_equal(a, b);
    for (int i = 0; i < 5000; i++)
        assert_int_equal(a[i], 'y');
    b = agn_pool_realloc(&f->pool, a, 10); /* shrinks in place */
    assert_ptr_equal(a, b);
    assert_int_equal(agn_pool_check(&f->pool, NULL), 0);
    agn_pool_free(&f->pool, b);
    agn_pool_free(&f->pool, c);
    assert_int_equal(agn_pool_used(&f->pool), 0);
}

static void test_pool_double_free_is_ignored(void **state)
{
    struct fixture *f = *state;
    void *a = agn_pool_alloc(&f->pool, 64);
    void *b = agn_pool_alloc(&f->pool, 64);

    agn_pool_free(&f->pool, a);
    agn_pool_free(&f->pool, a);
    agn_pool_free(&f->pool, (char *)b + 16); /* not a block start */
    assert_int_equal(f->pool.bad_frees, 2);
    assert_int_equal(agn_pool_check(&f->pool, NULL), 0);
    agn_pool_free(&f->pool, b);
    assert_int_equal(agn_pool_used(&f->pool), 0);
}

static void test_pool_owner_knows_only_live_pools(void **state)
{
    struct fixture *f = *state;
    int on_stack;
    void *p = agn_pool_alloc(&f->pool, 10);

    assert_ptr_equal(agn_pool_owner(p, NULL), &f->pool);
    assert_null(agn_pool_owner(&on_stack, NULL));
    assert_null(agn_pool_owner(f, NULL)); /* the private heap */
    agn_pool_fini(&f->pool);
    assert_null(agn_pool_owner(p, NULL));
    agn_pool_init(&f->pool, f->area, f->area_size); /* for teardown */
}

static void test_pool_tiny_area_allocates_nothing(void **state)
{
    static _Alignas(16) char small[256];
    struct agn_pool pool;

    agn_pool_init(&pool, small, sizeof(small));
    assert_null(agn_pool_alloc(&pool, 1));
    agn_pool_free(&pool, NULL);
    agn_pool_fini(&pool);
}

struct thread_arg {
    struct agn_pool *pool;
    unsigned seed;
    int errors;
};

static void *hammer(void *arg)
{
    struct thread_arg *t = arg;
    uint8_t *p[64] = {0};
    size_t sz[64] = {0};

    for (int step = 0; step < 20000; step++) {
        unsigned i = rand_r(&t->seed) % 64;
        if (p[i]) {
            for (size_t k = 0; k < sz[i]; k++)
                if (p[i][k] != (uint8_t)i)
                    t->errors++;
            agn_pool_free(t->pool, p[i]);
            p[i] = NULL;
        } else {
            sz[i] = rand_r(&t->seed) % 2000;
            if ((p[i] = agn_pool_alloc(t->pool, sz[i])))
                memset(p[i], (uint8_t)i, sz[i]);
        }
    }
    for (int i = 0; i < 64; i++)
        agn_pool_free(t->pool, p[i]);
    return NULL;
}

static void test_pool_threads_do_not_corrupt(void **state)
{
    struct fixture *f = *state;
    size_t initial = capacity_free(f);
    pthread_t th[4];
    struct thread_arg a[4];

    for (int i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){.pool = &f->pool, .seed = (unsigned)i + 1};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(a[i].errors, 0);
    }
    assert_one_free_block(f, initial);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_random_against_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_used_is_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_usable_size_bounds_waste, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_memalign_up_to_page_and_beyond, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_memalign_offset_aligns_after_header, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_exhaustion_returns_null_and_recovers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_realloc_grows_in_place_and_preserves, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_double_free_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_owner_knows_only_live_pools, setup, teardown),
        cmocka_unit_test(test_pool_tiny_area_allocates_nothing),
        cmocka_unit_test_setup_teardown(test_pool_threads_do_not_corrupt, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
