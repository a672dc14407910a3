/* Unit tests for agnocastd's command-line options (agnocastd/options.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "options.h"
#include "ranges.h"

static void test_options_parse_size_suffixes(void **state)
{
    uint64_t v = 0;

    assert_int_equal(options_parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(options_parse_size("0x40000000000", &v), 0);
    assert_int_equal(v, 0x40000000000ull);
    assert_int_equal(options_parse_size("64M", &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(options_parse_size("64MiB", &v), 0);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(options_parse_size("4g", &v), 0);
    assert_int_equal(v, 4ull << 30);
    assert_int_equal(options_parse_size("16T", &v), 0);
    assert_int_equal(v, 16ull << 40);
    assert_int_equal(options_parse_size("1K", &v), 0);
    assert_int_equal(v, 1024);
}

static void test_options_parse_size_rejects_garbage(void **state)
{
    uint64_t v = 7;

    assert_int_equal(options_parse_size("", &v), -EINVAL);
    assert_int_equal(options_parse_size("-1", &v), -EINVAL);
    assert_int_equal(options_parse_size(" 1", &v), -EINVAL);
    assert_int_equal(options_parse_size("12X", &v), -EINVAL);
    assert_int_equal(options_parse_size("12MX", &v), -EINVAL);
    assert_int_equal(options_parse_size("M", &v), -EINVAL);
    assert_int_equal(options_parse_size("99999999999999999999", &v), -EINVAL);
    assert_int_equal(options_parse_size("20000000T", &v), -EINVAL);
    assert_int_equal(v, 7);
}

static void test_options_parse_defaults_and_values(void **state)
{
    char *argv0[] = {"agnocastd", NULL};
    char *argv1[] = {"agnocastd",
                     "--pool-size",
                     "1M",
                     "--window-base",
                     "0x100000000000",
                     "--socket",
                     "/x.sock",
                     "--socket-mode",
                     "600",
                     "--max-clients",
                     "3",
                     NULL};
    struct broker_config cfg;
    char *err = NULL;

    assert_int_equal(options_parse(1, argv0, &cfg, &err), 0);
    assert_int_equal(cfg.pool_size, OPTIONS_DEFAULT_POOL_SIZE);
    assert_int_equal(cfg.max_pool_size, OPTIONS_DEFAULT_MAX_POOL_SIZE);
    assert_int_equal(cfg.window_base, RANGES_DEFAULT_BASE);
    assert_int_equal(cfg.window_size, RANGES_DEFAULT_SIZE);
    assert_int_equal(cfg.socket_mode, 0660);
    assert_int_equal(cfg.max_clients, 1024);
    assert_null(cfg.socket_path);
    options_clear(&cfg);

    assert_int_equal(options_parse(11, argv1, &cfg, &err), 0);
    assert_int_equal(cfg.pool_size, 1u << 20);
    assert_int_equal(cfg.window_base, 0x100000000000ull);
    assert_string_equal(cfg.socket_path, "/x.sock");
    assert_int_equal(cfg.socket_mode, 0600);
    assert_int_equal(cfg.max_clients, 3);
    options_clear(&cfg);
}

static void test_options_parse_quotas(void **state)
{
    char *argv0[] = {"agnocastd", NULL};
    char *shares[] = {"agnocastd", "--max-clients", "100", "--max-topics",
                      "2",         "--window-size", "1T",  NULL};
    char *argv1[] = {"agnocastd", "--max-processes-per-uid",    "5",  "--max-address-space-per-uid",
                     "2G",        "--max-endpoints-per-uid",    "6",  "--max-topics-per-uid",
                     "7",         "--max-queued-bytes-per-uid", "8M", NULL};
    char *bad_size[] = {"agnocastd", "--max-queued-bytes-per-uid", "0", NULL};
    char *bad_n[] = {"agnocastd", "--max-processes-per-uid", "0", NULL};
    struct broker_config cfg;
    char *err = NULL;

    /* Shares of the global limits, root included. */
    assert_int_equal(options_parse(1, argv0, &cfg, &err), 0);
    assert_int_equal(cfg.max_processes_per_uid, 256);
    assert_int_equal(cfg.max_space_per_uid, 4ull << 40);
    assert_int_equal(cfg.max_endpoints_per_uid, 8192);
    assert_int_equal(cfg.max_topics_per_uid, 2500);
    assert_int_equal(cfg.max_queued_per_uid, 64u << 20);
    options_clear(&cfg);
    assert_int_equal(options_parse(7, shares, &cfg, &err), 0);
    assert_int_equal(cfg.max_processes_per_uid, 25);
    assert_int_equal(cfg.max_topics_per_uid, 1);
    assert_int_equal(cfg.max_space_per_uid, 256ull << 30);
    options_clear(&cfg);

    assert_int_equal(options_parse(11, argv1, &cfg, &err), 0);
    assert_int_equal(cfg.max_processes_per_uid, 5);
    assert_int_equal(cfg.max_space_per_uid, 2ull << 30);
    assert_int_equal(cfg.max_endpoints_per_uid, 6);
    assert_int_equal(cfg.max_topics_per_uid, 7);
    assert_int_equal(cfg.max_queued_per_uid, 8u << 20);
    options_clear(&cfg);

    assert_int_equal(options_parse(3, bad_size, &cfg, &err), -1);
    assert_non_null(strstr(err, "--max-queued-bytes-per-uid"));
    g_free(err);
    options_clear(&cfg);
    err = NULL;
    assert_int_equal(options_parse(3, bad_n, &cfg, &err), -1);
    assert_non_null(strstr(err, "--max-processes-per-uid"));
    g_free(err);
    options_clear(&cfg);
}

