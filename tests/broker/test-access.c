/* Unit tests of the broker's access rules (agnocastd/access.c): loading, matching, listing. */
#include <errno.h>
#include <glib.h>
#include <pwd.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "access.h"
#include "broker.h"
#include "options.h"

/* Names every Debian system has: user root (uid 0), groups root (0), daemon (1), bin (2). */
#define NOBODY_UID 4242u

struct files {
    char *dir;
    char *path;
};

/* The name the broker shows for `uid`: the user database's, or "no user name". */
static const char *user_name(uid_t uid)
{
    struct passwd *pw = getpwuid(uid);

    return pw != NULL ? pw->pw_name : "no user name";
}

static int files_setup(void **state)
{
    struct files *f = g_new0(struct files, 1);

    f->dir = g_dir_make_tmp("agnocast-access-XXXXXX", NULL);
    assert_non_null(f->dir);
    f->path = g_build_filename(f->dir, "access.conf", NULL);
    *state = f;
    return 0;
}

static int files_teardown(void **state)
{
    struct files *f = *state;

    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
    g_free(f);
    return 0;
}

static struct access_rules *load_text(struct files *f, const char *text, char **why)
{
    assert_true(g_file_set_contents(f->path, text, -1, NULL));
    *why = NULL;
    return access_rules_load(f->path, why);
}

static struct access_rules *load_ok(struct files *f, const char *text)
{
    char *why = NULL;
    struct access_rules *r = load_text(f, text, &why);

    if (r == NULL)
        fail_msg("rules refused: %s", why);
    return r;
}

/* The file is refused and the sentence contains `path:line` (line 0: the path alone) and
 * every one of the NULL-terminated `parts`. */
static void expect_refused(struct files *f, const char *text, unsigned line, ...)
{
    char *why = NULL;
    struct access_rules *r = load_text(f, text, &why);
    char *where = line != 0 ? g_strdup_printf("%s:%u: ", f->path, line) : g_strdup(f->path);
    va_list ap;

    assert_null(r);
    assert_non_null(why);
    if (strstr(why, where) == NULL)
        fail_msg("\"%s\" does not name %s", why, where);
    va_start(ap, line);
    for (const char *part = va_arg(ap, const char *); part != NULL; part = va_arg(ap, const char *))
        if (strstr(why, part) == NULL)
            fail_msg("\"%s\" does not say \"%s\"", why, part);
    va_end(ap);
    g_free(where);
    g_free(why);
}

static const struct access_peer nobody = {.uid = NOBODY_UID, .gid = NOBODY_UID};
static const struct access_peer root = {.uid = 0, .gid = 0};

static int check(const struct access_rules *r, const char *topic, enum access_action a,
                 const struct access_peer *who)
{
    char *why = NULL;
    int rc = access_check(r, topic, a, who, &why);

    assert_true(rc == 0 ? why == NULL : why != NULL);
    g_free(why);
    return rc;
}

static const char sample[] = "# who may do what\n"
                             "[/camera]\n"
                             "publish=root;@daemon\n"
                             "subscribe=*\n"
                             "\n"
                             "[/camera/secret]\n"
                             "publish = root\n"
                             "subscribe =\n"
                             "[/]\n"
                             "publish=*\n"
                             "subscribe=@bin, root\n";

static void test_access_no_rules_allow_everything(void **state)
{
    struct agnocast_wire_rule_entry e[2];
    guint total = 99;

    assert_int_equal(check(NULL, "/camera", ACCESS_PUBLISH, &nobody), 0);
    assert_int_equal(check(NULL, "/camera", ACCESS_SUBSCRIBE, &nobody), 0);
    assert_int_equal(access_rules_count(NULL), 0);
    assert_int_equal(access_rules_list(NULL, 0, e, 2, &total), 0);
    assert_int_equal(total, 0);
    access_rules_free(NULL);
}

