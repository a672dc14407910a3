/* Parsing the INI-style configuration with GKeyFile, every value checked. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <agnocast-proto.h>

#include "codec.h"
#include "config.h"

#define TOPIC_GROUP_PREFIX "topic "
/* DDS domain ids a participant can use (Cyclone: 0 to 232, its port mapping's range). */
#define DOMAIN_MAX 232

static void topic_config_free(void *p)
{
    struct topic_config *t = p;

    g_free(t->topic);
    g_free(t->type);
    g_free(t);
}

struct config *config_free(struct config *cfg)
{
    if (cfg == NULL)
        return NULL;
    g_free(cfg->path);
    g_free(cfg->host);
    g_free(cfg->codec_dir);
    if (cfg->topics)
        g_ptr_array_free(cfg->topics, TRUE);
    g_free(cfg);
    return NULL;
}

int topic_config_equal(const struct topic_config *a, const struct topic_config *b)
{
    return strcmp(a->topic, b->topic) == 0 && strcmp(a->type, b->type) == 0 &&
           a->direction == b->direction && a->reliable == b->reliable &&
           a->transient_local == b->transient_local && a->depth == b->depth;
}

const char *direction_name(unsigned direction)
{
    switch (direction) {
    case DIRECTION_OUT:
        return "out";
    case DIRECTION_IN:
        return "in";
    default:
        return "both";
    }
}

/* A string key from a fixed set: its index in `names`, `def` if absent, -1 with `error` set. */
static int get_choice(GKeyFile *kf, const char *group, const char *key, const char *const *names,
                      int def, const char *path, GError **error)
{
    g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
    g_autoptr(GString) allowed = g_string_new(NULL);

    if (v == NULL)
        return def;
    g_strstrip(v);
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(v, names[i]) == 0)
            return i;
        g_string_append_printf(allowed, "%s%s", i ? ", " : "", names[i]);
    }
    g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                "%s: [%s] %s = \"%s\" is not one of %s", path, group, key, v, allowed->str);
    return -1;
}

/* An integer key in [min, max]; `def` if absent; 0, or -1 with `error` set. */
static int get_int(GKeyFile *kf, const char *group, const char *key, int min, int max, int def,
                   int *out, const char *path, GError **error)
{
    g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
    char *end;
    long n;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    g_strstrip(v);
    errno = 0;
    n = strtol(v, &end, 10);
    if (v[0] == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [%s] %s = \"%s\" is not a whole number from %d to %d", path, group, key, v,
                    min, max);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Keys a group may have; anything else is a typo the user wants to hear about. */
static int check_keys(GKeyFile *kf, const char *group, const char *const *known, const char *path,
                      GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

    for (size_t i = 0; keys && keys[i]; i++) {
        int ok = 0;
        for (size_t j = 0; known[j] && !ok; j++)
            ok = strcmp(keys[i], known[j]) == 0;
        if (!ok) {
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                        "%s: [%s] has an unknown key \"%s\" (see agnocast-bridge(8))", path, group,
                        keys[i]);
            return -1;
        }
    }
    return 0;
}

