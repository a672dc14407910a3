/* The registry: processes by pid, topics by name, and the endpoints that tie them together. */
#include "registry.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct registry {
    GTree *processes; /* GINT_TO_POINTER(pid) -> struct reg_process, ordered by pid */
    GTree *topics;    /* name -> struct reg_topic, ordered by name */
    GHashTable *uids; /* GUINT_TO_POINTER(uid) -> struct registry_usage, while it holds any */
};

static gint pid_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    gint pa = GPOINTER_TO_INT(a), pb = GPOINTER_TO_INT(b);
    return pa < pb ? -1 : pa > pb;
}

static gint name_cmp(gconstpointer a, gconstpointer b, gpointer unused)
{
    return strcmp(a, b);
}

static void topic_free(gpointer p)
{
    struct reg_topic *t = p;

    g_hash_table_destroy(t->uids);
    g_ptr_array_free(t->pubs, TRUE);
    g_ptr_array_free(t->subs, TRUE);
    g_free(t->name);
    g_free(t);
}

static void process_free(gpointer p)
{
    struct reg_process *proc = p;

    g_hash_table_destroy(proc->pubs);
    g_hash_table_destroy(proc->subs);
    g_hash_table_destroy(proc->met);
    for (guint i = 0; i < G_N_ELEMENTS(proc->area_fd); i++)
        if (proc->area_fd[i] >= 0)
            close(proc->area_fd[i]);
    g_free(proc);
}

struct registry *registry_new(void)
{
    struct registry *reg = g_new0(struct registry, 1);

    reg->processes = g_tree_new_full(pid_cmp, NULL, NULL, process_free);
    reg->topics = g_tree_new_full(name_cmp, NULL, NULL, topic_free);
    reg->uids = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    return reg;
}

/* The usage record of `uid`, created empty when `create`. */
static struct registry_usage *usage(struct registry *reg, uid_t uid, bool create)
{
    struct registry_usage *u = g_hash_table_lookup(reg->uids, GUINT_TO_POINTER(uid));

    if (u == NULL && create) {
        u = g_new0(struct registry_usage, 1);
        g_hash_table_insert(reg->uids, GUINT_TO_POINTER(uid), u);
    }
    return u;
}

static void usage_forget_if_empty(struct registry *reg, uid_t uid, struct registry_usage *u)
{
    if (u->processes == 0 && u->endpoints == 0 && u->topics == 0)
        g_hash_table_remove(reg->uids, GUINT_TO_POINTER(uid));
}

struct registry_usage registry_usage_of(struct registry *reg, uid_t uid)
{
    struct registry_usage *u = usage(reg, uid, false), none = {0};

    return u != NULL ? *u : none;
}

bool registry_topic_used_by(const struct reg_topic *t, uid_t uid)
{
    return g_hash_table_contains(t->uids, GUINT_TO_POINTER(uid));
}

void registry_free(struct registry *reg)
{
    if (reg == NULL)
        return;
    /* Processes own their endpoints (hash table values); topics only point at them. */
    g_tree_destroy(reg->topics);
    g_tree_destroy(reg->processes);
    g_hash_table_destroy(reg->uids);
    g_free(reg);
}

int registry_process_add(struct registry *reg, pid_t pid, uid_t uid, uint64_t base, uint64_t size,
                         uint32_t flags, void *owner, struct reg_process **out)
{
    struct reg_process *proc;

    if (g_tree_lookup(reg->processes, GINT_TO_POINTER(pid)) != NULL)
        return -EEXIST;
    proc = g_new0(struct reg_process, 1);
    proc->pid = pid;
    proc->uid = uid;
    proc->base = base;
    proc->size = size;
    proc->flags = flags;
    for (guint i = 0; i < G_N_ELEMENTS(proc->area_fd); i++)
        proc->area_fd[i] = -1;
    proc->owner = owner;
    proc->pubs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    proc->subs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    proc->met = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_tree_insert(reg->processes, GINT_TO_POINTER(pid), proc);
    usage(reg, uid, true)->processes++;
    if (out != NULL)
        *out = proc;
    return 0;
}

