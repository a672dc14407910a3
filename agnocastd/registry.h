/* The broker's registry: registered processes, topics, publishers and subscriptions. */
#ifndef AGNOCASTD_REGISTRY_H
#define AGNOCASTD_REGISTRY_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast-proto.h"

struct registry;
struct reg_topic;

struct reg_process {
    pid_t pid;
    uid_t uid;
    uint64_t base; /* its address range */
    uint64_t size;
    uint32_t flags;     /* AGNOCAST_REGISTER_* */
    uint64_t starttime; /* /proc/PID/stat start time, kept in the state file; 0 if unknown */
    /* Its pool's memfds (ATTACH_SEGMENT): [0] the segment, [n] growth area n; owned (closed) by
     * the registry, -1 until attached. Handed to the peers it shares a topic with. */
    int area_fd[AGNOCAST_AREAS_MAX];
    void *owner;      /* the connection it came on; the registry never looks inside */
    GHashTable *pubs; /* index -> struct reg_endpoint */
    GHashTable *subs; /* index -> struct reg_endpoint */
    /* Pids of the processes it has shared a topic with: they may still map its segment (a
     * publisher keeps a subscriber it accepted mapped after the subscription is gone, for its
     * holds), so they are told when it leaves even if no topic joins them any more. Otherwise
     * they keep the mapping, and its range, handed to a newcomer, collides in them. */
    GHashTable *met;
    /* Ranges it was given but found occupied in its own address space (RELOCATE): kept from
     * everyone until it leaves, so it is never handed the same one again. */
    uint64_t quarantine[8];
    unsigned nquarantine;
    /* Growth areas of its pool (REGISTER_PROCESS with GROW), in order: area 1, 2, ... */
    uint64_t areas[15];
    uint64_t area_sizes[15];
    unsigned nareas;
    /* Ranges occupied in its address space that a peer's segment could not be mapped into
     * (REPORT_OCCUPIED): new ranges are kept clear of them while it lives. Oldest dropped. */
    struct {
        uint64_t base, size;
    } occupied[8];
    unsigned noccupied;
};

struct reg_endpoint {
    struct reg_process *proc;
    struct reg_topic *topic;
    uint32_t index;
    struct agnocast_wire_qos qos;
    bool is_publisher;
};

struct reg_topic {
    char *name;
    GPtrArray *pubs; /* struct reg_endpoint, not owned */
    GPtrArray *subs;
    GHashTable *uids; /* GUINT_TO_POINTER(uid) -> endpoints of that uid's processes here */
};

/* What the processes of one uid hold in the registry (the per-user quotas count these). */
struct registry_usage {
    guint processes;
    guint endpoints;
    guint topics; /* topics where it has at least one endpoint */
};

struct registry *registry_new(void);
/* Frees everything, closing the processes' eventfds. */
void registry_free(struct registry *reg);

/* Registers a process. -EEXIST if the pid is registered. */
int registry_process_add(struct registry *reg, pid_t pid, uid_t uid, uint64_t base, uint64_t size,
                         uint32_t flags, void *owner, struct reg_process **out);
struct reg_process *registry_process_find(struct registry *reg, pid_t pid);
/* Removes a process with all its endpoints (and topics left empty), closes its descriptors. */
void registry_process_remove(struct registry *reg, struct reg_process *proc);
/* Other processes that have an endpoint on a topic where `proc` has one, sorted by pid. */
GPtrArray *registry_process_peers(struct registry *reg, struct reg_process *proc);
/* The live processes it has shared a topic with since both registered (a superset of its
 * peers), sorted by pid: those to tell when it leaves. Free with g_ptr_array_free. */
GPtrArray *registry_process_met(struct registry *reg, struct reg_process *proc);
guint registry_process_count(struct registry *reg);
/* Calls fn for every process, in pid order. */
void registry_foreach_process(struct registry *reg, void (*fn)(struct reg_process *, void *),
                              void *data);

/* Adds an endpoint on `topic` (created if needed). -EEXIST if the index is taken in that
 * process for that kind (publisher or subscription). */
int registry_endpoint_add(struct registry *reg, struct reg_process *proc, bool is_publisher,
                          uint32_t index, const struct agnocast_wire_qos *qos, const char *topic,
                          struct reg_endpoint **out);
struct reg_endpoint *registry_endpoint_find(struct reg_process *proc, bool is_publisher,
                                            uint32_t index);
/* Removes an endpoint; deletes its topic if that was the last endpoint on it. */
void registry_endpoint_remove(struct registry *reg, struct reg_endpoint *ep);

struct reg_topic *registry_topic_find(struct registry *reg, const char *name);
/* What processes of `uid` hold now (all 0 if none is registered). */
struct registry_usage registry_usage_of(struct registry *reg, uid_t uid);
/* 1 if a process of `uid` has an endpoint on `t`. */
bool registry_topic_used_by(const struct reg_topic *t, uid_t uid);
guint registry_topic_count(struct registry *reg);

/*
 * Paged queries: fill at most `max` entries starting at entry `start` of the ordered list and
 * return how many were filled; *total is the length of the whole list.
 * Topics are sorted by name; processes by pid; a topic's endpoints are its publishers, then its
 * subscriptions, each sorted by pid and index.
 */
guint registry_list_topics(struct registry *reg, guint start, struct agnocast_wire_topic_entry *out,
                           guint max, guint *total);
guint registry_list_processes(struct registry *reg, guint start,
                              struct agnocast_wire_process_entry *out, guint max, guint *total);
guint registry_list_endpoints(struct reg_topic *topic, guint start,
                              struct agnocast_wire_endpoint_entry *out, guint max, guint *total);

#endif
