/* Log helpers: escaping of peer-supplied bytes so a log line cannot be forged or garbled. */
#include "log.h"

#include <glib.h>
#include <string.h>

char *log_escape(const void *bytes, size_t len, size_t max)
{
    const unsigned char *p = bytes;
    size_t n = len < max ? len : max;
    GString *out = g_string_sized_new(n + 8);

    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\')
            g_string_append(out, "\\\\");
        else if (p[i] >= 0x20 && p[i] < 0x7f)
            g_string_append_c(out, (char)p[i]);
        else
            g_string_append_printf(out, "\\x%02x", p[i]);
    }
    if (len > n)
        g_string_append(out, "...");
    return g_string_free(out, FALSE);
}

char *log_escape_str(const char *s)
{
    return log_escape(s, strlen(s), 512);
}