struct reg_process *registry_process_find(struct registry *reg, pid_t pid)
{
    return g_tree_lookup(reg->processes, GINT_TO_POINTER(pid));
}

guint registry_process_count(struct registry *reg)
{
    return (guint)g_tree_nnodes(reg->processes);
}

struct foreach {
    void (*fn)(struct reg_process *, void *);
    void *data;
};

static gboolean foreach_cb(gpointer key, gpointer value, gpointer data)
{
    struct foreach *fe = data;

    fe->fn(value, fe->data);
    return FALSE;
}

void registry_foreach_process(struct registry *reg, void (*fn)(struct reg_process *, void *),
                              void *data)
{
    struct foreach fe = {fn, data};

    g_tree_foreach(reg->processes, foreach_cb, &fe);
}

/* Unlinks an endpoint from its topic, deleting the topic once empty; does not free it. */
static void endpoint_detach(struct registry *reg, struct reg_endpoint *ep)
{
    struct reg_topic *t = ep->topic;
    uid_t uid = ep->proc->uid;
    struct registry_usage *u = usage(reg, uid, false);
    guint on_topic = GPOINTER_TO_UINT(g_hash_table_lookup(t->uids, GUINT_TO_POINTER(uid)));

    /* Its uid's counts: one endpoint less, one topic less if it was that uid's last there. */
    u->endpoints--;
    if (--on_topic == 0) {
        g_hash_table_remove(t->uids, GUINT_TO_POINTER(uid));
        u->topics--;
    } else {
        g_hash_table_insert(t->uids, GUINT_TO_POINTER(uid), GUINT_TO_POINTER(on_topic));
    }
    usage_forget_if_empty(reg, uid, u);
    g_ptr_array_remove_fast(ep->is_publisher ? t->pubs : t->subs, ep);
    if (t->pubs->len == 0 && t->subs->len == 0)
        g_tree_remove(reg->topics, t->name);
    ep->topic = NULL;
}

static void detach_all(struct registry *reg, GHashTable *endpoints)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value))
        endpoint_detach(reg, value);
}

void registry_process_remove(struct registry *reg, struct reg_process *proc)
{
    uid_t uid = proc->uid;
    struct registry_usage *u;

    GHashTableIter it;
    gpointer key;

    detach_all(reg, proc->pubs);
    detach_all(reg, proc->subs);
    g_hash_table_iter_init(&it, proc->met);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        struct reg_process *other = g_tree_lookup(reg->processes, key);
        if (other != NULL)
            g_hash_table_remove(other->met, GINT_TO_POINTER(proc->pid));
    }
    g_tree_remove(reg->processes, GINT_TO_POINTER(proc->pid));
    u = usage(reg, uid, false);
    u->processes--;
    usage_forget_if_empty(reg, uid, u);
}

static void add_peers(GHashTable *seen, struct reg_process *self, GPtrArray *endpoints)
{
    for (guint i = 0; i < endpoints->len; i++) {
        struct reg_endpoint *other = endpoints->pdata[i];
        if (other->proc != self)
            g_hash_table_add(seen, other->proc);
    }
}

static void collect_peers(GHashTable *seen, struct reg_process *self, GHashTable *endpoints)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, endpoints);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct reg_endpoint *ep = value;
        add_peers(seen, self, ep->topic->pubs);
        add_peers(seen, self, ep->topic->subs);
    }
}

static gint proc_ptr_cmp(gconstpointer a, gconstpointer b)
{
    const struct reg_process *pa = *(struct reg_process *const *)a;
    const struct reg_process *pb = *(struct reg_process *const *)b;
    return pa->pid < pb->pid ? -1 : pa->pid > pb->pid;
}

GPtrArray *registry_process_met(struct registry *reg, struct reg_process *proc)
{
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init(&it, proc->met);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        struct reg_process *other = g_tree_lookup(reg->processes, key);
        if (other != NULL)
            g_ptr_array_add(out, other);
    }
    g_ptr_array_sort(out, proc_ptr_cmp);
    return out;
}

