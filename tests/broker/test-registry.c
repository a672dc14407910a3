/* Unit tests for the broker's registry (agnocastd/registry.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "registry.h"

static const struct agnocast_wire_qos qos1 = {.depth = 1, .reliability = 1};
static const struct agnocast_wire_qos qos5 = {.depth = 5, .durability = 1};

static struct reg_process *add_proc(struct registry *reg, pid_t pid)
{
    struct reg_process *p = NULL;

    assert_int_equal(registry_process_add(reg, pid, 1000, 0x40000000000ull + pid * 0x200000ull,
                                          0x100000, 0, NULL, &p),
                     0);
    assert_non_null(p);
    return p;
}

static void test_registry_process_add_find_remove(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 42), *dup = NULL;

    assert_ptr_equal(registry_process_find(reg, 42), p);
    assert_null(registry_process_find(reg, 43));
    assert_int_equal(registry_process_add(reg, 42, 0, 0, 0, 0, NULL, &dup), -EEXIST);
    assert_null(dup);
    assert_int_equal(registry_process_count(reg), 1);
    registry_process_remove(reg, p);
    assert_null(registry_process_find(reg, 42));
    assert_int_equal(registry_process_count(reg), 0);
    /* The registry owns the pool descriptors once attached and closes them on removal. */
    int mfd = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(registry_process_add(reg, 42, 0, 0, 0, 0, NULL, &p), 0);
    p->area_fd[0] = mfd;
    registry_process_remove(reg, p);
    assert_int_equal(fcntl(mfd, F_GETFD), -1);
    registry_free(reg);
}

static void test_registry_endpoint_duplicate_index(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 10);
    struct reg_endpoint *ep = NULL;

    assert_int_equal(registry_endpoint_add(reg, p, true, 0, &qos1, "/a", &ep), 0);
    assert_int_equal(registry_endpoint_add(reg, p, true, 0, &qos1, "/b", NULL), -EEXIST);
    /* Publishers and subscriptions have separate index spaces. */
    assert_int_equal(registry_endpoint_add(reg, p, false, 0, &qos1, "/a", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, false, 0, &qos5, "/c", NULL), -EEXIST);
    assert_ptr_equal(registry_endpoint_find(p, true, 0), ep);
    assert_null(registry_endpoint_find(p, true, 1));
    assert_string_equal(ep->topic->name, "/a");
    assert_int_equal(registry_topic_count(reg), 1);
    registry_free(reg);
}

static void test_registry_endpoint_remove_deletes_empty_topic(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 10), *q = add_proc(reg, 11);
    struct reg_endpoint *pub = NULL, *sub = NULL;

    assert_int_equal(registry_endpoint_add(reg, p, true, 3, &qos1, "/t", &pub), 0);
    assert_int_equal(registry_endpoint_add(reg, q, false, 7, &qos5, "/t", &sub), 0);
    struct reg_topic *t = registry_topic_find(reg, "/t");
    assert_non_null(t);
    assert_int_equal(t->pubs->len, 1);
    assert_int_equal(t->subs->len, 1);
    registry_endpoint_remove(reg, pub);
    assert_null(registry_endpoint_find(p, true, 3));
    assert_ptr_equal(registry_topic_find(reg, "/t"), t);
    assert_int_equal(t->pubs->len, 0);
    registry_endpoint_remove(reg, sub);
    assert_null(registry_topic_find(reg, "/t"));
    assert_int_equal(registry_topic_count(reg), 0);
    /* The index is free again. */
    assert_int_equal(registry_endpoint_add(reg, p, true, 3, &qos1, "/t", NULL), 0);
    registry_free(reg);
}

static void test_registry_process_remove_takes_endpoints(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 10), *q = add_proc(reg, 11), *r = add_proc(reg, 12);

    assert_int_equal(registry_endpoint_add(reg, p, true, 0, &qos1, "/only_p", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, false, 0, &qos1, "/only_p", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, true, 1, &qos1, "/shared", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, q, false, 0, &qos1, "/shared", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, r, false, 0, &qos1, "/other", NULL), 0);

    GPtrArray *peers = registry_process_peers(reg, p);
    assert_int_equal(peers->len, 1);
    assert_ptr_equal(peers->pdata[0], q);
    g_ptr_array_free(peers, TRUE);

    registry_process_remove(reg, p);
    assert_null(registry_topic_find(reg, "/only_p"));
    struct reg_topic *shared = registry_topic_find(reg, "/shared");
    assert_non_null(shared);
    assert_int_equal(shared->pubs->len, 0);
    assert_int_equal(shared->subs->len, 1);
    assert_non_null(registry_topic_find(reg, "/other"));
    assert_int_equal(registry_topic_count(reg), 2);

    peers = registry_process_peers(reg, q);
    assert_int_equal(peers->len, 0);
    g_ptr_array_free(peers, TRUE);
    registry_free(reg);
}