/* An empty file (or one of comments) holds no rules: everyone may do everything. */
static void test_access_empty_file_is_no_rules(void **state)
{
    struct access_rules *r = load_ok(*state, "# nothing yet\n\n");

    assert_int_equal(access_rules_count(r), 0);
    assert_int_equal(check(r, "/anything", ACCESS_PUBLISH, &nobody), 0);
    assert_int_equal(check(r, "/anything", ACCESS_SUBSCRIBE, &nobody), 0);
    access_rules_free(r);
}

static void test_access_list_is_sorted_and_paged(void **state)
{
    struct files *f = *state;
    struct access_rules *r = load_ok(f, sample);
    struct agnocast_wire_rule_entry e[3];
    guint total = 0;

    assert_int_equal(access_rules_count(r), 3);
    assert_string_equal(access_rules_path(r), f->path);
    assert_int_equal(access_rules_list(r, 0, e, 3, &total), 3);
    assert_int_equal(total, 3);
    assert_string_equal(e[0].prefix, "/");
    assert_string_equal(e[0].publish, "*");
    assert_string_equal(e[0].subscribe, "@bin,root");
    assert_string_equal(e[1].prefix, "/camera");
    assert_string_equal(e[1].publish, "root,@daemon");
    assert_string_equal(e[1].subscribe, "*");
    assert_string_equal(e[2].prefix, "/camera/secret");
    assert_string_equal(e[2].publish, "root");
    assert_string_equal(e[2].subscribe, "");
    /* The wire wants zeros after each string's NUL. */
    for (size_t i = strlen(e[2].publish); i < sizeof(e[2].publish); i++)
        assert_int_equal(e[2].publish[i], 0);

    assert_int_equal(access_rules_list(r, 1, e, 1, &total), 1);
    assert_string_equal(e[0].prefix, "/camera");
    assert_int_equal(access_rules_list(r, 3, e, 3, &total), 0);
    assert_int_equal(access_rules_list(r, 7, e, 3, &total), 0);
    assert_int_equal(total, 3);
    access_rules_free(r);
}

static void test_access_longest_prefix_wins(void **state)
{
    struct access_rules *r = load_ok(*state, sample);

    /* /camera: root and group daemon publish, everyone subscribes. */
    assert_int_equal(check(r, "/camera", ACCESS_PUBLISH, &root), 0);
    assert_int_equal(check(r, "/camera/left", ACCESS_PUBLISH, &root), 0);
    assert_int_equal(check(r, "/camera/left", ACCESS_PUBLISH, &nobody), -EACCES);
    assert_int_equal(check(r, "/camera/left", ACCESS_SUBSCRIBE, &nobody), 0);
    /* /camera/secret beats /camera: nobody subscribes, not even root. */
    assert_int_equal(check(r, "/camera/secret", ACCESS_SUBSCRIBE, &root), -EACCES);
    assert_int_equal(check(r, "/camera/secret/raw", ACCESS_SUBSCRIBE, &root), -EACCES);
    assert_int_equal(check(r, "/camera/secret/raw", ACCESS_PUBLISH, &root), 0);
    /* The rest falls to "/": everyone publishes, group bin and root subscribe. */
    assert_int_equal(check(r, "/lidar", ACCESS_PUBLISH, &nobody), 0);
    assert_int_equal(check(r, "/lidar", ACCESS_SUBSCRIBE, &nobody), -EACCES);
    assert_int_equal(check(r, "/lidar", ACCESS_SUBSCRIBE, &root), 0);
    access_rules_free(r);
}

/* "/camera" covers /camera and /camera/..., never /cameras or /camera_2. */
static void test_access_prefix_matches_whole_segments(void **state)
{
    struct access_rules *r = load_ok(*state, "[/camera]\npublish=\nsubscribe=\n");

    assert_int_equal(check(r, "/camera", ACCESS_PUBLISH, &nobody), -EACCES);
    assert_int_equal(check(r, "/camera/a/b/c", ACCESS_PUBLISH, &nobody), -EACCES);
    assert_int_equal(check(r, "/cameras", ACCESS_PUBLISH, &nobody), 0);
    assert_int_equal(check(r, "/camera_2", ACCESS_SUBSCRIBE, &nobody), 0);
    assert_int_equal(check(r, "/a/camera", ACCESS_SUBSCRIBE, &nobody), 0);
    access_rules_free(r);
}

