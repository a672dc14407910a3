/* Endpoint requests: adding and removing publishers and subscriptions, and the notices they send.
 */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "quota.h"
#include "registry.h"

/*
 * Sends `to` a notice describing endpoint `about`, with the descriptors its kind carries:
 * SUBSCRIBER_ADDED the subscriber's segment (the publisher scans its holds; it opens its own
 * wake channel to it with HAND_WAKE), PUBLISHER_ADDED the publisher's segment then one
 * NOTICE_AREA_ADDED per growth area.
 * Only the broker writes a client's socket: a notice is authentic by where it comes from.
 */
static void notice(struct reg_process *to, uint16_t kind, const struct reg_endpoint *about,
                   uint32_t flags)
{
    struct agnocast_wire_notice_endpoint n;
    struct reg_process *p = about->proc;
    int fds[2] = {-1, -1}, nfds = 0;

    memset(&n, 0, sizeof(n));
    n.pid = (uint32_t)about->proc->pid;
    n.index = about->index;
    n.qos = about->qos;
    n.seg_base = about->proc->base;
    n.seg_size = about->proc->size;
    n.flags = flags;
    g_strlcpy(n.topic, about->topic->name, sizeof(n.topic));
    if (kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED || kind == AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED)
        fds[nfds++] = p->area_fd[0];
    client_send(to->owner, kind, 0, &n, sizeof(n), nfds > 0 ? fds : NULL, nfds);
    if (kind == AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED && to != p)
        for (unsigned a = 1; a <= p->nareas; a++)
            if (p->area_fd[a] >= 0)
                session_send_area(to, p, a);
}

static void reply_ok(struct client *c, uint32_t request_id)
{
    struct agnocast_wire_ok ok = {.value = 0};

    client_send(c, AGNOCAST_MSG_OK, request_id, &ok, sizeof(ok), NULL, 0);
}

static int add_endpoint(struct client *c, const struct agnocast_frame *f, bool is_publisher,
                        struct reg_endpoint **out, char **why)
{
    const struct agnocast_wire_endpoint *req = f->payload;
    int rc;

    /* decode already checked both; a second look costs nothing and guards the registry. */
    if (!agnocast_topic_name_valid(req->topic) || agnocast_qos_validate(&req->qos) < 0) {
        *why = g_strdup("the topic name or QoS is invalid");
        return -EINVAL;
    }
    if ((rc = access_check_endpoint(c, req->topic, is_publisher, why)) < 0)
        return rc;
    /* Peers get the segment from us: it must be here before anyone is told of the endpoint. */
    if (c->proc->area_fd[0] < 0) {
        *why = g_strdup_printf("process %d has not attached its segment: send ATTACH_SEGMENT "
                               "with its memfd first",
                               (int)c->pid);
        return -EPROTO;
    }
    if (g_hash_table_size(c->proc->pubs) + g_hash_table_size(c->proc->subs) >=
        c->broker->cfg.max_endpoints) {
        *why = g_strdup_printf("process %d has %u publishers and subscriptions, the most "
                               "--max-endpoints allows; remove some or raise --max-endpoints",
                               (int)c->pid, c->broker->cfg.max_endpoints);
        return -ENOSPC;
    }
    if (registry_topic_find(c->broker->reg, req->topic) == NULL &&
        registry_topic_count(c->broker->reg) >= c->broker->cfg.max_topics) {
        *why = g_strdup_printf("the broker has %u topics, the most --max-topics allows; cannot "
                               "create %s: remove unused endpoints or raise --max-topics",
                               c->broker->cfg.max_topics, req->topic);
        return -ENOSPC;
    }
    if ((rc = quota_check_endpoint(c->broker, c->uid, req->topic, why)) < 0)
        return rc;
    rc = registry_endpoint_add(c->broker->reg, c->proc, is_publisher, req->index, &req->qos,
                               req->topic, out);
    if (rc == -EEXIST)
        *why =
            g_strdup_printf("%s index %u is already in use in process %d; pick another index",
                            is_publisher ? "publisher" : "subscription", req->index, (int)c->pid);
    else if (rc == 0)
        g_debug("process %d: %s %u on %s", (int)c->pid, is_publisher ? "publisher" : "subscription",
                req->index, req->topic);
    return rc;
}