/* A process that shared a topic with another stays among those told when the other leaves,
 * after the endpoints that joined them are gone; a process that left is forgotten. */
static void test_registry_met_outlives_endpoints(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 10), *q = add_proc(reg, 11), *r = add_proc(reg, 12);
    struct reg_endpoint *sub = NULL;
    GPtrArray *met;

    (void)state;
    assert_int_equal(registry_endpoint_add(reg, p, true, 0, &qos1, "/shared", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, q, false, 0, &qos1, "/shared", &sub), 0);
    assert_int_equal(registry_endpoint_add(reg, r, false, 0, &qos1, "/other", NULL), 0);
    registry_endpoint_remove(reg, sub);
    met = registry_process_peers(reg, q);
    assert_int_equal(met->len, 0);
    g_ptr_array_free(met, TRUE);
    met = registry_process_met(reg, q);
    assert_int_equal(met->len, 1);
    assert_ptr_equal(met->pdata[0], p);
    g_ptr_array_free(met, TRUE);
    registry_process_remove(reg, p);
    met = registry_process_met(reg, q);
    assert_int_equal(met->len, 0);
    g_ptr_array_free(met, TRUE);
    registry_free(reg);
}

/* The per-uid counts the quotas read follow every add and removal. */
static void test_registry_usage_per_uid(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 10), *q = add_proc(reg, 11), *o = NULL;
    struct reg_endpoint *ep = NULL;
    struct registry_usage u;

    assert_int_equal(registry_process_add(reg, 12, 2000, 0x50000000000ull, 0x100000, 0, NULL, &o),
                     0);
    assert_int_equal(registry_endpoint_add(reg, p, true, 0, &qos1, "/a", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, false, 0, &qos1, "/a", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, q, false, 0, &qos1, "/a", &ep), 0);
    assert_int_equal(registry_endpoint_add(reg, q, true, 0, &qos1, "/b", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, o, false, 0, &qos1, "/b", NULL), 0);
    u = registry_usage_of(reg, 1000);
    assert_int_equal(u.processes, 2);
    assert_int_equal(u.endpoints, 4);
    assert_int_equal(u.topics, 2); /* /a counts once for uid 1000 */
    u = registry_usage_of(reg, 2000);
    assert_int_equal(u.processes, 1);
    assert_int_equal(u.endpoints, 1);
    assert_int_equal(u.topics, 1);
    assert_true(registry_topic_used_by(registry_topic_find(reg, "/b"), 2000));
    assert_false(registry_topic_used_by(registry_topic_find(reg, "/a"), 2000));

    registry_endpoint_remove(reg, ep); /* uid 1000 still has p's two on /a */
    assert_int_equal(registry_usage_of(reg, 1000).topics, 2);
    registry_process_remove(reg, p); /* ...now none */
    u = registry_usage_of(reg, 1000);
    assert_int_equal(u.processes, 1);
    assert_int_equal(u.endpoints, 1);
    assert_int_equal(u.topics, 1);
    registry_process_remove(reg, q);
    registry_process_remove(reg, o);
    u = registry_usage_of(reg, 1000);
    assert_int_equal(u.processes + u.endpoints + u.topics, 0);
    assert_int_equal(registry_usage_of(reg, 2000).processes, 0);
    registry_free(reg);
}

