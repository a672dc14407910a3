/* agnocastctl end to end against a fake broker: output, paging, errors and exit statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "cli.h"
#include "ctl-run.h"
#include "fake-broker.h"

struct fixture {
    char *dir;
    struct fake_broker *fb;
    struct ctl_result r;
    GArray *requests;
    unsigned connections;
};

static int fixture_setup(void **state)
{
    struct fixture *f = g_new0(struct fixture, 1);
    f->dir = ctl_tmpdir_new();
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;
    if (f->fb != NULL)
        g_array_free(fake_broker_stop(f->fb, NULL), TRUE);
    if (f->requests != NULL)
        g_array_free(f->requests, TRUE);
    ctl_result_clear(&f->r);
    ctl_tmpdir_remove(f->dir);
    g_free(f);
    return 0;
}

static void start(struct fixture *f, enum fake_broker_mode mode, unsigned topics, unsigned page)
{
    struct fake_broker_config cfg = {.mode = mode, .topics = topics, .page_size = page};
    f->fb = fake_broker_start(f->dir, &cfg);
}

static void start_segments(struct fixture *f, enum fake_broker_segments segments)
{
    struct fake_broker_config cfg = {.mode = FAKE_BROKER_NORMAL, .segments = segments};
    f->fb = fake_broker_start(f->dir, &cfg);
}

static void stop(struct fixture *f)
{
    f->requests = fake_broker_stop(f->fb, &f->connections);
    f->fb = NULL;
}

static const struct fake_broker_request *request_at(struct fixture *f, guint i)
{
    assert_true(i < f->requests->len);
    return &g_array_index(f->requests, struct fake_broker_request, i);
}

static void test_ctl_list_topics_pages_until_total(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 5, 2);

    ctl_run(&f->r, NULL, FALSE, "--socket", fake_broker_path(f->fb), "list-topics", NULL);
    stop(f);

    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.out, "TOPIC      PUBLISHERS  SUBSCRIPTIONS\n"
                                  "/topic_00  0           0\n"
                                  "/topic_01  1           2\n"
                                  "/topic_02  2           4\n"
                                  "/topic_03  3           6\n"
                                  "/topic_04  4           8\n");
    /* HELLO, then pages asked from 0, 2, 4. */
    assert_int_equal(f->requests->len, 4);
    assert_int_equal(request_at(f, 0)->kind, AGNOCAST_MSG_HELLO);
    for (guint i = 1; i < 4; i++) {
        assert_int_equal(request_at(f, i)->kind, AGNOCAST_MSG_LIST_TOPICS);
        assert_int_equal(request_at(f, i)->start, 2 * (i - 1));
    }
}

static void test_ctl_list_topics_json_is_one_document(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 2, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "list-topics", "--json", NULL);
    stop(f);

    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.out, "{\"topics\":[{\"name\":\"/topic_00\",\"publishers\":0,"
                                  "\"subscriptions\":0},{\"name\":\"/topic_01\",\"publishers\":1,"
                                  "\"subscriptions\":2}]}\n");
    assert_string_equal(f->r.err, "");
}

static void test_ctl_list_topics_empty_prints_header_only(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 0);

    ctl_run(&f->r, NULL, FALSE, "list-topics", "-s", fake_broker_path(f->fb), NULL);
    stop(f);

    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.out, "TOPIC  PUBLISHERS  SUBSCRIPTIONS\n");
    assert_string_equal(f->r.err, "");
}

