/*
 * The context: the state of the library in a process, one object. Each part is written by the
 * module named beside it (libagnocast/<module>.c, its functions in <module>.h); the modules
 * form a one-way order (docs/design.md, "Library modules"; tests/lib/check-layering.py):
 *
 *   util, log, peek, pool -> broker -> segment -> peer -> wake -> ring -> loan
 *     -> message -> publisher -> subscription -> notice -> control -> context -> heaphook-loan
 *
 * Lock order (a thread holding one may take only those after it):
 *   create_lock -> segment.grow_lock -> broker.request_lock -> lock -> broker.reply_lock
 *     -> pool.lock
 * None is held across a system call on a peer's object (docs/security.md); the log callback
 * never runs under any of them (log.c, agn_lock/agn_unlock). The peek gate (peek.h) is no
 * lock: a look takes none and waits for nothing; a writer closes it under `lock` and waits
 * only for looks in flight.
 */
#ifndef AGNOCAST_CONTEXT_H
#define AGNOCAST_CONTEXT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agnocast.h"
#include "agnocast-proto.h"
#include "broker.h"
#include "control.h"
#include "log.h"
#include "peek.h"
#include "pool.h"
#include "ring.h"
#include "segment.h"
#include "shm-reader.h"
#include "util.h"
#include "wake.h"

#define AGN_MAX_SOURCES        32 /* publishers a subscription reads from */
#define AGN_REQUEST_TIMEOUT_MS 5000
#define AGN_RECLAIM_BATCH      16 /* retired messages per reclaim scan on the publish path */
/* A head that moves further than this between two looks is not a publisher's: 2^40 messages
 * would take a publisher more than a day at a billion per second. */
#define AGN_HEAD_JUMP_MAX (1ull << 40)
/* How long a message may wait for a growth area its publisher declared but the broker never
 * handed over before the publisher is taken for corrupt. */
#define AGN_AREA_WAIT_NS      (2000000000ull)
#define AGN_DEFAULT_POOL_SIZE (64ull << 20)

/* ---- peer.c: other processes' segments and doorbells ---- */
struct agn_peer {
    pid_t pid;
    bool in_use;
    bool gone;      /* the process died or left; drop once nothing refers to it */
    bool accepted;  /* listed in our accepted_pids (we scan its holds) */
    uintptr_t base; /* its segment, mapped read-only (0 if not mapped) */
    size_t size;
    struct agn_shm_view view;          /* of that mapping (map == base), header checked */
    uint64_t area_base[AGN_MAX_AREAS]; /* its growth areas we have mapped (size 0: not) */
    uint64_t area_size[AGN_MAX_AREAS];
    /* Growth areas the broker handed over (NOTICE_AREA_ADDED), not yet mapped: -1 if none. */
    int area_fd[AGN_MAX_AREAS];
    unsigned areas_here; /* areas 1..areas_here are mapped or their descriptor is here */
    uint64_t area_fd_base[AGN_MAX_AREAS];
    uint64_t area_fd_size[AGN_MAX_AREAS];
    /* Wake channels (docs/design.md, "Wake-up"): a pipe per publisher and subscriber process.
     * wake_tx: the non-blocking write end to wake it (we publish, it subscribes), a description
     * nobody else holds; wake_rx: its channel's read end to us, in our wake set. Each -1 if
     * none. */
    int wake_tx;
    int wake_keep; /* the read end of our wake_tx pipe, kept so a write never raises SIGPIPE */
    int wake_rx;
    uint32_t wake_gen; /* names wake_rx in the wake set (see wake.c) */
    unsigned refs;     /* sources + wake targets that use it */
    unsigned holds;    /* our holds on messages in its segment */
};

/* ---- the context and its objects ---- */
struct agn_wake_target {
    struct agn_peer *peer;
    uint64_t subscriptions; /* bit i: its subscription index i is on the topic */
};

struct agnocast_publisher {
    struct agnocast_context *ctx;
    bool in_use;
    uint32_t index;
    char topic[AGNOCAST_TOPIC_FIELD];
    struct agnocast_wire_qos qos;
    struct agn_pub_slot *slot; /* in the own segment */
    struct agn_ring_entry *ring;
    /* What each ring entry carries, kept apart: reading it back from the entry would pull the
     * line a busy subscriber spins on just before writing it. */
    uintptr_t *in_ring;
    uint64_t published;
    struct agn_wake_target targets[AGN_MAX_PEERS];
    unsigned ntargets;
};

struct agn_source {
    pid_t pid;
    uint32_t index;
    struct agn_peer *peer;           /* NULL for the own process */
    const struct agn_shm_view *view; /* its segment */
    struct agn_shm_ring ring;        /* validated */
    uint32_t window;                 /* min(publisher depth, subscription depth) */
    bool ready;                      /* the publisher accepted us: our holds are scanned */
    bool history;                    /* deliver retained history (both transient-local) */
    bool corrupt; /* found lying (wild head, an area never handed over): never read again */
    uint64_t area_wait_ns; /* since when a message waits for a growth area, 0 if none */
    uint64_t next;         /* next message number wanted */
};

