/* Writing JSON strings: quoting, escaping, and repairing text that is not UTF-8. */
#include "json.h"

#include <string.h>

static void json_append_escaped_char(GString *out, gunichar c)
{
    switch (c) {
    case '"':
        g_string_append(out, "\\\"");
        return;
    case '\\':
        g_string_append(out, "\\\\");
        return;
    case '\b':
        g_string_append(out, "\\b");
        return;
    case '\f':
        g_string_append(out, "\\f");
        return;
    case '\n':
        g_string_append(out, "\\n");
        return;
    case '\r':
        g_string_append(out, "\\r");
        return;
    case '\t':
        g_string_append(out, "\\t");
        return;
    default:
        break;
    }
    if (c < 0x20 || c == 0x7f)
        g_string_append_printf(out, "\\u%04x", (unsigned)c);
    else
        g_string_append_unichar(out, c);
}

void json_append_string(GString *out, const char *s)
{
    const char *p = s;
    const char *end = s + strlen(s);

    g_string_append_c(out, '"');
    while (p < end) {
        gunichar c = g_utf8_get_char_validated(p, end - p);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            /* One replacement per bad byte keeps the output length tied to the input. */
            g_string_append(out, "\\ufffd");
            p++;
            continue;
        }
        json_append_escaped_char(out, c);
        p = g_utf8_next_char(p);
    }
    g_string_append_c(out, '"');
}

void json_append_key(GString *out, const char *key)
{
    json_append_string(out, key);
    g_string_append_c(out, ':');
}