static void test_options_parse_errors(void **state)
{
    char *bad_size[] = {"agnocastd", "--pool-size", "lots", NULL};
    char *bad_mode[] = {"agnocastd", "--socket-mode", "0999", NULL};
    char *extra[] = {"agnocastd", "surplus", NULL};
    struct broker_config cfg;
    char *err = NULL;

    assert_int_equal(options_parse(3, bad_size, &cfg, &err), -1);
    assert_non_null(strstr(err, "--pool-size"));
    g_free(err);
    options_clear(&cfg);
    err = NULL;
    assert_int_equal(options_parse(3, bad_mode, &cfg, &err), -1);
    assert_non_null(strstr(err, "octal"));
    g_free(err);
    options_clear(&cfg);
    err = NULL;
    assert_int_equal(options_parse(2, extra, &cfg, &err), -1);
    assert_non_null(strstr(err, "surplus"));
    g_free(err);
    options_clear(&cfg);
}

static void test_options_parse_limits_and_restart(void **state)
{
    char *argv0[] = {"agnocastd", NULL};
    char *argv1[] = {"agnocastd", "--max-connections-per-uid",
                     "5",         "--max-endpoints",
                     "6",         "--max-topics",
                     "7",         "--restart-grace",
                     "0",         "--state-file",
                     "/s.state",  NULL};
    char *bad[] = {"agnocastd", "--max-topics", "0", NULL};
    struct broker_config cfg;
    char *err = NULL;

    assert_int_equal(options_parse(1, argv0, &cfg, &err), 0);
    assert_int_equal(cfg.max_connections_per_uid, 256);
    assert_int_equal(cfg.max_endpoints, 256);
    assert_int_equal(cfg.max_topics, 10000);
    assert_int_equal(cfg.restart_grace, 10);
    assert_null(cfg.state_file);
    options_clear(&cfg);

    assert_int_equal(options_parse(11, argv1, &cfg, &err), 0);
    assert_int_equal(cfg.max_connections_per_uid, 5);
    assert_int_equal(cfg.max_endpoints, 6);
    assert_int_equal(cfg.max_topics, 7);
    assert_int_equal(cfg.restart_grace, 0);
    assert_string_equal(cfg.state_file, "/s.state");
    options_clear(&cfg);

    assert_int_equal(options_parse(3, bad, &cfg, &err), -1);
    assert_non_null(strstr(err, "--max-topics"));
    g_free(err);
    options_clear(&cfg);
}

/* -V and --version alike: both print the version and ask main to exit 0. */
static void test_options_parse_version_short_and_long(void **state)
{
    char *shrt[] = {"agnocastd", "-V", NULL};
    char *lng[] = {"agnocastd", "--version", NULL};
    struct broker_config cfg;
    char *err = NULL;

    assert_int_equal(options_parse(2, shrt, &cfg, &err), 1);
    assert_null(err);
    options_clear(&cfg);
    assert_int_equal(options_parse(2, lng, &cfg, &err), 1);
    assert_null(err);
    options_clear(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_parse_size_suffixes),
        cmocka_unit_test(test_options_parse_size_rejects_garbage),
        cmocka_unit_test(test_options_parse_defaults_and_values),
        cmocka_unit_test(test_options_parse_quotas),
        cmocka_unit_test(test_options_parse_errors),
        cmocka_unit_test(test_options_parse_limits_and_restart),
        cmocka_unit_test(test_options_parse_version_short_and_long),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
