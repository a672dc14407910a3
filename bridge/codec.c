/* The codec registry: built-in codecs first, then plugins loaded once with dlopen. */
#include <dlfcn.h>
#include <string.h>

#include "codec.h"

static const struct agnocast_bridge_codec *const builtin[] = {&codec_flat};

/* name -> const struct agnocast_bridge_codec *, for plugins already loaded. */
static GHashTable *loaded;

int codec_name_valid(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 63)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static const struct agnocast_bridge_codec *load_plugin(const char *name, const char *dir,
                                                       GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%s.so", dir, name);
    const struct agnocast_bridge_codec *codec;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);

    if (handle == NULL) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                    "no codec \"%s\": not built in, and %s cannot be loaded (%s); install the "
                    "codec there or set codec_dir in the config",
                    name, path, dlerror());
        return NULL;
    }
    codec = dlsym(handle, AGNOCAST_BRIDGE_CODEC_SYMBOL);
    if (codec == NULL) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s exports no %s: it is not an agnocast-bridge codec", path,
                    AGNOCAST_BRIDGE_CODEC_SYMBOL);
        dlclose(handle);
        return NULL;
    }
    if (codec->abi != AGNOCAST_BRIDGE_CODEC_ABI || codec->name == NULL ||
        strcmp(codec->name, name) != 0 || codec->decode == NULL ||
        (codec->in_place == NULL && (codec->encoded_size == NULL || codec->encode == NULL))) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%s is a codec for ABI %u named \"%s\", or lacks decode or encode; this "
                    "bridge needs ABI %d named \"%s\": rebuild it against this agnocast-bridge.h",
                    path, codec->abi, codec->name ? codec->name : "", AGNOCAST_BRIDGE_CODEC_ABI,
                    name);
        dlclose(handle);
        return NULL;
    }
    return codec;
}

const struct agnocast_bridge_codec *codec_find(const char *name, const char *dir, GError **error)
{
    const struct agnocast_bridge_codec *codec;

    if (!codec_name_valid(name)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "type \"%s\" is no codec name: use letters, digits, '_' and '-' (at most 63)",
                    name);
        return NULL;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(builtin); i++)
        if (strcmp(builtin[i]->name, name) == 0)
            return builtin[i];
    if (loaded == NULL)
        loaded = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    codec = g_hash_table_lookup(loaded, name);
    if (codec == NULL && (codec = load_plugin(name, dir, error)) != NULL)
        g_hash_table_insert(loaded, g_strdup(name), (void *)codec);
    return codec;
}
