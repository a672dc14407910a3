/* Writing JSON strings: quoting, escaping, and repairing text that is not UTF-8. */
#ifndef AGNOCASTCTL_JSON_H
#define AGNOCASTCTL_JSON_H

#include <glib.h>

/*
 * Appends `s` as a quoted JSON string: '"' and '\\' escaped, control characters as \n, \t, ...
 * or \u00XX, DEL as \u007f, and every byte that is not part of valid UTF-8 as \ufffd, so the
 * document stays valid whatever a peer sent.
 */
void json_append_string(GString *out, const char *s);

/* Appends `"key":` with `key` escaped as above. */
void json_append_key(GString *out, const char *key);

#endif
