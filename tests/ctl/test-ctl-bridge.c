/* Reading agnocast-bridge's status file (agnocastctl/bridge-status.c): forged files for a running
 * bridge (this test's own pid), a gone one, malformed ones and none; and the list-topics columns
 * and JSON members they add. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge-status.h"
#include "format.h"

/* What bridge/status.c writes for an `out` route and an `in` route (in reverse order, so the
 * sorting shows); PID is replaced. */
static const char status_text[] = "[bridge]\n"
                                  "pid=PID\n"
                                  "host=robot-a\n"
                                  "domain=3\n"
                                  "config=/etc/agnocast/bridge.conf\n"
                                  "config_state=loaded\n"
                                  "broker_connected=true\n"
                                  "updated=1700000000\n"
                                  "\n"
                                  "[topic /zeta]\n"
                                  "dds_topic=rt/zeta\n"
                                  "dds_type=agnocast_msgs::msg::dds_::Bytes_\n"
                                  "direction=in\n"
                                  "type=flat\n"
                                  "reliability=best_effort\n"
                                  "durability=volatile\n"
                                  "depth=10\n"
                                  "sent=0\nreceived=5\npublished=4\ndropped=1\nduplicates=0\n"
                                  "loops=0\ndecode_errors=0\nencode_errors=0\ncopies=0\n"
                                  "local_publishers=-1\nlocal_subscriptions=0\n"
                                  "remote_readers=-1\nremote_writers=1\n"
                                  "\n"
                                  "[topic /alpha]\n"
                                  "dds_topic=rt/alpha\n"
                                  "dds_type=agnocast_msgs::msg::dds_::Bytes_\n"
                                  "direction=out\n"
                                  "type=demo\n"
                                  "reliability=reliable\n"
                                  "durability=transient_local\n"
                                  "depth=300\n"
                                  "sent=400\nreceived=0\npublished=0\ndropped=0\nduplicates=0\n"
                                  "loops=2\ndecode_errors=0\nencode_errors=3\ncopies=400\n"
                                  "local_publishers=1\nlocal_subscriptions=-1\n"
                                  "remote_readers=2\nremote_writers=-1\n";

struct files {
    char *dir;
};

static int files_setup(void **state)
{
    struct files *f = g_new0(struct files, 1);

    f->dir = g_dir_make_tmp("agnocastctl-bridge-XXXXXX", NULL);
    assert_non_null(f->dir);
    *state = f;
    return 0;
}

static int files_teardown(void **state)
{
    struct files *f = *state;
    GDir *d = g_dir_open(f->dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *p = g_build_filename(f->dir, name, NULL);
        (void)g_unlink(p);
    }
    if (d != NULL)
        g_dir_close(d);
    (void)g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f);
    return 0;
}

/* Writes `text` with "PID" replaced by `pid` to a file of the test's directory; g_free() it. */
static char *write_status(struct files *f, const char *name, const char *text, long pid)
{
    g_autofree char *pid_text = g_strdup_printf("%ld", pid);
    g_auto(GStrv) parts = g_strsplit(text, "PID", -1);
    g_autofree char *body = g_strjoinv(pid_text, parts);
    char *path = g_build_filename(f->dir, name, NULL);

    assert_true(g_file_set_contents(path, body, -1, NULL));
    return path;
}