static struct topic_config *parse_topic(GKeyFile *kf, const char *group, const char *path,
                                        GError **error)
{
    static const char *const keys[] = {"direction",  "type",  "reliability",
                                       "durability", "depth", NULL};
    static const char *const directions[] = {"out", "in", "both", NULL};
    static const char *const reliabilities[] = {"reliable", "best_effort", NULL};
    static const char *const durabilities[] = {"volatile", "transient_local", NULL};
    static const unsigned direction_bits[] = {DIRECTION_OUT, DIRECTION_IN, DIRECTION_BOTH};
    g_autofree char *type = NULL;
    struct topic_config *t;
    const char *name = group + strlen(TOPIC_GROUP_PREFIX);
    int dir, rel, dur, depth;

    if (!agnocast_topic_name_valid(name)) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [%s]: \"%s\" is not a topic name (like /chatter or /robot/scan: "
                    "segments of letters, digits and '_', not starting with a digit)",
                    path, group, name);
        return NULL;
    }
    if (check_keys(kf, group, keys, path, error) < 0)
        return NULL;
    if ((dir = get_choice(kf, group, "direction", directions, -2, path, error)) == -1)
        return NULL;
    if (dir == -2) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                    "%s: [%s] needs direction = out, in or both", path, group);
        return NULL;
    }
    if ((rel = get_choice(kf, group, "reliability", reliabilities, 0, path, error)) < 0 ||
        (dur = get_choice(kf, group, "durability", durabilities, 0, path, error)) < 0 ||
        get_int(kf, group, "depth", 1, 1024, 10, &depth, path, error) < 0)
        return NULL;
    type = g_key_file_get_string(kf, group, "type", NULL);
    if (type == NULL)
        type = g_strdup("flat");
    g_strstrip(type);
    if (!codec_name_valid(type)) {
        g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                    "%s: [%s] type = \"%s\" is not a codec name (flat, demo, or a plugin's)", path,
                    group, type);
        return NULL;
    }
    t = g_new0(struct topic_config, 1);
    t->topic = g_strdup(name);
    t->type = g_steal_pointer(&type);
    t->direction = direction_bits[dir];
    t->reliable = rel == 0;
    t->transient_local = dur == 1;
    t->depth = (unsigned)depth;
    return t;
}

static int parse(GKeyFile *kf, struct config *cfg, GError **error)
{
    static const char *const dds_keys[] = {"domain", NULL};
    static const char *const bridge_keys[] = {"host", "codec_dir", NULL};
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

    if (g_key_file_has_group(kf, "dds") &&
        (check_keys(kf, "dds", dds_keys, cfg->path, error) < 0 ||
         get_int(kf, "dds", "domain", 0, DOMAIN_MAX, 0, &cfg->domain, cfg->path, error) < 0))
        return -1;
    if (g_key_file_has_group(kf, "bridge")) {
        if (check_keys(kf, "bridge", bridge_keys, cfg->path, error) < 0)
            return -1;
        cfg->host = g_key_file_get_string(kf, "bridge", "host", NULL);
        cfg->codec_dir = g_key_file_get_string(kf, "bridge", "codec_dir", NULL);
        if (cfg->host && (g_strstrip(cfg->host)[0] == '\0' || strlen(cfg->host) > 255)) {
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                        "%s: [bridge] host is empty or longer than 255 bytes", cfg->path);
            return -1;
        }
    }
    for (size_t i = 0; groups[i]; i++) {
        const char *g = groups[i];
        struct topic_config *t;

        if (strcmp(g, "dds") == 0 || strcmp(g, "bridge") == 0)
            continue;
        if (!g_str_has_prefix(g, TOPIC_GROUP_PREFIX)) {
            g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                        "%s: unknown group [%s]: the groups are [dds], [bridge] and "
                        "[topic /NAME]",
                        cfg->path, g);
            return -1;
        }
        if ((t = parse_topic(kf, g, cfg->path, error)) == NULL)
            return -1;
        for (size_t j = 0; j < cfg->topics->len; j++) {
            if (strcmp(((struct topic_config *)cfg->topics->pdata[j])->topic, t->topic) == 0) {
                g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                            "%s: topic %s is configured twice", cfg->path, t->topic);
                topic_config_free(t);
                return -1;
            }
        }
        g_ptr_array_add(cfg->topics, t);
    }
    if (cfg->host == NULL) {
        char name[256] = "";
        gethostname(name, sizeof(name) - 1);
        cfg->host = g_strdup(name[0] ? name : "localhost");
    }
    return 0;
}

struct config *config_load(const char *path, int *missing, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) err = NULL;
    struct config *cfg = g_new0(struct config, 1);

    cfg->path = g_strdup(path);
    cfg->topics = g_ptr_array_new_with_free_func(topic_config_free);
    *missing = 0;
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &err)) {
        if (g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            *missing = 1;
            g_key_file_free(g_steal_pointer(&kf));
            kf = g_key_file_new();
        } else {
            g_set_error(error, err->domain, err->code, "%s: %s", path, err->message);
            return config_free(cfg);
        }
    }
    if (parse(kf, cfg, error) < 0)
        return config_free(cfg);
    return cfg;
}
