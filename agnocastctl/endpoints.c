/* A topic's publishers and subscriptions with the counters read from their segments. */
#include "endpoints.h"

#include "agnocastctl.h"

static void endpoints_read_one(struct ctl_endpoint *e)
{
    if (e->seg == NULL)
        return;
    if (e->entry.is_publisher) {
        e->ring_ok = agn_shm_ring_get(&e->seg->view, e->entry.index, &e->ring);
        e->have_counters = e->ring_ok;
        if (e->ring_ok)
            e->published = agn_shm_ring_head(&e->ring);
    } else {
        e->have_counters = agn_shm_sub_counters(&e->seg->view, e->entry.index, &e->sub);
    }
}

/* Subscriptions' counters first, publishers' heads after: a subscription cannot have received
 * what its publisher had not yet published, so received + missed never exceeds published in
 * what is shown (on a topic with one publisher). */
void endpoints_read(GArray *endpoints)
{
    for (int publishers = 0; publishers <= 1; publishers++)
        for (guint i = 0; i < endpoints->len; i++) {
            struct ctl_endpoint *e = &g_array_index(endpoints, struct ctl_endpoint, i);
            if (!!e->entry.is_publisher == publishers)
                endpoints_read_one(e);
        }
}

GArray *endpoints_query(struct client *c, struct segcache *sc, const char *topic, gboolean refresh,
                        GError **error)
{
    GArray *list = client_query_list(c, AGNOCAST_MSG_TOPIC_INFO, topic, error);

    if (list == NULL)
        return NULL;
    if (refresh && !segcache_refresh(sc, error)) {
        g_array_free(list, TRUE);
        return NULL;
    }
    GArray *out = g_array_sized_new(FALSE, TRUE, sizeof(struct ctl_endpoint), list->len);
    for (int pass = 1; pass >= 0; pass--) {
        for (guint i = 0; i < list->len; i++) {
            const struct agnocast_wire_endpoint_entry *w =
                &g_array_index(list, struct agnocast_wire_endpoint_entry, i);
            if (!!w->is_publisher != pass)
                continue;
            struct ctl_endpoint e = {.entry = *w};
            e.seg = segcache_get(sc, w->pid, &e.why);
            g_array_append_val(out, e);
        }
    }
    g_array_free(list, TRUE);
    endpoints_read(out);
    return out;
}

gboolean endpoints_any_counters(const GArray *endpoints)
{
    for (guint i = 0; i < endpoints->len; i++)
        if (g_array_index(endpoints, struct ctl_endpoint, i).have_counters)
            return TRUE;
    return FALSE;
}

gboolean endpoints_follow(struct client *c, struct segcache *sc, const char *topic, gboolean first,
                          GArray **endpoints, GError **error)
{
    GError *local = NULL;
    GArray *eps = endpoints_query(c, sc, topic, TRUE, &local);

    if (eps == NULL) {
        if (first || local->code != CLI_EXIT_REFUSED) {
            g_propagate_error(error, local);
            return FALSE;
        }
        g_error_free(local);
        eps = g_array_new(FALSE, TRUE, sizeof(struct ctl_endpoint));
    }
    if (*endpoints != NULL)
        g_array_free(*endpoints, TRUE);
    *endpoints = eps;
    return TRUE;
}

gboolean endpoints_some_ring_readable(GArray *endpoints, const char *topic, GError **error)
{
    guint pubs = 0, readable = 0;

    for (guint i = 0; i < endpoints->len; i++) {
        const struct ctl_endpoint *e = &g_array_index(endpoints, struct ctl_endpoint, i);
        pubs += e->entry.is_publisher ? 1 : 0;
        readable += e->entry.is_publisher && e->ring_ok ? 1 : 0;
    }
    if (pubs == 0 || readable > 0)
        return TRUE;
    g_set_error(error, CTL_ERROR, CLI_EXIT_NO_SEGMENT,
                "cannot read the ring of any publisher of %s (%u publisher%s, see the messages "
                "above)",
                topic, pubs, pubs == 1 ? "" : "s");
    return FALSE;
}