/* A pid that is not running: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static void test_bridge_status_running_routes_sorted(void **state)
{
    struct files *f = *state;
    g_autofree char *path = write_status(f, "status", status_text, (long)getpid());
    GError *error = NULL;
    struct bridge_status *s = bridge_status_load(path, &error);

    assert_null(error);
    assert_non_null(s);
    assert_true(s->running);
    assert_int_equal(s->pid, getpid());
    assert_string_equal(s->host, "robot-a");
    assert_int_equal(s->domain, 3);
    assert_true(s->broker_connected);
    assert_int_equal(s->routes->len, 2);

    const struct bridge_route *a = bridge_status_route(s, "/alpha");
    assert_non_null(a);
    assert_ptr_equal(a, g_ptr_array_index(s->routes, 0));
    assert_string_equal(a->direction, "out");
    assert_string_equal(a->dds_topic, "rt/alpha");
    assert_int_equal(a->depth, 300);
    assert_int_equal(a->counters[BRIDGE_SENT], 400);
    assert_int_equal(a->counters[BRIDGE_LOOPS], 2);
    assert_int_equal(a->counters[BRIDGE_ENCODE_ERRORS], 3);
    assert_int_equal(a->counters[BRIDGE_COPIES], 400);
    assert_int_equal(bridge_status_route(s, "/zeta")->counters[BRIDGE_COPIES], 0);
    assert_int_equal(a->endpoints[BRIDGE_REMOTE_READERS], 2);
    assert_int_equal(a->endpoints[BRIDGE_REMOTE_WRITERS], -1);
    assert_null(bridge_status_route(s, "/chatter"));

    g_autofree char *remote_a = bridge_route_remote_cell(a);
    g_autofree char *remote_z = bridge_route_remote_cell(bridge_status_route(s, "/zeta"));
    g_autofree char *remote_none = bridge_route_remote_cell(NULL);
    g_autofree char *dir_none = bridge_route_direction_cell(NULL);
    assert_string_equal(remote_a, "2 readers");
    assert_string_equal(remote_z, "1 writer");
    assert_string_equal(remote_none, "-");
    assert_string_equal(dir_none, "-");
    bridge_status_free(s);
}

static void test_bridge_status_gone_pid_hides_routes(void **state)
{
    struct files *f = *state;
    g_autofree char *path = write_status(f, "status", status_text, dead_pid());
    GError *error = NULL;
    struct bridge_status *s = bridge_status_load(path, &error);

    assert_null(error);
    assert_non_null(s);
    assert_false(s->running);
    assert_int_equal(s->routes->len, 2);
    assert_null(bridge_status_route(s, "/alpha"));

    GString *out = g_string_new(NULL);
    bridge_status_json(out, s, TRUE);
    assert_non_null(strstr(out->str, "\"running\":false"));
    assert_true(g_str_has_suffix(out->str, "\"topics\":[]}"));
    g_string_truncate(out, 0);
    bridge_status_text_counters(out, s);
    g_autofree char *want = g_strdup_printf("\nagnocast-bridge is not running (pid %ld in %s is "
                                            "gone): bridged topics are not shown\n",
                                            (long)s->pid, path);
    assert_string_equal(out->str, want);
    g_string_free(out, TRUE);
    bridge_status_free(s);
}

static void test_bridge_status_missing_or_empty_path_is_no_bridge(void **state)
{
    struct files *f = *state;
    g_autofree char *path = g_build_filename(f->dir, "none", NULL);
    GError *error = NULL;

    assert_null(bridge_status_load(path, &error));
    assert_null(error);
    assert_null(bridge_status_load("", &error));
    assert_null(error);
    /* And nothing is added to the output. */
    GString *out = g_string_new(NULL);
    bridge_status_json(out, NULL, TRUE);
    bridge_status_text_counters(out, NULL);
    bridge_status_text_not_running(out, NULL);
    bridge_route_text(out, NULL, NULL);
    assert_string_equal(out->str, "");
    g_string_free(out, TRUE);
}

static void test_bridge_status_malformed_names_file_and_fault(void **state)
{
    struct files *f = *state;
    static const struct {
        const char *text;
        const char *fault;
    } cases[] = {
        {"[bridge\npid=1\n", "not a key-value pair"},
        {"[other]\nx=1\n", "no [bridge] group"},
        {"[bridge]\nhost=a\n", "[bridge] pid is missing"},
        {"[bridge]\npid=-4\n", "[bridge] pid is missing"},
        {"[bridge]\npid=1\ndomain=zero\n", "[bridge] domain is not a count"},
        {"[bridge]\npid=1\n[topic chatter]\ndirection=in\n", "[topic chatter] does not name"},
        {"[bridge]\npid=1\n[topic /x]\ndirection=sideways\n", "direction is not out, in or"},
        {"[bridge]\npid=1\n[topic /x]\ndirection=in\nsent=abc\n", "[topic /x] sent is not a"},
        {"[bridge]\npid=1\n[topic /x]\ndirection=in\nremote_writers=-2\n", "remote_writers is"},
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *name = g_strdup_printf("bad%zu", i);
        g_autofree char *path = write_status(f, name, cases[i].text, 1);
        GError *error = NULL;

        assert_null(bridge_status_load(path, &error));
        assert_non_null(error);
        if (!g_str_has_prefix(error->message, path) || !strstr(error->message, cases[i].fault))
            fail_msg("case %zu: %s", i, error->message);
        g_error_free(error);
    }
}