/* Without a "/" rule a topic under no prefix is open to everyone. */
static void test_access_unmatched_topic_is_open(void **state)
{
    struct access_rules *r = load_ok(*state, "[/camera]\npublish=root\nsubscribe=root\n");

    assert_int_equal(check(r, "/other", ACCESS_PUBLISH, &nobody), 0);
    assert_int_equal(check(r, "/other/deep", ACCESS_SUBSCRIBE, &nobody), 0);
    assert_int_equal(check(r, "/camera", ACCESS_SUBSCRIBE, &nobody), -EACCES);
    access_rules_free(r);
}

/* @group matches the primary group and every supplementary group the kernel reported. */
static void test_access_groups_primary_and_supplementary(void **state)
{
    struct access_rules *r = load_ok(*state, sample);
    const gid_t daemon_and_more[] = {5, 1, 7};
    const gid_t others[] = {5, 7};
    struct access_peer who = {.uid = NOBODY_UID, .gid = 1};

    assert_int_equal(check(r, "/camera/x", ACCESS_PUBLISH, &who), 0);
    who.gid = NOBODY_UID;
    who.groups = daemon_and_more;
    who.ngroups = G_N_ELEMENTS(daemon_and_more);
    assert_int_equal(check(r, "/camera/x", ACCESS_PUBLISH, &who), 0);
    who.groups = others;
    who.ngroups = G_N_ELEMENTS(others);
    assert_int_equal(check(r, "/camera/x", ACCESS_PUBLISH, &who), -EACCES);
    /* A group list does not stand for its members' uids: group root is not user root. */
    who.groups = NULL;
    who.ngroups = 0;
    who.gid = 0;
    assert_int_equal(check(r, "/camera/secret", ACCESS_PUBLISH, &who), -EACCES);
    access_rules_free(r);
}

/* The refusal names the requester (uid and name), the action, the rule, its file and line, who
 * it allows, and the topic. */
static void test_access_refusal_sentence(void **state)
{
    struct files *f = *state;
    struct access_rules *r = load_ok(f, sample);
    char *why = NULL, *want;
    struct access_peer user_root_group_bin = {.uid = 0, .gid = 2};

    assert_int_equal(access_check(r, "/camera/left", ACCESS_PUBLISH, &nobody, &why), -EACCES);
    want = g_strdup_printf("uid 4242 (%s) may not publish: rule [/camera] in %s "
                           "(line 2) lets only root,@daemon publish; topic /camera/left",
                           user_name(4242), f->path);
    assert_string_equal(why, want);
    g_free(want);
    g_free(why);

    assert_int_equal(
        access_check(r, "/camera/secret/raw", ACCESS_SUBSCRIBE, &user_root_group_bin, &why),
        -EACCES);
    want = g_strdup_printf("uid 0 (root) may not subscribe: rule [/camera/secret] in %s (line 6) "
                           "lets nobody subscribe; topic /camera/secret/raw",
                           f->path);
    assert_string_equal(why, want);
    g_free(want);
    g_free(why);
    access_rules_free(r);
}

static void test_access_missing_key_is_refused(void **state)
{
    expect_refused(*state, "[/camera]\npublish=*\n", 1, "[/camera] has no subscribe= line",
                   "subscribe=* for everyone", "subscribe= for nobody", NULL);
    expect_refused(*state, "[/]\n", 1, "[/] has no publish= line", NULL);
}

