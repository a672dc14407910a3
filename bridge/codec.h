/* Finding a codec by type name: the built-in ones, then NAME.so in the codec directory. */
#ifndef AGNOCAST_BRIDGE_CODEC_H
#define AGNOCAST_BRIDGE_CODEC_H

#include <glib.h>

#include "agnocast-bridge.h"

/* Plugins stay loaded until the bridge exits: a reload that drops a topic may still race a
 * sample in flight, and a codec is a few pages. */
const struct agnocast_bridge_codec *codec_find(const char *name, const char *dir, GError **error);

/* 1 if `name` is a valid codec name (letters, digits, '_', '-'; 1 to 63 bytes). */
int codec_name_valid(const char *name);

extern const struct agnocast_bridge_codec codec_flat;

#endif