static void test_ctl_topic_info_lists_publishers_first(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 1);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "/chatter", NULL);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(
        f->r.out, "/chatter: 1 publisher, 1 subscription\n"
                  "ROLE          PID  INDEX  DEPTH  DURABILITY       RELIABILITY  IGNORE_LOCAL\n"
                  "publisher     100  3      10     transient_local  reliable     no\n"
                  "subscription  200  0      5      volatile         best_effort  yes\n");
    /* The broker lists both processes but has neither when asked for their segments. */
    assert_string_equal(f->r.err, "agnocastctl: process 100 is gone: it left after the broker "
                                  "listed it; run the command again\n"
                                  "agnocastctl: process 200 is gone: it left after the broker "
                                  "listed it; run the command again\n");
    ctl_result_clear(&f->r);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "--json", "/chatter", NULL);
    stop(f);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(
        f->r.out,
        "{\"topic\":\"/chatter\",\"publishers\":[{\"pid\":100,\"index\":3,\"qos\":{\"depth\":10,"
        "\"durability\":\"transient_local\",\"reliability\":\"reliable\",\"ignore_local\":false}}],"
        "\"subscriptions\":[{\"pid\":200,\"index\":0,\"qos\":{\"depth\":5,\"durability\":"
        "\"volatile\",\"reliability\":\"best_effort\",\"ignore_local\":true}}]}\n");
    /* Page size 1: each run asked from 0, then from 1, with the topic in the query. */
    assert_int_equal(request_at(f, 2)->start, 1);
}

/* The counters come from the segments the broker hands over: one GET_SEGMENT per process, the
 * descriptor mapped read-only. */
static void test_ctl_topic_info_counters_from_segments(void **state)
{
    struct fixture *f = *state;
    start_segments(f, FAKE_SEGMENTS_SERVE);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "/chatter", NULL);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.err, "");
    assert_string_equal(
        f->r.out, "/chatter: 1 publisher, 1 subscription\n"
                  "ROLE          PID  INDEX  DEPTH  DURABILITY       RELIABILITY  IGNORE_LOCAL\n"
                  "publisher     100  3      10     transient_local  reliable     no\n"
                  "subscription  200  0      5      volatile         best_effort  yes\n"
                  "\n"
                  "ROLE          PID  INDEX  PUBLISHED  RECEIVED  MISSED  CORRUPT  UNREACHABLE\n"
                  "publisher     100  3      42         -         -       -        -\n"
                  "subscription  200  0      -          40        2       0        1\n");
    ctl_result_clear(&f->r);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "--json", "/chatter", NULL);
    stop(f);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.err, "");
    assert_string_equal(
        f->r.out,
        "{\"topic\":\"/chatter\",\"publishers\":[{\"pid\":100,\"index\":3,\"qos\":{\"depth\":10,"
        "\"durability\":\"transient_local\",\"reliability\":\"reliable\",\"ignore_local\":false},"
        "\"published\":42}],\"subscriptions\":[{\"pid\":200,\"index\":0,\"qos\":{\"depth\":5,"
        "\"durability\":\"volatile\",\"reliability\":\"best_effort\",\"ignore_local\":true},"
        "\"received\":40,\"missed\":2,\"corrupt\":0,\"unreachable\":1}]}\n");

    /* Each run: HELLO, TOPIC_INFO, LIST_PROCESSES, then the segment (area 0) of 100 and 200. */
    guint segments = 0;
    for (guint i = 0; i < f->requests->len; i++) {
        const struct fake_broker_request *r = request_at(f, i);
        if (r->kind != AGNOCAST_MSG_GET_SEGMENT)
            continue;
        assert_int_equal(r->pid, segments % 2 ? 200 : 100);
        assert_int_equal(r->area, 0);
        segments++;
    }
    assert_int_equal(segments, 4);
}

/* Segments that cannot be had or cannot be trusted: topic-info still succeeds, leaves the
 * counters out and says why for each process. */