static void test_access_bad_files_are_refused(void **state)
{
    struct files *f = *state;
    GString *many = g_string_new("[/a]\nsubscribe=*\npublish=");

    expect_refused(f, "[/camera]\npublish=alcie\nsubscribe=*\n", 2,
                   "[/camera] publish: no user \"alcie\" on this system", NULL);
    expect_refused(f, "[/camera]\npublish=*\nsubscribe=@no_such_group_here\n", 3,
                   "[/camera] subscribe: no group \"no_such_group_here\"", NULL);
    expect_refused(f, "[/camera]\npublish=@\nsubscribe=*\n", 2, "without a group name", NULL);
    expect_refused(f, "\n[/camera/]\npublish=*\nsubscribe=*\n", 2,
                   "[/camera/] is not a topic prefix", NULL);
    expect_refused(f, "[camera]\npublish=*\nsubscribe=*\n", 1, "[camera] is not a topic prefix",
                   NULL);
    expect_refused(f, "[/1camera]\npublish=*\nsubscribe=*\n", 1, "is not a topic prefix", NULL);
    expect_refused(f, "[/camera]\npublish=*\nsubscribe=*\nsubscriber=root\n", 4,
                   "unknown key \"subscriber\"", NULL);
    expect_refused(f, "publish=*\n[/a]\n", 1, "comes before any [prefix] line", NULL);
    expect_refused(f, "[/a]\npublish=*\nsubscribe=*\n[/b]\npublish=*\nsubscribe=*\n[/a]\n", 7,
                   "[/a] appears a second time (first at line 1)", NULL);
    expect_refused(f, "[/a]\npublish=root\nsubscribe=*\npublish=*\n", 4,
                   "[/a] sets publish a second time (first at line 2)", NULL);
    expect_refused(f, "[/a]\npublish=root;*\nsubscribe=*\n", 2, "\"*\" (everyone) is combined",
                   NULL);
    expect_refused(f, "[/a]\npublish=*\nsubscribe=*\njust words\n", 4, "\"just words\" is neither",
                   NULL);
    expect_refused(f, "[/a\npublish=*\nsubscribe=*\n", 1, "does not end with ]", NULL);
    expect_refused(f, "[/a]\npublish=\xff\nsubscribe=*\n", 2, "not UTF-8", NULL);
    /* More names than the rule listing carries (255 bytes). */
    for (int i = 0; i < 60; i++)
        g_string_append(many, "root;");
    g_string_append_c(many, '\n');
    expect_refused(f, many->str, 3, "more than the 255 a rule may hold", NULL);
    g_string_free(many, TRUE);
}

static void test_access_unreadable_files_are_refused(void **state)
{
    struct files *f = *state;
    char *why = NULL;

    assert_null(access_rules_load(f->path, &why)); /* not created */
    assert_non_null(strstr(why, "No such file or directory"));
    assert_non_null(strstr(why, f->path));
    g_free(why);
    why = NULL;
    assert_null(access_rules_load(f->dir, &why));
    assert_non_null(strstr(why, "must be a regular file"));
    g_free(why);
}

static void test_access_option_parses(void **state)
{
    struct broker_config cfg;
    char *err = NULL;
    char *with[] = {"agnocastd", "--access-rules", "/etc/agnocast/access.conf", NULL};
    char *without[] = {"agnocastd", NULL};

    assert_int_equal(options_parse(3, with, &cfg, &err), 0);
    assert_string_equal(cfg.access_rules, "/etc/agnocast/access.conf");
    options_clear(&cfg);
    assert_null(cfg.access_rules);
    assert_int_equal(options_parse(1, without, &cfg, &err), 0);
    assert_null(cfg.access_rules);
    options_clear(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_access_no_rules_allow_everything),
        cmocka_unit_test_setup_teardown(test_access_empty_file_is_no_rules, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_list_is_sorted_and_paged, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_longest_prefix_wins, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_prefix_matches_whole_segments, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_unmatched_topic_is_open, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_groups_primary_and_supplementary, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_refusal_sentence, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_access_missing_key_is_refused, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_bad_files_are_refused, files_setup,
                                        files_teardown),
        cmocka_unit_test_setup_teardown(test_access_unreadable_files_are_refused, files_setup,
                                        files_teardown),
        cmocka_unit_test(test_access_option_parses),
    };

    return cmocka_run_group_tests_name("access", tests, NULL, NULL);
}