static void test_registry_list_topics_sorted_and_paged(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *p = add_proc(reg, 10);
    struct agnocast_wire_topic_entry e[4];
    const char *names[] = {"/zeta", "/alpha", "/mid/b", "/mid/a", "/beta"};
    guint total = 99;

    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(registry_endpoint_add(reg, p, i % 2 == 0, i, &qos1, names[i], NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, false, 100, &qos1, "/alpha", NULL), 0);

    assert_int_equal(registry_list_topics(reg, 0, e, 2, &total), 2);
    assert_int_equal(total, 5);
    assert_string_equal(e[0].topic, "/alpha");
    assert_int_equal(e[0].publishers, 0);
    assert_int_equal(e[0].subscriptions, 2);
    assert_string_equal(e[1].topic, "/beta");
    assert_int_equal(registry_list_topics(reg, 2, e, 4, &total), 3);
    assert_string_equal(e[0].topic, "/mid/a");
    assert_string_equal(e[1].topic, "/mid/b");
    assert_string_equal(e[2].topic, "/zeta");
    assert_int_equal(e[2].publishers, 1);
    assert_int_equal(registry_list_topics(reg, 5, e, 4, &total), 0);
    assert_int_equal(registry_list_topics(reg, 1000, e, 4, &total), 0);
    assert_int_equal(total, 5);
    registry_free(reg);
}

static void test_registry_list_processes_sorted_and_paged(void **state)
{
    struct registry *reg = registry_new();
    struct agnocast_wire_process_entry e[3];
    pid_t pids[] = {300, 5, 4000, 77};
    guint total = 0;

    for (int i = 0; i < 4; i++)
        add_proc(reg, pids[i]);
    struct reg_process *p = registry_process_find(reg, 77);
    assert_int_equal(registry_endpoint_add(reg, p, true, 1, &qos1, "/x", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, true, 2, &qos1, "/y", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, p, false, 1, &qos1, "/x", NULL), 0);

    assert_int_equal(registry_list_processes(reg, 0, e, 3, &total), 3);
    assert_int_equal(total, 4);
    assert_int_equal(e[0].pid, 5);
    assert_int_equal(e[1].pid, 77);
    assert_int_equal(e[1].publishers, 2);
    assert_int_equal(e[1].subscriptions, 1);
    assert_int_equal(e[1].uid, 1000);
    assert_int_equal(e[1].base, p->base);
    assert_int_equal(e[2].pid, 300);
    assert_int_equal(registry_list_processes(reg, 3, e, 3, &total), 1);
    assert_int_equal(e[0].pid, 4000);
    registry_free(reg);
}

static void test_registry_list_endpoints_publishers_first(void **state)
{
    struct registry *reg = registry_new();
    struct reg_process *a = add_proc(reg, 20), *b = add_proc(reg, 10);
    struct agnocast_wire_endpoint_entry e[8];
    guint total = 0;

    assert_int_equal(registry_endpoint_add(reg, a, false, 4, &qos5, "/t", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, a, true, 9, &qos1, "/t", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, b, false, 1, &qos1, "/t", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, b, true, 2, &qos5, "/t", NULL), 0);
    assert_int_equal(registry_endpoint_add(reg, b, true, 1, &qos5, "/t", NULL), 0);
    struct reg_topic *t = registry_topic_find(reg, "/t");

    assert_int_equal(registry_list_endpoints(t, 0, e, 8, &total), 5);
    assert_int_equal(total, 5);
    assert_true(e[0].is_publisher && e[0].pid == 10 && e[0].index == 1);
    assert_int_equal(e[0].qos.depth, 5);
    assert_true(e[1].is_publisher && e[1].pid == 10 && e[1].index == 2);
    assert_true(e[2].is_publisher && e[2].pid == 20 && e[2].index == 9);
    assert_true(!e[3].is_publisher && e[3].pid == 10 && e[3].index == 1);
    assert_true(!e[4].is_publisher && e[4].pid == 20 && e[4].index == 4);
    assert_int_equal(e[4].qos.durability, 1);
    assert_int_equal(registry_list_endpoints(t, 2, e, 2, &total), 2);
    assert_true(e[0].is_publisher && e[0].pid == 20);
    assert_true(!e[1].is_publisher && e[1].pid == 10);
    registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_process_add_find_remove),
        cmocka_unit_test(test_registry_endpoint_duplicate_index),
        cmocka_unit_test(test_registry_endpoint_remove_deletes_empty_topic),
        cmocka_unit_test(test_registry_process_remove_takes_endpoints),
        cmocka_unit_test(test_registry_met_outlives_endpoints),
        cmocka_unit_test(test_registry_usage_per_uid),
        cmocka_unit_test(test_registry_list_topics_sorted_and_paged),
        cmocka_unit_test(test_registry_list_processes_sorted_and_paged),
        cmocka_unit_test(test_registry_list_endpoints_publishers_first),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