struct agnocast_subscription {
    struct agnocast_context *ctx;
    bool in_use;
    uint32_t index;
    char topic[AGNOCAST_TOPIC_FIELD];
    struct agnocast_wire_qos qos;
    agnocast_callback_fn callback;
    void *userdata;
    uint64_t created_ns;        /* volatile: messages stamped earlier are not delivered */
    struct agn_sub_slot *stats; /* in the own segment */
    struct agn_source sources[AGN_MAX_SOURCES];
    unsigned nsources;
};

struct agnocast_message {
    struct agnocast_context *ctx;
    bool in_use;
    bool retained;
    uint32_t generation;   /* bumped at each use of the handle (see agn_dispatch) */
    struct agn_peer *peer; /* NULL for the own process */
    const void *data;
    size_t size;
    pid_t pub_pid;
    uint32_t pub_index;
    uint64_t seq;
    uint64_t timestamp_ns;
    uintptr_t lo, hi; /* the publisher's heap */
};

struct agnocast_context {
    pid_t pid;                /* as the broker knows it (its namespace): our id in every registry */
    pid_t os_pid;             /* getpid() when the context was made */
    unsigned fork_generation; /* see agn_context_forked() */
    _Atomic bool stopping;    /* spin should return */
    _Atomic bool busy_poll;

    /* The parts a module owns, each defined in its header and written only by that module. */
    struct agn_broker_conn broker; /* broker.c: the connection, requests and replies */
    struct agn_segment segment;    /* segment.c: the own segment and its growth areas */
    struct agn_pool pool;          /* pool.c: the allocator over them */
    struct agn_wake_set wake;      /* wake.c: doorbell, stop eventfd, the wake set */
    struct agn_control control;    /* control.c: the control thread */
    pthread_mutex_t create_lock;   /* publisher.c: one creation at a time (see pending_pub) */
    /* peek.c: busy polling looks at the sources without lock; subscription.c closes it
     * (under lock) around every change to them. */
    struct agn_peek_gate peek;

    /* everything below: under lock */
    pthread_mutex_t lock;
    /* Broadcast after every notice (under lock): agnocast_*_wait_matched() wait on it. */
    pthread_cond_t matched_cond;
    struct agnocast_wire_range occupied[8]; /* to report to the broker (control thread) */
    unsigned noccupied;
    struct agn_retired retired;             /* ring.c */
    struct agnocast_publisher *pending_pub; /* its ADD_PUBLISHER is in flight */
    /* Each publisher slot keeps its ring after the publisher is freed and reuses it (a
     * subscriber that has not yet heard of the removal may still read it; it only ever holds
     * ring entries, never message data, so nothing is misread). */
    struct {
        struct agn_ring_entry *ring;
        uintptr_t *in_ring; /* after the ring, on lines of its own */
        uint32_t capacity;
    } slot_rings[AGN_MAX_PUBS];
    struct agn_peer peers[AGN_MAX_PEERS];
    struct agnocast_publisher pubs[AGN_MAX_PUBS];
    struct agnocast_subscription subs[AGN_MAX_SUBS];
    /* The callback subscriptions in use, so that dispatch (in busy polling, every loop) reads
     * a few pointers instead of a flag in each of the kilobyte-sized subs[]. */
    struct agnocast_subscription *callback_subs[AGN_MAX_SUBS];
    unsigned ncallback_subs;
    struct agnocast_message messages[AGN_MAX_HOLDS];
};

/* The process's context, if it has one (the heap hook's whole-heap mode uses it). */
struct agnocast_context *agn_context_current(void);

/* The *_wait_matched() calls: counts with `count` (under ctx->lock) after each notice until
 * it reaches n or timeout_ms (-1: none) passes; returns the last count. */
static inline unsigned agn_wait_matched(struct agnocast_context *ctx,
                                        unsigned (*count)(const void *obj), const void *obj,
                                        unsigned n, int timeout_ms)
{
    uint64_t deadline = timeout_ms < 0 ? 0 : agn_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000ull),
                          .tv_nsec = (long)(deadline % 1000000000ull)};
    unsigned c;

    agn_lock(&ctx->lock);
    while ((c = count(obj)) < n) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&ctx->matched_cond, &ctx->lock);
        } else if (pthread_cond_timedwait(&ctx->matched_cond, &ctx->lock, &ts) == ETIMEDOUT) {
            c = count(obj); /* a deadline already past times out at once */
            break;
        }
    }
    agn_unlock(&ctx->lock);
    return c;
}

/* Whether a handle of ctx is used in a forked child (then -ECHILD is recorded as the last
 * error): the context belongs to the parent. */
static inline bool agn_context_forked(const struct agnocast_context *ctx)
{
    return agn_forked_since(ctx->fork_generation);
}

#endif
