/* Setting up and tearing down the broker's tables, apart from sockets, so tests can drive it. */
#include "broker.h"

#include "client.h"
#include "ranges.h"
#include "registry.h"
#include "state.h"

void broker_init(struct broker *b, struct event_base *base)
{
    b->base = base;
    b->reg = registry_new();
    b->ranges = ranges_new(b->cfg.window_base, b->cfg.window_size);
    b->clients = g_hash_table_new(g_direct_hash, g_direct_equal);
    b->uid_conns = g_hash_table_new(g_direct_hash, g_direct_equal);
    b->uid_queued = g_hash_table_new(g_direct_hash, g_direct_equal);
}

void broker_fini(struct broker *b)
{
    GList *all = g_hash_table_get_keys(b->clients);

    for (GList *l = all; l != NULL; l = l->next)
        client_free(l->data);
    g_list_free(all);
    state_free(b->state);
    b->state = NULL;
    registry_free(b->reg);
    ranges_free(b->ranges);
    g_hash_table_destroy(b->clients);
    g_hash_table_destroy(b->uid_conns);
    g_hash_table_destroy(b->uid_queued);
    b->reg = NULL;
    b->ranges = NULL;
    b->clients = b->uid_conns = b->uid_queued = NULL;
}
