/* Routing of the heap hook, from inside a process that runs with it preloaded. */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <agnocast.h>

#include "harness.h"

struct fixture {
    struct broker broker;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    uintptr_t lo, hi;
};

static int setup(void **state)
{
    static struct fixture f;
    void *base;
    size_t size;

    if (broker_start(&f.broker, NULL) < 0 || agnocast_context_new(&f.ctx) < 0 ||
        agnocast_publisher_new(f.ctx, "/heaphook/routing", 4, 0, &f.pub) < 0)
        return -1;
    agnocast_context_segment(f.ctx, &base, &size);
    f.lo = (uintptr_t)base;
    f.hi = f.lo + size;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    agnocast_publisher_free(f->pub);
    agnocast_context_free(f->ctx);
    return broker_stop(&f->broker) == 0 ? 0 : -1;
}

/* The compiler must not reason about these frees: the hook gives them other meanings. */
static void (*volatile free_opaque)(void *) = free;

static bool in_segment(struct fixture *f, const void *p)
{
    return (uintptr_t)p >= f->lo && (uintptr_t)p < f->hi;
}

static size_t used(struct fixture *f)
{
    size_t u = 0;

    agnocast_context_pool_usage(f->ctx, &u, NULL);
    return u;
}

static void test_heaphook_outside_window_is_private(void **state)
{
    struct fixture *f = *state;
    size_t before = used(f);
    char *p = malloc(100), *q = calloc(10, 10);

    assert_false(in_segment(f, p));
    assert_false(in_segment(f, q));
    assert_int_equal(used(f), before);
    free(p);
    free(q);
}

static void test_heaphook_window_allocations_join_the_message(void **state)
{
    struct fixture *f = *state;
    size_t before = used(f);
    void *msg, *a, *c, *al = NULL, *v;
    char *s, *r;

    assert_int_equal(agnocast_publisher_loan(f->pub, 64, &msg), 0);
    a = malloc(1000);
    s = strdup("nested string");
    c = calloc(100, 8);
    assert_int_equal(posix_memalign(&al, 4096, 300), 0);
    v = valloc(10);
    assert_true(in_segment(f, a) && in_segment(f, s) && in_segment(f, c) && in_segment(f, al) &&
                in_segment(f, v));
    assert_true((uintptr_t)al % 4096 == 0 && (uintptr_t)v % 4096 == 0);
    assert_true(malloc_usable_size(a) >= 1000);
    for (int i = 0; i < 800; i++)
        assert_int_equal(((char *)c)[i], 0);
    r = realloc(s, 10000); /* grows, keeps its contents, stays in the message */
    assert_true(in_segment(f, r));
    assert_string_equal(r, "nested string");
    free(a); /* freed at once: the pool gets it back before publish */
    free(al);
    assert_true(used(f) > before);
    assert_int_equal(agnocast_publisher_drop(f->pub, msg), 0);
    /* Dropping the loan frees every nested allocation still in it. */
    assert_int_equal(used(f), before);
    a = malloc(10); /* the window closed with the drop */
    assert_false(in_segment(f, a));
    free(a);
}

static void test_heaphook_free_of_published_data_is_ignored(void **state)
{
    struct fixture *f = *state;
    void *msg;
    char *s;
    size_t after;

    assert_int_equal(agnocast_publisher_loan(f->pub, 64, &msg), 0);
    s = strdup("published");
    *(char **)msg = s;
    assert_int_equal(agnocast_publisher_publish(f->pub, msg), 0);
    after = used(f);
    free_opaque(s); /* the message owns it now: no effect */
    assert_int_equal(used(f), after);
    assert_string_equal(s, "published");
    s = realloc(s, 100); /* a private copy; the published string is untouched */
    assert_false(in_segment(f, s));
    assert_string_equal(s, "published");
    assert_string_equal(*(char **)msg, "published");
    free(s);
}

static void *other_thread_malloc(void *arg)
{
    (void)arg;
    return malloc(64);
}

static void test_heaphook_window_is_per_thread(void **state)
{
    struct fixture *f = *state;
    void *msg, *mine, *theirs;
    pthread_t t;

    assert_int_equal(agnocast_publisher_loan(f->pub, 64, &msg), 0);
    mine = malloc(64);
    assert_int_equal(pthread_create(&t, NULL, other_thread_malloc, NULL), 0);
    pthread_join(t, &theirs);
    assert_true(in_segment(f, mine));
    assert_false(in_segment(f, theirs));
    free(theirs);
    assert_int_equal(agnocast_publisher_publish(f->pub, msg), 0);
}

static void test_heaphook_fork_child_uses_private_heap(void **state)
{
    struct fixture *f = *state;
    void *msg;
    char *s;
    pid_t pid;
    int status;

    assert_int_equal(agnocast_publisher_loan(f->pub, 64, &msg), 0);
    s = strdup("parent's");
    pid = fork();
    if (pid == 0) {
        /* The child has no window and no segment (MADV_DONTFORK): frees of the parent's
         * segment memory do nothing, and realloc of it fails cleanly. */
        char *p = malloc(32);
        free_opaque(s);
        s = realloc(s, 64);
        _exit(!in_segment(f, p) && !s && malloc_usable_size(msg) == 0 ? 0 : 1);
    }
    assert_true(pid > 0);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_string_equal(s, "parent's");
    assert_int_equal(agnocast_publisher_drop(f->pub, msg), 0);
}

static void test_heaphook_full_pool_fails_malloc(void **state)
{
    struct fixture *f = *state;
    size_t before = used(f), cap = 0;
    void *msg;

    agnocast_context_pool_usage(f->ctx, NULL, &cap);
    assert_int_equal(agnocast_publisher_loan(f->pub, 64, &msg), 0);
    /* More than the pool may grow to (4x its first size by default): the allocation fails
     * rather than going silently private, where the message could not reach it. */
    assert_null(malloc(cap * 5));
    assert_int_equal(agnocast_publisher_drop(f->pub, msg), 0);
    assert_int_equal(used(f), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heaphook_outside_window_is_private),
        cmocka_unit_test(test_heaphook_window_allocations_join_the_message),
        cmocka_unit_test(test_heaphook_free_of_published_data_is_ignored),
        cmocka_unit_test(test_heaphook_window_is_per_thread),
        cmocka_unit_test(test_heaphook_fork_child_uses_private_heap),
        cmocka_unit_test(test_heaphook_full_pool_fails_malloc),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
