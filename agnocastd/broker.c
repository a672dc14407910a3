/* Setting up and tearing down the broker's tables and access rules, apart from sockets, so
 * tests can drive it. */
#include "broker.h"

#include <errno.h>

#include "access.h"
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
    access_rules_free(b->access);
    b->access = NULL;
    b->reg = NULL;
    b->ranges = NULL;
    b->clients = b->uid_conns = b->uid_queued = NULL;
}

int broker_access_load(struct broker *b, char **why)
{
    struct access_rules *rules;

    if (b->cfg.access_rules == NULL)
        return 0;
    rules = access_rules_load(b->cfg.access_rules, why);
    if (rules == NULL)
        return -EINVAL;
    access_rules_free(b->access);
    b->access = rules;
    g_message("access rules: %u from %s", access_rules_count(rules), access_rules_path(rules));
    return 0;
}

void broker_access_reload(struct broker *b)
{
    char *why = NULL;

    if (b->cfg.access_rules == NULL) {
        g_message("received SIGHUP: no --access-rules file to reload");
        return;
    }
    if (broker_access_load(b, &why) < 0) {
        guint n = access_rules_count(b->access);
        g_warning("received SIGHUP: %s; keeping the %u rule%s loaded before", why, n,
                  n == 1 ? "" : "s");
        g_free(why);
    }
}