static void test_ctl_topic_info_unreadable_segments_say_why(void **state)
{
    struct fixture *f = *state;
    const struct {
        enum fake_broker_segments mode;
        const char *why; /* for process 100 */
    } cases[] = {
        {FAKE_SEGMENTS_GONE, "agnocastctl: process 100 is gone: it left after the broker listed "
                             "it; run the command again\n"},
        {FAKE_SEGMENTS_REFUSE, "agnocastctl: the broker refused the segment of process 100: uid "},
        {FAKE_SEGMENTS_UNSEALED, "agnocastctl: the segment of process 100 is not a sealed memfd "
                                 "(seals 0x0, want 0x17)"},
        {FAKE_SEGMENTS_NO_FD, "agnocastctl: the broker at "},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        start_segments(f, cases[i].mode);
        ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "/chatter", NULL);
        stop(f);
        assert_int_equal(f->r.status, 0);
        assert_null(strstr(f->r.out, "PUBLISHED"));
        assert_true(g_str_has_prefix(f->r.err, cases[i].why));
        assert_non_null(strstr(f->r.err, "\nagnocastctl: ")); /* process 200's line */
        if (cases[i].mode == FAKE_SEGMENTS_NO_FD)
            assert_non_null(strstr(f->r.err, "answered GET_SEGMENT for area 0 of process 100 "
                                             "with no descriptor"));
        ctl_result_clear(&f->r);
        g_array_free(f->requests, TRUE);
        f->requests = NULL;

        /* echo needs a publisher's ring: none can be read, CLI_EXIT_NO_SEGMENT. */
        start_segments(f, cases[i].mode);
        ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "echo", "/chatter", "-n", "1", NULL);
        stop(f);
        assert_int_equal(f->r.status, CLI_EXIT_NO_SEGMENT);
        assert_true(g_str_has_prefix(f->r.err, cases[i].why));
        assert_non_null(strstr(f->r.err, "cannot read the ring of any publisher of /chatter"));
        ctl_result_clear(&f->r);
        g_array_free(f->requests, TRUE);
        f->requests = NULL;
    }
}

static void test_ctl_topic_info_unknown_topic_prints_broker_message(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "/nobody/here", NULL);
    stop(f);

    assert_int_equal(f->r.status, CLI_EXIT_REFUSED);
    assert_string_equal(f->r.out, "");
    assert_string_equal(f->r.err, "agnocastctl: unknown topic /nobody/here: no process publishes "
                                  "or subscribes to it\n");
}

static void test_ctl_topic_info_invalid_name_rejected_before_connecting(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "topic-info", "/9lives/", NULL);
    stop(f);

    assert_int_equal(f->r.status, CLI_EXIT_USAGE);
    assert_non_null(strstr(f->r.err, "'/9lives/' is not a valid topic name"));
    assert_non_null(strstr(f->r.err, "starts with '/'"));
    assert_int_equal(f->connections, 0);
}

static void test_ctl_list_processes_shows_range_and_pool(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "list-processes", NULL);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.out,
                        "PID  UID   ADDRESS RANGE                POOL       PUBLISHERS  "
                        "SUBSCRIPTIONS\n"
                        "100  1000  0x40000000000-0x40008000000  128.0 MiB  1           0\n"
                        "200  0     0x40008000000-0x40008180000  1.5 MiB    0           2\n");
    ctl_result_clear(&f->r);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "list-processes", "--json", NULL);
    stop(f);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(
        f->r.out,
        "{\"processes\":[{\"pid\":100,\"uid\":1000,\"address_start\":\"0x40000000000\","
        "\"address_end\":\"0x40008000000\",\"pool_size_bytes\":134217728,\"publishers\":1,"
        "\"subscriptions\":0},{\"pid\":200,\"uid\":0,\"address_start\":\"0x40008000000\","
        "\"address_end\":\"0x40008180000\",\"pool_size_bytes\":1572864,\"publishers\":0,"
        "\"subscriptions\":2}]}\n");
}

static void test_ctl_stats_names_kinds(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "stats", NULL);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.out, "broker pid 4242\n"
                                  "REQUEST        COUNT\n"
                                  "HELLO          7\n"
                                  "ADD_PUBLISHER  12345678901\n"
                                  "UNKNOWN(777)   1\n");
    ctl_result_clear(&f->r);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "stats", "--json", NULL);
    stop(f);
    assert_int_equal(f->r.status, 0);
    assert_string_equal(f->r.out,
                        "{\"broker_pid\":4242,\"requests\":[{\"kind\":\"HELLO\",\"code\":100,"
                        "\"count\":7},{\"kind\":\"ADD_PUBLISHER\",\"code\":200,\"count\":"
                        "12345678901},{\"kind\":\"UNKNOWN\",\"code\":777,\"count\":1}]}\n");
    assert_int_equal(request_at(f, 1)->kind, AGNOCAST_MSG_STATS);
}