/* Keys a newer bridge adds, and groups it adds, are not a reason to refuse the file; keys an
 * older one lacks read as unknown (-1, JSON null). */
static void test_bridge_status_tolerates_other_versions(void **state)
{
    struct files *f = *state;
    g_autofree char *path = write_status(f, "status",
                                         "[bridge]\npid=PID\nfuture=1\n[codecs]\nx=y\n"
                                         "[topic /t]\ndirection=both\nsent=1\nnew_counter=9\n",
                                         (long)getpid());
    GError *error = NULL;
    struct bridge_status *s = bridge_status_load(path, &error);

    assert_null(error);
    assert_non_null(s);
    const struct bridge_route *r = bridge_status_route(s, "/t");
    assert_non_null(r);
    assert_int_equal(r->counters[BRIDGE_SENT], 1);
    assert_int_equal(r->counters[BRIDGE_RECEIVED], -1);
    assert_int_equal(r->counters[BRIDGE_COPIES], -1); /* a bridge before the counter */
    GString *out = g_string_new(NULL);
    bridge_route_json(out, r);
    assert_non_null(strstr(out->str, "\"direction\":\"both\""));
    assert_non_null(strstr(out->str, "\"sent\":1,\"received\":null,"));
    g_string_free(out, TRUE);
    bridge_status_free(s);
}

static void test_bridge_status_list_topics_columns_and_json(void **state)
{
    struct files *f = *state;
    g_autofree char *path = write_status(f, "status", status_text, (long)getpid());
    struct bridge_status *s = bridge_status_load(path, NULL);
    struct agnocast_wire_topic_entry t[2] = {0};
    strcpy(t[0].topic, "/alpha");
    t[0].publishers = 1;
    strcpy(t[1].topic, "/local_only");
    t[1].subscriptions = 2;
    GString *out = g_string_new(NULL);

    assert_non_null(s);
    format_topics(out, t, 2, s, FALSE);
    assert_string_equal(out->str, "TOPIC        PUBLISHERS  SUBSCRIPTIONS  BRIDGE  REMOTE\n"
                                  "/alpha       1           0              out     2 readers\n"
                                  "/local_only  0           2              -       -\n");
    g_string_truncate(out, 0);
    format_topics(out, t, 2, s, TRUE);
    assert_true(g_str_has_prefix(
        out->str, "{\"topics\":[{\"name\":\"/alpha\",\"publishers\":1,\"subscriptions\":0,"
                  "\"bridge\":{\"topic\":\"/alpha\",\"direction\":\"out\",\"dds_topic\":"
                  "\"rt/alpha\",\"dds_type\":\"agnocast_msgs::msg::dds_::Bytes_\",\"type\":"
                  "\"demo\",\"reliability\":\"reliable\",\"durability\":\"transient_local\","
                  "\"depth\":300,\"local_publishers\":1,\"local_subscriptions\":null,"
                  "\"remote_readers\":2,\"remote_writers\":null,\"sent\":400,\"received\":0,"
                  "\"published\":0,\"dropped\":0,\"duplicates\":0,\"loops\":2,"
                  "\"decode_errors\":0,\"encode_errors\":3,\"copies\":400}},{\"name\":"
                  "\"/local_only\","
                  "\"publishers\":0,\"subscriptions\":2,\"bridge\":null}],\"bridge_status\":{"));
    g_autofree char *tail = g_strdup_printf("\"pid\":%d,\"running\":true,\"host\":\"robot-a\","
                                            "\"domain\":3,\"config_state\":\"loaded\","
                                            "\"broker_connected\":true,\"updated\":1700000000}}\n",
                                            (int)getpid());
    assert_true(g_str_has_suffix(out->str, tail));
    g_string_free(out, TRUE);
    bridge_status_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bridge_status_running_routes_sorted, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_status_gone_pid_hides_routes, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_status_missing_or_empty_path_is_no_bridge,
                                        files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_status_malformed_names_file_and_fault,
                                        files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_status_tolerates_other_versions, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_bridge_status_list_topics_columns_and_json,
                                        files_setup, files_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
