/* The status file: the bridge writes its routes and counters there, --status reads it back. */
#ifndef AGNOCAST_BRIDGE_STATUS_H
#define AGNOCAST_BRIDGE_STATUS_H

#include <glib.h>

#include "bridge.h"

/* Writes the bridge's state to `path` atomically (a rename). `config_state` is one sentence:
 * "loaded", "missing: nothing bridged", or why the last reload failed. */
int status_write(const struct bridge *b, const char *config_state, const char *path,
                 GError **error);

/* Prints the status at `path` for people, or as JSON; says so when the bridge that wrote it is
 * gone. Returns the exit status: 0, or 1 when there is no status or its bridge is not running. */
int status_print(const char *path, int json);

void status_remove(const char *path);

#endif