static void test_ctl_version_mismatch_prints_both_versions(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_OLD_HEADER_VERSION, 0, 0);
    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "list-topics", NULL);
    stop(f);
    assert_int_equal(f->r.status, CLI_EXIT_PROTOCOL);
    {
        g_autofree char *want =
            g_strdup_printf("speaks protocol version %d, this agnocastctl speaks version %d",
                            AGNOCAST_PROTO_VERSION + 1, AGNOCAST_PROTO_VERSION);
        assert_non_null(strstr(f->r.err, want));
    }
    ctl_result_clear(&f->r);

    start(f, FAKE_BROKER_ERROR_VERSION, 0, 0);
    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "stats", NULL);
    assert_int_equal(f->r.status, CLI_EXIT_PROTOCOL);
    assert_non_null(
        strstr(f->r.err, "speaks protocol version 7, this agnocastctl speaks version " G_STRINGIFY(
                             AGNOCAST_PROTO_VERSION)));
    assert_non_null(strstr(f->r.err, fake_broker_path(f->fb)));
}

static void test_ctl_no_broker_exits_no_broker_with_remedy(void **state)
{
    struct fixture *f = *state;
    g_autofree char *missing = g_build_filename(f->dir, "missing.sock", NULL);

    ctl_run(&f->r, missing, FALSE, "list-topics", NULL);
    assert_int_equal(f->r.status, CLI_EXIT_NO_BROKER);
    g_autofree char *want = g_strdup_printf(
        "agnocastctl: no broker at %s (no such socket): start it with `systemctl start "
        "agnocastd` or run `agnocastd --socket %s`, or set AGNOCAST_SOCKET\n",
        missing, missing);
    assert_string_equal(f->r.err, want);
    ctl_result_clear(&f->r);

    /* A socket file nobody listens on any more: ECONNREFUSED. */
    g_autofree char *stale = g_build_filename(f->dir, "stale.sock", NULL);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    g_strlcpy(sa.sun_path, stale, sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    close(fd);
    ctl_run(&f->r, NULL, FALSE, "stats", "--socket", stale, NULL);
    assert_int_equal(f->r.status, CLI_EXIT_NO_BROKER);
    assert_non_null(strstr(f->r.err, "(connection refused)"));
    assert_non_null(strstr(f->r.err, "systemctl start agnocastd"));
}

static void test_ctl_permission_denied_names_socket_and_group(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_NORMAL, 0, 0);
    g_autofree char *path = g_strdup(fake_broker_path(f->fb));

    /* As root the child drops to nobody, who is not in root's group; otherwise nobody may. */
    assert_int_equal(chmod(f->dir, 0755), 0);
    assert_int_equal(chmod(path, getuid() == 0 ? 0660 : 0), 0);
    ctl_run(&f->r, path, TRUE, "list-topics", NULL);
    stop(f);

    assert_int_equal(f->r.status, CLI_EXIT_DENIED);
    assert_non_null(strstr(f->r.err, "permission denied on the broker socket"));
    assert_non_null(strstr(f->r.err, path));
    assert_non_null(strstr(f->r.err, "only members of group '"));
    assert_non_null(strstr(f->r.err, "usermod -aG"));
    assert_int_equal(f->connections, 0);
}

static void test_ctl_silent_broker_times_out(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_SILENT, 0, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "list-topics", "--timeout", "1", NULL);
    stop(f);
    assert_int_equal(f->r.status, CLI_EXIT_PROTOCOL);
    assert_non_null(strstr(f->r.err, "did not answer within 1 s"));
}

