/* Output formatting of agnocastctl: table alignment, empty lists, QoS names, JSON documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "format.h"

static void test_format_topics_aligns_columns_to_longest_name(void **state)
{
    struct agnocast_wire_topic_entry t[2] = {0};
    strcpy(t[0].topic, "/a");
    t[0].publishers = 1;
    strcpy(t[1].topic, "/sensor/lidar_front");
    t[1].subscriptions = 12;
    GString *out = g_string_new(NULL);

    format_topics(out, t, 2, NULL, FALSE);
    assert_string_equal(out->str, "TOPIC                PUBLISHERS  SUBSCRIPTIONS\n"
                                  "/a                   1           0\n"
                                  "/sensor/lidar_front  0           12\n");
    g_string_free(out, TRUE);
}

static void test_format_topics_empty_is_header_or_empty_array(void **state)
{
    GString *out = g_string_new(NULL);

    format_topics(out, NULL, 0, NULL, FALSE);
    assert_string_equal(out->str, "TOPIC  PUBLISHERS  SUBSCRIPTIONS\n");
    g_string_truncate(out, 0);
    format_topics(out, NULL, 0, NULL, TRUE);
    assert_string_equal(out->str, "{\"topics\":[]}\n");
    g_string_free(out, TRUE);
}

static void test_format_topic_info_counts_and_orders_roles(void **state)
{
    struct agnocast_wire_endpoint_entry e[3] = {
        {.pid = 9, .index = 1, .qos = {.depth = 1}},
        {.pid = 8, .index = 0, .qos = {.depth = 2, .durability = 1}, .is_publisher = 1},
        {.pid = 7, .index = 4, .qos = {.depth = 1024, .reliability = 1, .ignore_local = 1}},
    };
    GString *out = g_string_new(NULL);

    format_topic_info(out, "/t", e, 3, FALSE);
    assert_string_equal(
        out->str, "/t: 1 publisher, 2 subscriptions\n"
                  "ROLE          PID  INDEX  DEPTH  DURABILITY       RELIABILITY  IGNORE_LOCAL\n"
                  "publisher     8    0      2      transient_local  best_effort  no\n"
                  "subscription  9    1      1      volatile         best_effort  no\n"
                  "subscription  7    4      1024   volatile         reliable     yes\n");
    g_string_truncate(out, 0);
    format_topic_info(out, "/t", NULL, 0, TRUE);
    assert_string_equal(out->str, "{\"topic\":\"/t\",\"publishers\":[],\"subscriptions\":[]}\n");
    g_string_free(out, TRUE);
}

static void test_format_qos_names_cover_every_value(void **state)
{
    assert_string_equal(format_durability(AGNOCAST_DURABILITY_VOLATILE), "volatile");
    assert_string_equal(format_durability(AGNOCAST_DURABILITY_TRANSIENT_LOCAL), "transient_local");
    assert_string_equal(format_durability(9), "unknown");
    assert_string_equal(format_reliability(AGNOCAST_RELIABILITY_BEST_EFFORT), "best_effort");
    assert_string_equal(format_reliability(AGNOCAST_RELIABILITY_RELIABLE), "reliable");
    assert_string_equal(format_reliability(9), "unknown");
}

static void test_format_processes_range_end_is_exclusive(void **state)
{
    struct agnocast_wire_process_entry p = {
        .pid = 1, .uid = 2, .base = 0x1000, .size = 0x1000, .publishers = 3, .subscriptions = 4};
    GString *out = g_string_new(NULL);

    format_processes(out, &p, 1, FALSE);
    assert_string_equal(out->str, "PID  UID  ADDRESS RANGE  POOL     PUBLISHERS  SUBSCRIPTIONS\n"
                                  "1    2    0x1000-0x2000  4.0 KiB  3           4\n");
    g_string_truncate(out, 0);
    format_processes(out, &p, 1, TRUE);
    assert_string_equal(out->str,
                        "{\"processes\":[{\"pid\":1,\"uid\":2,\"address_start\":\"0x1000\","
                        "\"address_end\":\"0x2000\",\"pool_size_bytes\":4096,\"publishers\":3,"
                        "\"subscriptions\":4}]}\n");
    g_string_free(out, TRUE);
}

static void test_format_size_human_is_ascii_iec(void **state)
{
    static const struct {
        uint64_t bytes;
        const char *text;
    } cases[] = {
        {512, "512 bytes"},
        {1536, "1.5 KiB"},
        {128ull << 20, "128.0 MiB"},
        {3ull << 30, "3.0 GiB"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *text = format_size_human(cases[i].bytes);
        assert_string_equal(text, cases[i].text);
    }
}

static void test_format_stats_uses_kind_names(void **state)
{
    struct agnocast_wire_stats_entry s[2] = {
        {.kind = AGNOCAST_MSG_LIST_TOPICS, .count = 2},
        {.kind = AGNOCAST_MSG_REGISTER_PROCESS, .count = 0},
    };
    GString *out = g_string_new(NULL);

    format_stats(out, 77, s, 2, FALSE);
    g_autofree char *want =
        g_strdup_printf("broker pid 77\nREQUEST%*s  COUNT\n%s%*s  2\n%s  0\n",
                        (int)(strlen(agnocast_proto_kind_name(AGNOCAST_MSG_REGISTER_PROCESS)) - 7),
                        "", agnocast_proto_kind_name(AGNOCAST_MSG_LIST_TOPICS),
                        (int)(strlen(agnocast_proto_kind_name(AGNOCAST_MSG_REGISTER_PROCESS)) -
                              strlen(agnocast_proto_kind_name(AGNOCAST_MSG_LIST_TOPICS))),
                        "", agnocast_proto_kind_name(AGNOCAST_MSG_REGISTER_PROCESS));
    assert_string_equal(out->str, want);
    assert_non_null(strstr(out->str, "LIST_TOPICS"));
    g_string_free(out, TRUE);
}

static void test_format_clean_text_replaces_controls(void **state)
{
    g_autofree char *a = format_clean_text("ok\x1b[31mred\n\xff");
    assert_string_equal(a, "ok?[31mred??");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_topics_aligns_columns_to_longest_name),
        cmocka_unit_test(test_format_topics_empty_is_header_or_empty_array),
        cmocka_unit_test(test_format_topic_info_counts_and_orders_roles),
        cmocka_unit_test(test_format_qos_names_cover_every_value),
        cmocka_unit_test(test_format_processes_range_end_is_exclusive),
        cmocka_unit_test(test_format_size_human_is_ascii_iec),
        cmocka_unit_test(test_format_stats_uses_kind_names),
        cmocka_unit_test(test_format_clean_text_replaces_controls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
