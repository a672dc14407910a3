/* The locale of agnocastd's and agnocastctl's output (the exit statuses are all in cli.h). */
#include "cli.h"

#include <glib.h>
#include <locale.h>
#include <stdio.h>

/* `text` (UTF-8) as the current locale's character set can show it; g_free() it. */
static char *text_for_locale(const char *text)
{
    /* GLib's strings are UTF-8 ("[OPTION…]"); g_print() would turn what an ASCII locale lacks
     * into '?'. Transliterated, "…" reads "..." and "é" reads "e". */
    if (g_get_charset(NULL))
        return g_strdup(text);
    return g_str_to_ascii(text, NULL);
}

static void print_out(const char *text)
{
    char *s = text_for_locale(text);

    fputs(s, stdout);
    fflush(stdout);
    g_free(s);
}

static void print_err(const char *text)
{
    char *s = text_for_locale(text);

    fputs(s, stderr);
    g_free(s);
}

void cli_init(void)
{
    setlocale(LC_ALL, "");
    /* Numbers stay "1.5" whatever the language: --json output and logs are read by programs. */
    setlocale(LC_NUMERIC, "C");
    g_set_print_handler(print_out);
    g_set_printerr_handler(print_err);
}