/* `proc` and each process with one of `endpoints` have met. */
static void meet(struct reg_process *proc, GPtrArray *endpoints)
{
    for (guint i = 0; i < endpoints->len; i++) {
        struct reg_process *other = ((struct reg_endpoint *)endpoints->pdata[i])->proc;
        if (other != proc) {
            g_hash_table_add(proc->met, GINT_TO_POINTER(other->pid));
            g_hash_table_add(other->met, GINT_TO_POINTER(proc->pid));
        }
    }
}

GPtrArray *registry_process_peers(struct registry *reg, struct reg_process *proc)
{
    GHashTable *seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    GPtrArray *out = g_ptr_array_new();
    GHashTableIter it;
    gpointer key;

    collect_peers(seen, proc, proc->pubs);
    collect_peers(seen, proc, proc->subs);
    g_hash_table_iter_init(&it, seen);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_ptr_array_add(out, key);
    g_hash_table_destroy(seen);
    g_ptr_array_sort(out, proc_ptr_cmp);
    return out;
}

int registry_endpoint_add(struct registry *reg, struct reg_process *proc, bool is_publisher,
                          uint32_t index, const struct agnocast_wire_qos *qos, const char *topic,
                          struct reg_endpoint **out)
{
    GHashTable *table = is_publisher ? proc->pubs : proc->subs;
    struct registry_usage *u;
    struct reg_endpoint *ep;
    struct reg_topic *t;
    guint on_topic;

    if (g_hash_table_contains(table, GUINT_TO_POINTER(index)))
        return -EEXIST;
    t = g_tree_lookup(reg->topics, topic);
    if (t == NULL) {
        t = g_new0(struct reg_topic, 1);
        t->name = g_strdup(topic);
        t->pubs = g_ptr_array_new();
        t->subs = g_ptr_array_new();
        t->uids = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_tree_insert(reg->topics, t->name, t);
    }
    u = usage(reg, proc->uid, true);
    u->endpoints++;
    on_topic = GPOINTER_TO_UINT(g_hash_table_lookup(t->uids, GUINT_TO_POINTER(proc->uid)));
    if (on_topic == 0)
        u->topics++;
    g_hash_table_insert(t->uids, GUINT_TO_POINTER(proc->uid), GUINT_TO_POINTER(on_topic + 1));
    ep = g_new0(struct reg_endpoint, 1);
    ep->proc = proc;
    ep->topic = t;
    ep->index = index;
    ep->qos = *qos;
    ep->is_publisher = is_publisher;
    meet(proc, t->pubs);
    meet(proc, t->subs);
    g_ptr_array_add(is_publisher ? t->pubs : t->subs, ep);
    g_hash_table_insert(table, GUINT_TO_POINTER(index), ep);
    if (out != NULL)
        *out = ep;
    return 0;
}

struct reg_endpoint *registry_endpoint_find(struct reg_process *proc, bool is_publisher,
                                            uint32_t index)
{
    return g_hash_table_lookup(is_publisher ? proc->pubs : proc->subs, GUINT_TO_POINTER(index));
}

void registry_endpoint_remove(struct registry *reg, struct reg_endpoint *ep)
{
    endpoint_detach(reg, ep);
    /* The process's table owns the endpoint: removing it there frees it. */
    g_hash_table_remove(ep->is_publisher ? ep->proc->pubs : ep->proc->subs,
                        GUINT_TO_POINTER(ep->index));
}

struct reg_topic *registry_topic_find(struct registry *reg, const char *name)
{
    return g_tree_lookup(reg->topics, name);
}

guint registry_topic_count(struct registry *reg)
{
    return (guint)g_tree_nnodes(reg->topics);
}

/* A page of an ordered traversal: skips `start` nodes, then fills up to `max`. */
struct page {
    guint start;
    guint max;
    guint seen;
    guint filled;
    void *out;
};

