/* The bridge's configuration file: which topics cross, in which direction, with which QoS. */
#ifndef AGNOCAST_BRIDGE_CONFIG_H
#define AGNOCAST_BRIDGE_CONFIG_H

#include <glib.h>

enum direction {
    DIRECTION_OUT = 1u << 0, /* local publishers -> DDS */
    DIRECTION_IN = 1u << 1,  /* DDS -> a local publisher */
    DIRECTION_BOTH = DIRECTION_OUT | DIRECTION_IN,
};

struct topic_config {
    char *topic; /* the agnocast topic, "/chatter" */
    char *type;  /* the codec's name */
    unsigned direction;
    int reliable;
    int transient_local;
    unsigned depth;
};

struct config {
    char *path;
    int domain;
    char *host;        /* the origin name this bridge stamps, and refuses on arrival */
    char *codec_dir;   /* NULL: the command line's or the built-in directory */
    GPtrArray *topics; /* struct topic_config *, in file order */
};

/* Reads `path`. A missing file is an empty configuration (nothing bridged), not an error:
 * *missing is then set. Returns NULL with `error` set on anything malformed, naming the group
 * and key. */
struct config *config_load(const char *path, int *missing, GError **error);
struct config *config_free(struct config *cfg);

/* 1 if both describe the same route (a reload keeps such a route as it is). */
int topic_config_equal(const struct topic_config *a, const struct topic_config *b);

const char *direction_name(unsigned direction);

#endif
