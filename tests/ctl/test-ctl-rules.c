/* `agnocastctl rules` against the real agnocastd started with --access-rules, the broker's
 * refusal of a bad rules file, SIGHUP reloading, and the rule formatting on odd input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "cli.h"
#include "ctl-run.h"
#include "format.h"
#include "harness-broker.h"

static const char rules_text[] = "# camera images: a few write, the group reads\n"
                                 "[/camera]\n"
                                 "publish=root;@daemon\n"
                                 "subscribe=*\n"
                                 "\n"
                                 "[/camera/secret]\n"
                                 "publish=root\n"
                                 "subscribe=\n";

struct world {
    struct broker b; /* a private agnocastd (tests/harness) */
    char *dir;       /* the rules file, and the socket of a broker that must refuse to start */
    char *sock;
    char *rules;
    struct ctl_result r;
};

static int world_setup(void **state)
{
    struct world *w = g_new0(struct world, 1);

    w->dir = ctl_tmpdir_new();
    w->sock = g_build_filename(w->dir, "agnocast.sock", NULL);
    w->rules = g_build_filename(w->dir, "access.conf", NULL);
    *state = w;
    return 0;
}

static void world_stop_broker(struct world *w)
{
    if (w->b.pid > 0)
        assert_int_equal(broker_signal(&w->b, SIGTERM), 0);
}

static int world_teardown(void **state)
{
    struct world *w = *state;

    broker_cleanup(&w->b);
    ctl_result_clear(&w->r);
    ctl_tmpdir_remove(w->dir);
    g_free(w->sock);
    g_free(w->rules);
    g_free(w);
    return 0;
}

/* Starts agnocastd with --access-rules w->rules holding `text` unless it is NULL. */
static void world_start_broker(struct world *w, const char *text)
{
    const char *args[] = {"--state-file", "", "--access-rules", w->rules, NULL};

    if (text != NULL)
        assert_true(g_file_set_contents(w->rules, text, -1, NULL));
    else
        args[2] = NULL;
    if (broker_start(&w->b, args) < 0)
        fail_msg("agnocastd did not start");
}

#define CTL_OK(w, ...)                                                                             \
    do {                                                                                           \
        ctl_result_clear(&(w)->r);                                                                 \
        ctl_run(&(w)->r, NULL, FALSE, "--socket", (w)->b.socket, __VA_ARGS__, NULL);               \
        if ((w)->r.status != 0)                                                                    \
            fail_msg("agnocastctl exit %d: %s", (w)->r.status, (w)->r.err);                        \
    } while (0)

static void test_ctl_rules_text_and_json(void **state)
{
    struct world *w = *state;

    world_start_broker(w, rules_text);
    CTL_OK(w, "rules");
    assert_string_equal(w->r.out, "PREFIX          PUBLISH        SUBSCRIBE\n"
                                  "/camera         root, @daemon  everyone\n"
                                  "/camera/secret  root           nobody\n"
                                  "topics under no prefix above: everyone may publish and "
                                  "subscribe\n");
    CTL_OK(w, "rules", "--json");
    assert_string_equal(w->r.out,
                        "{\"rules\":[{\"prefix\":\"/camera\",\"publish\":[\"root\",\"@daemon\"],"
                        "\"subscribe\":[\"*\"]},{\"prefix\":\"/camera/secret\",\"publish\":"
                        "[\"root\"],\"subscribe\":[]}]}\n");
    world_stop_broker(w);
}

static void test_ctl_rules_without_rules(void **state)
{
    struct world *w = *state;

    world_start_broker(w, NULL);
    CTL_OK(w, "rules");
    assert_string_equal(w->r.out, "no access rules: everyone who may connect may publish and "
                                  "subscribe on every topic\n");
    CTL_OK(w, "rules", "--json");
    assert_string_equal(w->r.out, "{\"rules\":[]}\n");
    world_stop_broker(w);
}

/* More rules than one RULE_LIST frame holds: the CLI asks for every page. */
static void test_ctl_rules_pages(void **state)
{
    struct world *w = *state;
    GString *text = g_string_new("[/]\npublish=*\nsubscribe=*\n");
    const unsigned n = AGNOCAST_RULES_MAX * 2 + 3;

    for (unsigned i = 0; i < n; i++)
        g_string_append_printf(text, "[/t_%03u]\npublish=root\nsubscribe=@bin\n", i);
    world_start_broker(w, text->str);
    g_string_free(text, TRUE);
    CTL_OK(w, "rules");
    g_auto(GStrv) lines = g_strsplit(w->r.out, "\n", -1);
    assert_int_equal(g_strv_length(lines), 1 + 1 + n + 1); /* header, "/", rules, "" */
    assert_true(g_str_has_prefix(lines[1], "/ "));
    assert_true(g_str_has_prefix(lines[2], "/t_000 "));
    g_autofree char *last = g_strdup_printf("/t_%03u root @bin", n - 1);
    g_autoptr(GRegex) spaces = g_regex_new(" +", 0, 0, NULL);
    g_autofree char *row = g_regex_replace_literal(spaces, lines[n + 1], -1, 0, " ", 0, NULL);
    assert_string_equal(row, last);
    world_stop_broker(w);
}

