/* Applying a configuration: the participant for its domain, a route per topic it names. */
#include <string.h>

#include "dds.h"
#include "log.h"
#include "route.h"

static void drop_routes(struct bridge *b)
{
    for (size_t i = 0; i < b->routes->len; i++)
        route_free(b->routes->pdata[i]);
    g_ptr_array_set_size(b->routes, 0);
}

void bridge_clear(struct bridge *b)
{
    drop_routes(b);
    if (b->participant > 0)
        dds_delete(b->participant);
    b->participant = 0;
}

/* The route of `old` with exactly the settings `t` asks for, taken out of `old`; or NULL. */
static struct route *take_same(GPtrArray *old, const struct topic_config *t)
{
    for (size_t i = 0; i < old->len; i++) {
        struct route *r = old->pdata[i];
        if (topic_config_equal(r->cfg, t)) {
            g_ptr_array_remove_index(old, (unsigned)i);
            return r;
        }
    }
    return NULL;
}

int bridge_apply(struct bridge *b, struct config *cfg)
{
    struct config *prev = b->cfg;
    GPtrArray *old;
    int failed = 0;

    /* A new domain or origin name changes every route: start over with a new participant. */
    if (b->participant > 0 && (cfg->domain != b->domain || strcmp(cfg->host, b->host) != 0))
        bridge_clear(b);
    b->cfg = cfg;
    g_free(b->host);
    b->host = g_strdup(cfg->host);
    b->domain = cfg->domain;
    if (b->participant <= 0 && cfg->topics->len > 0) {
        g_autoptr(GError) err = NULL;
        if ((b->participant = dds_participant_new(cfg->domain, &err)) < 0) {
            log_error("%s", err->message);
            b->participant = 0;
            drop_routes(b);
            config_free(prev);
            return (int)cfg->topics->len;
        }
    }
    old = b->routes;
    b->routes = g_ptr_array_new();
    for (size_t i = 0; i < cfg->topics->len; i++) {
        const struct topic_config *t = cfg->topics->pdata[i];
        struct route *r = take_same(old, t);
        /* The codec directory belongs to the config too: a kept route keeps its codec, which
         * is the one this name loaded first anyway (plugins are never unloaded). */
        if (r == NULL) {
            g_autoptr(GError) err = NULL;
            /* Another route on this topic (other settings) goes first: one route per topic. */
            for (size_t j = 0; j < old->len; j++) {
                struct route *o = old->pdata[j];
                if (strcmp(o->cfg->topic, t->topic) == 0) {
                    route_free(o);
                    g_ptr_array_remove_index(old, (unsigned)j);
                    break;
                }
            }
            if ((r = route_new(b, t, &err)) == NULL) {
                log_error("%s: not bridged: %s", t->topic, err->message);
                failed++;
                continue;
            }
        }
        g_ptr_array_add(b->routes, r);
    }
    for (size_t i = 0; i < old->len; i++) {
        struct route *r = old->pdata[i];
        log_info("%s: no longer bridged", r->cfg->topic);
        route_free(r);
    }
    g_ptr_array_free(old, TRUE);
    if (cfg->topics->len == 0 && b->participant > 0)
        bridge_clear(b);
    config_free(prev);
    return failed;
}
