/* Queries any connection may make: topic list, topic info, process list, request counters,
 * access rules, and a read-only view of a pool. */
#include <errno.h>
#include <glib.h>
#include <string.h>

#include "access.h"
#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "registry.h"

/* A list frame's payload: the list header, then up to AGNOCAST_PROTO_LIST_MAX entries. */
union list_payload {
    uint64_t align;
    unsigned char bytes[AGNOCAST_PROTO_FRAME_MAX];
};

static union list_payload payload;

static void *list_entries(void)
{
    return payload.bytes + sizeof(struct agnocast_wire_list);
}

static void send_list(struct client *c, uint16_t kind, uint32_t request_id, guint total,
                      guint count, size_t entry_size)
{
    struct agnocast_wire_list head = {.total = total, .count = count};

    memcpy(payload.bytes, &head, sizeof(head));
    client_send(c, kind, request_id, payload.bytes, sizeof(head) + count * entry_size, NULL, 0);
}

int query_list_topics(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                      char **why)
{
    const struct agnocast_wire_query *q = f->payload;
    guint total, n;

    n = registry_list_topics(c->broker->reg, q->start, list_entries(), AGNOCAST_PROTO_LIST_MAX,
                             &total);
    send_list(c, AGNOCAST_MSG_TOPIC_LIST, f->request_id, total, n,
              sizeof(struct agnocast_wire_topic_entry));
    return 0;
}

int query_topic_info(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                     char **why)
{
    const struct agnocast_wire_query *q = f->payload;
    struct reg_topic *t = NULL;
    guint total, n;

    if (memchr(q->topic, '\0', sizeof(q->topic)) != NULL)
        t = registry_topic_find(c->broker->reg, q->topic);
    if (t == NULL) {
        *why = g_strdup_printf("no topic %s: list topics with `agnocastctl list-topics`",
                               agnocast_topic_name_valid(q->topic) ? q->topic : "(invalid name)");
        return -ENOENT;
    }
    n = registry_list_endpoints(t, q->start, list_entries(), AGNOCAST_PROTO_LIST_MAX, &total);
    send_list(c, AGNOCAST_MSG_TOPIC_INFO_REPLY, f->request_id, total, n,
              sizeof(struct agnocast_wire_endpoint_entry));
    return 0;
}

int query_list_processes(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                         char **why)
{
    const struct agnocast_wire_query *q = f->payload;
    guint total, n;

    n = registry_list_processes(c->broker->reg, q->start, list_entries(), AGNOCAST_PROTO_LIST_MAX,
                                &total);
    send_list(c, AGNOCAST_MSG_PROCESS_LIST, f->request_id, total, n,
              sizeof(struct agnocast_wire_process_entry));
    return 0;
}

int query_stats(struct client *c, const struct agnocast_frame *f, int *fds, int nfds, char **why)
{
    struct agnocast_wire_stats_entry *e = list_entries();
    const uint16_t *kinds;
    size_t nkinds = agnocast_proto_kinds(&kinds);
    guint n = 0;

    for (size_t i = 0; i < nkinds && n < AGNOCAST_STATS_MAX; i++) {
        uint64_t count = kinds[i] < BROKER_KIND_SLOTS ? c->broker->requests[kinds[i]] : 0;
        if (count == 0)
            continue;
        memset(&e[n], 0, sizeof(e[n]));
        e[n].kind = kinds[i];
        e[n].count = count;
        n++;
    }
    send_list(c, AGNOCAST_MSG_STATS_REPLY, f->request_id, n, n,
              sizeof(struct agnocast_wire_stats_entry));
    return 0;
}

int query_list_rules(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                     char **why)
{
    const struct agnocast_wire_query *q = f->payload;
    guint total, n;

    n = access_rules_list(c->broker->access, q->start, list_entries(), AGNOCAST_RULES_MAX, &total);
    send_list(c, AGNOCAST_MSG_RULE_LIST, f->request_id, total, n,
              sizeof(struct agnocast_wire_rule_entry));
    return 0;
}

/*
 * A read-only view of a process's pool area for tools (agnocastctl reads counters and messages
 * in place). Without access rules whoever may connect may read what members publish
 * (docs/security.md); the descriptor is sealed, so the view cannot write or shrink the owner's
 * memory.
 */
int query_get_segment(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                      char **why)
{
    const struct agnocast_wire_segment_query *q = f->payload;
    struct reg_process *proc = registry_process_find(c->broker->reg, (pid_t)q->pid);
    struct agnocast_wire_segment r;

    if (proc == NULL) {
        *why = g_strdup_printf("no process %u is registered", q->pid);
        return -ESRCH; /* gone, as opposed to an area it does not have (-ENOENT) */
    }
    /* Under access rules, only what an endpoint of the caller's own could have been handed. */
    if (access_check_segment(c, proc, why) < 0)
        return -EACCES;
    if (q->area > proc->nareas || proc->area_fd[q->area] < 0) {
        *why = g_strdup_printf("process %u has no attached area %u", q->pid, q->area);
        return -ENOENT;
    }
    memset(&r, 0, sizeof(r));
    r.pid = q->pid;
    r.area = q->area;
    r.base = q->area == 0 ? proc->base : proc->areas[q->area - 1];
    r.size = q->area == 0 ? proc->size : proc->area_sizes[q->area - 1];
    client_send(c, AGNOCAST_MSG_SEGMENT_REPLY, f->request_id, &r, sizeof(r),
                &proc->area_fd[q->area], 1);
    return 0;
}
