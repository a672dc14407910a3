/* Setting a route up and down; its two halves live in route-out.c and route-in.c. */
#include "codec.h"
#include "dds.h"
#include "log.h"
#include "route.h"

/* Plugins are looked for here when neither the config nor the command line says. */
static const char *codec_dir(const struct bridge *b)
{
    return b->cfg && b->cfg->codec_dir ? b->cfg->codec_dir : b->codec_dir;
}

struct route *route_new(struct bridge *b, const struct topic_config *t, GError **error)
{
    struct route *r = g_new0(struct route, 1);

    r->bridge = b;
    r->cfg = g_new0(struct topic_config, 1);
    *r->cfg = *t;
    r->cfg->topic = g_strdup(t->topic);
    r->cfg->type = g_strdup(t->type);
    r->dds_name = dds_topic_name(t->topic);
    g_mutex_init(&r->in_lock);
    r->last_seq = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    if ((r->codec = codec_find(t->type, codec_dir(b), error)) == NULL)
        return route_free(r);
    if ((r->topic = dds_route_topic(b->participant, t, error)) < 0)
        return route_free(r);
    /* In first: with `both`, the local publisher exists before the subscription that must
     * ignore it (AGNOCAST_IGNORE_LOCAL covers it either way). */
    if ((t->direction & DIRECTION_IN) && route_in_start(r, error) < 0)
        return route_free(r);
    if ((t->direction & DIRECTION_OUT) && route_out_start(r, error) < 0)
        return route_free(r);
    log_info("bridging %s as DDS topic %s (%s, type %s, %s, %s, depth %u)", t->topic, r->dds_name,
             direction_name(t->direction), t->type, t->reliable ? "reliable" : "best_effort",
             t->transient_local ? "transient_local" : "volatile", t->depth);
    return r;
}

struct route *route_free(struct route *r)
{
    if (r == NULL)
        return NULL;
    route_out_stop(r);
    route_in_stop(r);
    if (r->topic > 0)
        dds_delete(r->topic);
    g_hash_table_destroy(r->last_seq);
    g_mutex_clear(&r->in_lock);
    g_free(r->scratch);
    g_free(r->dds_name);
    g_free(r->cfg->topic);
    g_free(r->cfg->type);
    g_free(r->cfg);
    g_free(r);
    return NULL;
}