/* A bad file stops the broker before it listens: exit 1, the file, line and problem. */
static void test_ctl_rules_broker_refuses_bad_file(void **state)
{
    struct world *w = *state;
    char *argv[] = {(char *)g_getenv("AGNOCASTD"),
                    "--socket",
                    w->sock,
                    "--state-file",
                    "",
                    "--access-rules",
                    w->rules,
                    NULL};
    g_autofree char *err = NULL;
    int status = 0;
    GError *error = NULL;

    assert_true(g_file_set_contents(w->rules, "[/camera]\npublish=alcie\nsubscribe=*\n", -1, NULL));
    if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status,
                      &error))
        fail_msg("cannot run agnocastd: %s", error->message);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CLI_EXIT_CONFIG);
    g_autofree char *want = g_strdup_printf("agnocastd: %s:2: [/camera] publish: no user "
                                            "\"alcie\" on this system",
                                            w->rules);
    if (strstr(err, want) == NULL)
        fail_msg("stderr \"%s\" lacks \"%s\"", err, want);
    assert_false(g_file_test(w->sock, G_FILE_TEST_EXISTS));
}

/* Waits up to 5 s for `agnocastctl rules --json` to print `want`. */
static void expect_rules_json(struct world *w, const char *want)
{
    for (int i = 0; i < 100; i++) {
        CTL_OK(w, "rules", "--json");
        if (strcmp(w->r.out, want) == 0)
            return;
        g_usleep(50000);
    }
    assert_string_equal(w->r.out, want);
}

/* SIGHUP reads the file again; an invalid file leaves the old rules in force. */
static void test_ctl_rules_sighup_reloads(void **state)
{
    struct world *w = *state;
    const char *one = "{\"rules\":[{\"prefix\":\"/a\",\"publish\":[\"root\"],\"subscribe\":"
                      "[\"*\"]}]}\n";
    const char *two = "{\"rules\":[{\"prefix\":\"/\",\"publish\":[],\"subscribe\":[]},"
                      "{\"prefix\":\"/a\",\"publish\":[\"*\"],\"subscribe\":[\"*\"]}]}\n";

    world_start_broker(w, "[/a]\npublish=root\nsubscribe=*\n");
    expect_rules_json(w, one);
    assert_true(g_file_set_contents(w->rules,
                                    "[/a]\npublish=*\nsubscribe=*\n[/]\npublish=\n"
                                    "subscribe=\n",
                                    -1, NULL));
    assert_int_equal(kill(w->b.pid, SIGHUP), 0);
    expect_rules_json(w, two);
    assert_true(g_file_set_contents(w->rules, "[/a]\npublish=*\n", -1, NULL));
    assert_int_equal(kill(w->b.pid, SIGHUP), 0);
    g_usleep(200000);
    CTL_OK(w, "rules", "--json");
    assert_string_equal(w->r.out, two);
    world_stop_broker(w);
}

/* What a broker sends is peer input: control characters are cleaned, JSON escaped. */
static void test_ctl_rules_format_odd_entries(void **state)
{
    struct agnocast_wire_rule_entry e[2];
    GString *out = g_string_new(NULL);

    memset(e, 0, sizeof e);
    g_strlcpy(e[0].prefix, "/", sizeof e[0].prefix);
    g_strlcpy(e[0].publish, "a\tb,\"q\"", sizeof e[0].publish);
    g_strlcpy(e[1].prefix, "/x", sizeof e[1].prefix);
    g_strlcpy(e[1].subscribe, "*", sizeof e[1].subscribe);
    format_rules(out, e, 2, FALSE);
    assert_string_equal(out->str, "PREFIX  PUBLISH   SUBSCRIBE\n"
                                  "/       a?b, \"q\"  nobody\n"
                                  "/x      nobody    everyone\n");
    g_string_truncate(out, 0);
    format_rules(out, e, 2, TRUE);
    assert_string_equal(out->str, "{\"rules\":[{\"prefix\":\"/\",\"publish\":[\"a\\tb\","
                                  "\"\\\"q\\\"\"],\"subscribe\":[]},{\"prefix\":\"/x\","
                                  "\"publish\":[],\"subscribe\":[\"*\"]}]}\n");
    g_string_free(out, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ctl_rules_text_and_json, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_rules_without_rules, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_rules_pages, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_rules_broker_refuses_bad_file, world_setup,
                                        world_teardown),
        cmocka_unit_test_setup_teardown(test_ctl_rules_sighup_reloads, world_setup, world_teardown),
        cmocka_unit_test(test_ctl_rules_format_odd_entries),
    };

    return cmocka_run_group_tests_name("ctl-rules", tests, NULL, NULL);
}