/*
 * Subscriber processes are told once per publisher, not once per subscription: the notice
 * names only the publisher, and the library attaches it to all its subscriptions on the topic.
 */
int endpoint_add_publisher(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                           char **why)
{
    struct reg_endpoint *pub;
    GHashTable *told;
    GPtrArray *subs;
    int rc = add_endpoint(c, f, true, &pub, why);

    if (rc < 0)
        return rc;
    subs = pub->topic->subs;
    /* The publisher must learn every subscriber before its first publish: before the reply. */
    for (guint i = 0; i < subs->len; i++) {
        struct reg_endpoint *sub = subs->pdata[i];
        notice(c->proc, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, sub, AGNOCAST_NOTICE_ANNOUNCE);
    }
    /* Each other subscriber process once (the publisher's own learns it from the ANNOUNCE). It
     * reads the ring only after the publisher lists it in accepted_pids. */
    told = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_add(told, c->proc);
    for (guint i = 0; i < subs->len; i++) {
        struct reg_endpoint *sub = subs->pdata[i];
        if (g_hash_table_add(told, sub->proc))
            notice(sub->proc, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, pub, 0);
    }
    g_hash_table_destroy(told);
    reply_ok(c, f->request_id);
    return 0;
}

int endpoint_add_subscription(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                              char **why)
{
    struct reg_endpoint *sub;
    GPtrArray *pubs;
    GHashTable *told;
    int rc = add_endpoint(c, f, false, &sub, why);

    if (rc < 0)
        return rc;
    pubs = sub->topic->pubs;
    for (guint i = 0; i < pubs->len; i++) {
        struct reg_endpoint *pub = pubs->pdata[i];
        notice(c->proc, AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED, pub, 0);
    }
    /* Each publishing process once: the notice names the subscription, not a publisher. */
    told = g_hash_table_new(g_direct_hash, g_direct_equal);
    for (guint i = 0; i < pubs->len; i++) {
        struct reg_endpoint *pub = pubs->pdata[i];
        if (!g_hash_table_add(told, pub->proc))
            continue;
        notice(pub->proc, AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED, sub, 0);
    }
    g_hash_table_destroy(told);
    reply_ok(c, f->request_id);
    return 0;
}

/* Tells each process with an endpoint in `others` (once) that `gone` is being removed. */
static void notice_removed(GPtrArray *others, uint16_t kind, const struct reg_endpoint *gone)
{
    GHashTable *told = g_hash_table_new(g_direct_hash, g_direct_equal);

    for (guint i = 0; i < others->len; i++) {
        struct reg_endpoint *o = others->pdata[i];
        if (g_hash_table_add(told, o->proc))
            notice(o->proc, kind, gone, 0);
    }
    g_hash_table_destroy(told);
}

static int remove_endpoint(struct client *c, const struct agnocast_frame *f, bool is_publisher,
                           char **why)
{
    const struct agnocast_wire_endpoint_remove *req = f->payload;
    struct reg_endpoint *ep = registry_endpoint_find(c->proc, is_publisher, req->index);

    if (ep == NULL) {
        *why = g_strdup_printf("process %d has no %s with index %u", (int)c->pid,
                               is_publisher ? "publisher" : "subscription", req->index);
        return -ENOENT;
    }
    if (is_publisher)
        notice_removed(ep->topic->subs, AGNOCAST_MSG_NOTICE_PUBLISHER_REMOVED, ep);
    else
        notice_removed(ep->topic->pubs, AGNOCAST_MSG_NOTICE_SUBSCRIBER_REMOVED, ep);
    g_debug("process %d: removed %s %u from %s", (int)c->pid,
            is_publisher ? "publisher" : "subscription", req->index, ep->topic->name);
    registry_endpoint_remove(c->broker->reg, ep);
    reply_ok(c, f->request_id);
    return 0;
}

int endpoint_remove_publisher(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                              char **why)
{
    return remove_endpoint(c, f, true, why);
}

int endpoint_remove_subscription(struct client *c, const struct agnocast_frame *f, int *fds,
                                 int nfds, char **why)
{
    return remove_endpoint(c, f, false, why);
}
