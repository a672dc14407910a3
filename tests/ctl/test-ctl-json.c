/* JSON string escaping: quotes, control characters, and text that is not UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "json.h"

static void expect_json(const char *in, const char *want)
{
    GString *out = g_string_new(NULL);
    json_append_string(out, in);
    assert_string_equal(out->str, want);
    g_string_free(out, TRUE);
}

static void test_json_plain_text_is_quoted(void **state)
{
    expect_json("", "\"\"");
    expect_json("/chatter", "\"/chatter\"");
}

static void test_json_quote_and_backslash_are_escaped(void **state)
{
    expect_json("a\"b\\c", "\"a\\\"b\\\\c\"");
}

static void test_json_control_characters_are_escaped(void **state)
{
    expect_json("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
    expect_json("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
}

static void test_json_utf8_passes_through(void **state)
{
    expect_json("caf\xc3\xa9 \xe2\x82\xac", "\"caf\xc3\xa9 \xe2\x82\xac\"");
}

static void test_json_invalid_utf8_becomes_replacement(void **state)
{
    /* A lone continuation byte, a truncated sequence at the end, an encoded surrogate. */
    expect_json("a\x80z", "\"a\\ufffdz\"");
    expect_json("x\xe2\x82", "\"x\\ufffd\\ufffd\"");
    expect_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
}

static void test_json_key_is_followed_by_colon(void **state)
{
    GString *out = g_string_new(NULL);
    json_append_key(out, "na\"me");
    assert_string_equal(out->str, "\"na\\\"me\":");
    g_string_free(out, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_plain_text_is_quoted),
        cmocka_unit_test(test_json_quote_and_backslash_are_escaped),
        cmocka_unit_test(test_json_control_characters_are_escaped),
        cmocka_unit_test(test_json_utf8_passes_through),
        cmocka_unit_test(test_json_invalid_utf8_becomes_replacement),
        cmocka_unit_test(test_json_key_is_followed_by_colon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
