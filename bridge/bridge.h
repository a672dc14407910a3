/* The running bridge: its agnocast context, its DDS participant and the routes of the config. */
#ifndef AGNOCAST_BRIDGE_BRIDGE_H
#define AGNOCAST_BRIDGE_BRIDGE_H

#include <dds/dds.h>
#include <glib.h>

#include <agnocast.h>

#include "config.h"

#define BRIDGE_ERROR g_quark_from_static_string("agnocast-bridge")

struct bridge {
    struct agnocast_context *ctx;
    dds_entity_t participant; /* 0 until a config names a topic */
    int domain;
    char *host;
    const char *codec_dir; /* --codec-dir; the config's codec_dir wins */
    struct config *cfg;
    GPtrArray *routes; /* struct route * */
};

/* Makes the routes `cfg` names and removes the others; keeps a route whose settings did not
 * change (its dedup memory and DDS matches survive a reload). Takes `cfg`. A topic that cannot
 * be set up is logged and left out; returns how many could not. */
int bridge_apply(struct bridge *b, struct config *cfg);

/* Removes every route and the participant. */
void bridge_clear(struct bridge *b);

#endif
