/*
 * Per-user quotas on what the registry holds: processes, address space, endpoints, topics.
 * Counts of processes, endpoints and topics are kept by the registry as they change; address
 * space is summed over the uid's processes when a request would add some (rare: registering,
 * growing, relocating, reporting). Queued outgoing bytes are counted by client.c.
 */
#include "quota.h"

#include <errno.h>
#include <glib.h>

#include "broker.h"
#include "registry.h"

struct space_sum {
    uid_t uid;
    uint64_t bytes;
};

static void add_space(struct reg_process *p, void *data)
{
    struct space_sum *s = data;

    if (p->uid != s->uid)
        return;
    s->bytes += p->size * (1 + (uint64_t)p->nquarantine);
    for (unsigned i = 0; i < p->nareas; i++)
        s->bytes += p->area_sizes[i];
    for (unsigned i = 0; i < p->noccupied; i++)
        s->bytes += p->occupied[i].size;
}

uint64_t quota_space_of(struct broker *b, uid_t uid)
{
    struct space_sum s = {.uid = uid};

    registry_foreach_process(b->reg, add_space, &s);
    return s.bytes;
}

int quota_check_space(struct broker *b, uid_t uid, uint64_t bytes, char **why)
{
    uint64_t held = quota_space_of(b, uid), cap = b->cfg.max_space_per_uid;

    if (bytes <= cap && held <= cap - bytes)
        return 0;
    *why = g_strdup_printf("uid %u holds %" G_GUINT64_FORMAT
                           " bytes of address ranges; %" G_GUINT64_FORMAT
                           " more would pass its quota of %" G_GUINT64_FORMAT
                           " (--max-address-space-per-uid): ask for a smaller pool, end some "
                           "processes of that user, or raise the option",
                           (unsigned)uid, held, bytes, cap);
    return -EDQUOT;
}

int quota_check_process(struct broker *b, uid_t uid, uint64_t bytes, char **why)
{
    struct registry_usage u = registry_usage_of(b->reg, uid);

    if (u.processes >= b->cfg.max_processes_per_uid) {
        *why = g_strdup_printf("uid %u already has %u registered processes, the most "
                               "--max-processes-per-uid allows; end some or raise the option",
                               (unsigned)uid, u.processes);
        return -EDQUOT;
    }
    return quota_check_space(b, uid, bytes, why);
}

int quota_check_endpoint(struct broker *b, uid_t uid, const char *topic, char **why)
{
    struct registry_usage u = registry_usage_of(b->reg, uid);
    struct reg_topic *t;

    if (u.endpoints >= b->cfg.max_endpoints_per_uid) {
        *why = g_strdup_printf("uid %u already has %u publishers and subscriptions, the most "
                               "--max-endpoints-per-uid allows; remove some or raise the option",
                               (unsigned)uid, u.endpoints);
        return -EDQUOT;
    }
    t = registry_topic_find(b->reg, topic);
    if ((t == NULL || !registry_topic_used_by(t, uid)) && u.topics >= b->cfg.max_topics_per_uid) {
        *why = g_strdup_printf("uid %u already has endpoints on %u topics, the most "
                               "--max-topics-per-uid allows; cannot add one on %s: remove "
                               "endpoints from other topics or raise the option",
                               (unsigned)uid, u.topics, topic);
        return -EDQUOT;
    }
    return 0;
}