static void test_ctl_broker_hang_up_exits_protocol(void **state)
{
    struct fixture *f = *state;
    start(f, FAKE_BROKER_HANG_UP, 0, 0);

    ctl_run(&f->r, fake_broker_path(f->fb), FALSE, "list-processes", NULL);
    stop(f);
    assert_int_equal(f->r.status, CLI_EXIT_PROTOCOL);
    assert_non_null(strstr(f->r.err, "closed the connection"));
}

static void expect_usage(struct fixture *f, const char *needle)
{
    assert_int_equal(f->r.status, CLI_EXIT_USAGE);
    assert_string_equal(f->r.out, "");
    assert_non_null(strstr(f->r.err, needle));
    ctl_result_clear(&f->r);
}

static void test_ctl_usage_errors_exit_usage(void **state)
{
    struct fixture *f = *state;

    ctl_run(&f->r, NULL, FALSE, "frobnicate", NULL);
    expect_usage(f, "unknown command 'frobnicate'");
    ctl_run(&f->r, NULL, FALSE, NULL);
    expect_usage(f, "no command given");
    ctl_run(&f->r, NULL, FALSE, "topic-info", NULL);
    expect_usage(f, "missing argument: usage is `agnocastctl topic-info TOPIC`");
    ctl_run(&f->r, NULL, FALSE, "list-topics", "extra", NULL);
    expect_usage(f, "unexpected argument 'extra'");
    ctl_run(&f->r, NULL, FALSE, "list-topics", "--frob", NULL);
    expect_usage(f, "Try `agnocastctl list-topics --help`");
    ctl_run(&f->r, NULL, FALSE, "stats", "--timeout", "0", NULL);
    expect_usage(f, "--timeout must be at least 1 second");
    ctl_run(&f->r, NULL, FALSE, "help", "frobnicate", NULL);
    expect_usage(f, "unknown command 'frobnicate'");
}

static void test_ctl_help_and_version(void **state)
{
    struct fixture *f = *state;

    ctl_run(&f->r, NULL, FALSE, "--version", NULL);
    assert_int_equal(f->r.status, 0);
    g_autofree char *version = g_strdup_printf("agnocastctl %s (protocol version %d)\n",
                                               AGNOCAST_TEST_VERSION, AGNOCAST_PROTO_VERSION);
    assert_string_equal(f->r.out, version);
    ctl_result_clear(&f->r);

    ctl_run(&f->r, NULL, FALSE, "help", NULL);
    assert_int_equal(f->r.status, 0);
    static const char *const cmds[] = {"list-topics", "topic-info", "list-processes", "stats"};
    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++)
        assert_non_null(strstr(f->r.out, cmds[i]));
    assert_non_null(strstr(f->r.out, "Exit status:"));
    ctl_result_clear(&f->r);

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        g_autofree char *usage = g_strdup_printf("agnocastctl %s [OPTION", cmds[i]);
        ctl_run(&f->r, NULL, FALSE, cmds[i], "--help", NULL);
        assert_int_equal(f->r.status, 0);
        assert_non_null(strstr(f->r.out, usage));
        assert_non_null(strstr(f->r.out, "--json"));
        ctl_result_clear(&f->r);
        ctl_run(&f->r, NULL, FALSE, "help", cmds[i], NULL);
        assert_int_equal(f->r.status, 0);
        assert_non_null(strstr(f->r.out, usage));
        ctl_result_clear(&f->r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctl_list_topics_pages_until_total, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_list_topics_json_is_one_document, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_list_topics_empty_prints_header_only,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_topic_info_lists_publishers_first, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_topic_info_counters_from_segments, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_topic_info_unreadable_segments_say_why,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_topic_info_unknown_topic_prints_broker_message,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_topic_info_invalid_name_rejected_before_connecting,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_list_processes_shows_range_and_pool, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_stats_names_kinds, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_version_mismatch_prints_both_versions,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_no_broker_exits_no_broker_with_remedy,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_permission_denied_names_socket_and_group,
                                        fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_silent_broker_times_out, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_broker_hang_up_exits_protocol, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_usage_errors_exit_usage, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_help_and_version, fixture_setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