static gboolean topic_page_cb(gpointer key, gpointer value, gpointer data)
{
    struct page *pg = data;
    struct reg_topic *t = value;

    if (pg->seen++ < pg->start)
        return FALSE;
    struct agnocast_wire_topic_entry *e =
        &((struct agnocast_wire_topic_entry *)pg->out)[pg->filled++];
    memset(e, 0, sizeof(*e));
    g_strlcpy(e->topic, t->name, sizeof(e->topic));
    e->publishers = t->pubs->len;
    e->subscriptions = t->subs->len;
    return pg->filled >= pg->max;
}

guint registry_list_topics(struct registry *reg, guint start, struct agnocast_wire_topic_entry *out,
                           guint max, guint *total)
{
    struct page pg = {.start = start, .max = max, .out = out};

    *total = registry_topic_count(reg);
    if (max > 0 && start < *total)
        g_tree_foreach(reg->topics, topic_page_cb, &pg);
    return pg.filled;
}

static gboolean process_page_cb(gpointer key, gpointer value, gpointer data)
{
    struct page *pg = data;
    struct reg_process *proc = value;

    if (pg->seen++ < pg->start)
        return FALSE;
    struct agnocast_wire_process_entry *e =
        &((struct agnocast_wire_process_entry *)pg->out)[pg->filled++];
    memset(e, 0, sizeof(*e));
    e->pid = (uint32_t)proc->pid;
    e->uid = (uint32_t)proc->uid;
    e->base = proc->base;
    e->size = proc->size;
    e->publishers = g_hash_table_size(proc->pubs);
    e->subscriptions = g_hash_table_size(proc->subs);
    return pg->filled >= pg->max;
}

guint registry_list_processes(struct registry *reg, guint start,
                              struct agnocast_wire_process_entry *out, guint max, guint *total)
{
    struct page pg = {.start = start, .max = max, .out = out};

    *total = registry_process_count(reg);
    if (max > 0 && start < *total)
        g_tree_foreach(reg->processes, process_page_cb, &pg);
    return pg.filled;
}

static gint endpoint_cmp(gconstpointer a, gconstpointer b)
{
    const struct reg_endpoint *ea = *(struct reg_endpoint *const *)a;
    const struct reg_endpoint *eb = *(struct reg_endpoint *const *)b;

    if (ea->proc->pid != eb->proc->pid)
        return ea->proc->pid < eb->proc->pid ? -1 : 1;
    return ea->index < eb->index ? -1 : ea->index > eb->index;
}

guint registry_list_endpoints(struct reg_topic *topic, guint start,
                              struct agnocast_wire_endpoint_entry *out, guint max, guint *total)
{
    GPtrArray *all = g_ptr_array_sized_new(topic->pubs->len + topic->subs->len);
    GPtrArray *subs = g_ptr_array_sized_new(topic->subs->len);
    guint filled = 0;

    for (guint i = 0; i < topic->pubs->len; i++)
        g_ptr_array_add(all, topic->pubs->pdata[i]);
    g_ptr_array_sort(all, endpoint_cmp);
    for (guint i = 0; i < topic->subs->len; i++)
        g_ptr_array_add(subs, topic->subs->pdata[i]);
    g_ptr_array_sort(subs, endpoint_cmp);
    for (guint i = 0; i < subs->len; i++)
        g_ptr_array_add(all, subs->pdata[i]);

    *total = all->len;
    for (guint i = start; i < all->len && filled < max; i++) {
        const struct reg_endpoint *ep = all->pdata[i];
        struct agnocast_wire_endpoint_entry *e = &out[filled++];
        memset(e, 0, sizeof(*e));
        e->pid = (uint32_t)ep->proc->pid;
        e->index = ep->index;
        e->qos = ep->qos;
        e->is_publisher = ep->is_publisher;
    }
    g_ptr_array_free(subs, TRUE);
    g_ptr_array_free(all, TRUE);
    return filled;
}
