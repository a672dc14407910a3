/* The client library's private types and the functions its files share. */
#ifndef AGNOCAST_INTERNAL_H
#define AGNOCAST_INTERNAL_H

#include <pthread.h>
#include <sys/epoll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast.h"
#include "agnocast-proto.h"
#include "shm-layout.h"

#define AGN_MAX_SOURCES 32 /* publishers a subscription reads from */
#define AGN_REQUEST_TIMEOUT_MS 5000
#define AGN_RECLAIM_BATCH 16 /* retired messages per reclaim scan on the publish path */
/* A head that moves further than this between two looks is not a publisher's: 2^40 messages
 * would take a publisher more than a day at a billion per second. */
#define AGN_HEAD_JUMP_MAX (1ull << 40)
/* How long a message may wait for a growth area its publisher declared but the broker never
 * handed over before the publisher is taken for corrupt. */
#define AGN_AREA_WAIT_NS (2000000000ull)
#define AGN_DEFAULT_POOL_SIZE (64ull << 20)

/* ---- log.c ---- */
void agn_log(enum agnocast_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Records the detailed sentence for agnocast_last_error() and returns err. */
int agn_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void agn_clear_error(void);
/* Every library lock but the allocator's goes through these: the log callback never runs while
 * the calling thread holds one (lines logged meanwhile wait until the last is released). */
void agn_lock(pthread_mutex_t *m);
int agn_trylock(pthread_mutex_t *m);
void agn_unlock(pthread_mutex_t *m);

/* ---- pool.c: the allocator of the own segment's heap (TLSF; all metadata inside the pool) ---- */
#define AGN_POOL_EXTRA_AREAS 15 /* areas added by growth, besides the first */
struct agn_pool {
    pthread_mutex_t lock;
    uintptr_t start, end; /* the area given to agn_pool_init */
    struct {
        uintptr_t start, end;
    } extra[AGN_POOL_EXTRA_AREAS]; /* areas added later (pool growth) */
    _Atomic unsigned nextra;
    size_t capacity; /* bytes of all areas */
    uintptr_t ctl;        /* the control block, at `start`; 0 if the area was too small */
    size_t used;          /* bytes in allocated blocks, headers included */
    size_t allocations;
    size_t bad_frees;     /* frees of pointers that were not live blocks (ignored) */
};
struct agn_pool_stats {
    size_t used_blocks, used_bytes;
    size_t free_blocks, free_bytes;
    size_t largest_free; /* the largest payload one allocation could get */
};
/* Blocks are 16-byte aligned; a request of 0 bytes gets a minimal block (as malloc does). */
void agn_pool_init(struct agn_pool *pool, void *start, size_t size);
/* Adds memory to an initialised pool (growth); 0, or -ENOSPC past AGN_POOL_EXTRA_AREAS. */
int agn_pool_add_area(struct agn_pool *pool, void *start, size_t size);
/* Whether p lies in one of the pool's areas. */
bool agn_pool_contains(struct agn_pool *pool, uintptr_t p);
/* Forgets the pool's area in the table agn_pool_owner() reads; call before unmapping it. */
void agn_pool_fini(struct agn_pool *pool);
/* Counts agn_pool_fini calls: a saved value that differs means a pool may be gone. */
uint64_t agn_pool_generation(void);
void *agn_pool_alloc(struct agn_pool *pool, size_t size);
/* `align` a power of two (any size up to the pool's); NULL if it is not or there is no room. */
void *agn_pool_memalign(struct agn_pool *pool, size_t align, size_t size);
/* A block whose payload p has (p + offset) % align == 0: room for a header of `offset` bytes
 * (a multiple of 16) in front of aligned data. */
void *agn_pool_memalign_offset(struct agn_pool *pool, size_t align, size_t offset, size_t size);
/* In place when it can; NULL (ptr untouched) when there is no room. size 0 keeps a minimal block. */
void *agn_pool_realloc(struct agn_pool *pool, void *ptr, size_t size);
void agn_pool_free(struct agn_pool *pool, void *ptr);
/* Payload bytes of a live block (>= the size asked for), 0 for anything else. */
size_t agn_pool_usable_size(struct agn_pool *pool, const void *ptr);
size_t agn_pool_used(struct agn_pool *pool);
/* The pool one of whose areas holds ptr, NULL for any other address. Lock-free; any thread.
 * *inherited (if given) is set for a pool of the parent in a fork child: its memory is not
 * mapped there and must not be read. */
struct agn_pool *agn_pool_owner(const void *ptr, bool *inherited);
/* Walks every block and list; fills st; -EBADMSG if any invariant is broken. For tests. */
int agn_pool_check(struct agn_pool *pool, struct agn_pool_stats *st);

/* ---- peer.c: other processes' segments and doorbells ---- */
struct agn_peer {
    pid_t pid;
    bool in_use;
    bool gone;           /* the process died or left; drop once nothing refers to it */
    bool accepted;       /* listed in our accepted_pids (we scan its holds) */
    uintptr_t base;      /* its segment, mapped read-only (0 if not mapped) */
    size_t size;
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
    unsigned refs;       /* sources + wake targets that use it */
    unsigned holds;      /* our holds on messages in its segment */
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
    struct agn_peer *peer; /* NULL for the own process */
    const struct agn_pub_slot *slot;
    const struct agn_ring_entry *ring;
    uint32_t depth;   /* the publisher's ring depth, validated */
    uint32_t window;  /* min(publisher depth, subscription depth) */
    bool ready;       /* the publisher accepted us: our holds are scanned */
    bool history;     /* deliver retained history (both transient-local) */
    bool corrupt;     /* found lying (wild head, an area never handed over): never read again */
    uint64_t area_wait_ns; /* since when a message waits for a growth area, 0 if none */
    uint64_t next;    /* next message number wanted */
    uintptr_t lo, hi; /* where message data may lie in its segment */
};

struct agnocast_subscription {
    struct agnocast_context *ctx;
    bool in_use;
    uint32_t index;
    char topic[AGNOCAST_TOPIC_FIELD];
    struct agnocast_wire_qos qos;
    agnocast_callback_fn callback;
    void *userdata;
    uint64_t created_ns; /* volatile: messages stamped earlier are not delivered */
    struct agn_sub_slot *stats; /* in the own segment */
    struct agn_source sources[AGN_MAX_SOURCES];
    unsigned nsources;
};

struct agnocast_message {
    struct agnocast_context *ctx;
    bool in_use;
    bool retained;
    uint32_t generation; /* bumped at each use of the handle (see agn_dispatch) */
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
    pid_t pid;     /* as the broker knows it (its namespace): our id in every registry */
    pid_t os_pid;  /* getpid() when the context was made */
    unsigned fork_generation; /* see agn_context_forked() */
    char socket_path[108];
    int sock;      /* broker connection */
    int doorbell;  /* own eventfd: wakes from this process only (never handed out) */
    int wake_set;  /* epoll: the doorbell and every wake_rx; agnocast_context_fd() */
    uint32_t wake_gens; /* last wake_gen given out */
    int epoll;     /* the control thread's */
    int stop_pipe[2];
    pthread_t thread;
    bool thread_started;
    _Atomic bool stopping;     /* spin should return */
    _Atomic bool busy_poll;
    _Atomic bool broker_lost;

    /* own segment */
    struct agn_seg_header *seg;
    size_t seg_size;
    int seg_fd;                   /* its sealed memfd, handed to the broker again after a restart */
    int area_fd[AGN_MAX_AREAS];   /* the growth areas' memfds, -1 unused */
    struct agn_pool pool;
    uint64_t pool_limit; /* total bytes growth may reach ($MEMPOOL_MAX_SIZE) */
    pthread_mutex_t grow_lock; /* one growth at a time */
    pthread_mutex_t create_lock; /* one publisher creation at a time (see pending_pub) */

    /* requests: one at a time; the control thread hands over the reply */
    pthread_mutex_t request_lock;
    pthread_mutex_t reply_lock;
    pthread_cond_t reply_cond;
    uint32_t next_request_id;
    uint32_t waiting_id;
    bool reply_ready;
    union agnocast_frame_buffer reply;
    size_t reply_len;

    /* everything below: under lock */
    pthread_mutex_t lock;
    struct agnocast_wire_range occupied[8]; /* to report to the broker (control thread) */
    unsigned noccupied;
    uintptr_t retired;  /* messages out of their rings that someone still holds */
    unsigned nretired;
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

/* ---- broker.c: the connection to agnocastd ---- */
int agn_broker_connect(struct agnocast_context *ctx);
/* Sends a request and waits for its reply; an ERROR reply becomes its code (and last error). */
int agn_broker_request(struct agnocast_context *ctx, uint16_t kind, const void *payload,
                       size_t len, const int *fds, int nfds, struct agnocast_frame *reply);
/* Handles one frame from the broker on the control thread; returns -errno when it is gone. */
int agn_broker_read(struct agnocast_context *ctx);
/* REGISTER_PROCESS; the first one also learns our pid as the broker knows it (ctx->pid). */
int agn_broker_register(struct agnocast_context *ctx, uint64_t pool_size, uint64_t want_base,
                        uint32_t flags, uint64_t *base, uint64_t *size);
/* ATTACH_SEGMENT: hands the broker the memfd of area `area` (0: the segment) at base/size. */
int agn_broker_attach(struct agnocast_context *ctx, uint32_t area, uint64_t base, uint64_t size,
                      int fd);
/* Control thread, broker lost: connects again and re-registers the range and every endpoint. */
int agn_broker_reconnect(struct agnocast_context *ctx);
/* Control thread: tells the broker of peers' ranges found occupied here (no reply awaited). */
void agn_broker_report_occupied(struct agnocast_context *ctx);

/* ---- segment.c ---- */
/* Creates the own segment (a sealed memfd) mapped at base; the broker gets it separately. */
int agn_segment_create(struct agnocast_context *ctx, uint64_t base, uint64_t size);
void agn_segment_destroy(struct agnocast_context *ctx);
/* Maps a peer's segment, from the descriptor the broker handed over, read-only at its address
 * and checks its header. The descriptor stays the caller's. */
int agn_segment_map_peer(pid_t pid, uint64_t base, uint64_t size, int fd);
void agn_segment_unmap_peer(uint64_t base, uint64_t size);
/* Pool growth: another range from the broker, its segment, published in our header, added to
 * the allocator. `need` bytes must fit. */
int agn_segment_grow(struct agnocast_context *ctx, size_t need);
/* Re-claims the growth areas after a broker restart. */
int agn_segment_reclaim_areas(struct agnocast_context *ctx);
/* Whether [addr, addr+len) lies in a growth area of the own segment or of a peer's: 1 yes
 * (mapped read-only first for a peer), 0 no, -EAGAIN in an area the peer declared whose
 * descriptor the broker has not handed over yet (ask again after the next notice). */
int agn_segment_area_check(struct agnocast_context *ctx, struct agn_peer *peer, uint64_t addr,
                           uint64_t len);

/* ---- peer.c (under ctx->lock) ---- */
/* The peer record for `pid`; on first use its segment is mapped from `fd` (the caller's). */
struct agn_peer *agn_peer_get(struct agnocast_context *ctx, pid_t pid, uint64_t base,
                              uint64_t size, int fd, int *err);
/* A growth area of a peer handed over by the broker; takes `fd`. */
void agn_peer_area_added(struct agnocast_context *ctx, const struct agnocast_wire_segment *a,
                         int fd);
struct agn_peer *agn_peer_find(struct agnocast_context *ctx, pid_t pid);
void agn_peer_accept(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_peer_unref(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_peer_maybe_release(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_peer_gone(struct agnocast_context *ctx, struct agn_peer *peer);
bool agn_peer_holds(struct agnocast_context *ctx, uintptr_t addr);

/* ---- notice.c: control notices from the broker (the only writer of our socket) ---- */
/* Handles one notice under ctx->lock; takes the descriptors (fds[i] set to -1 when kept). */
void agn_notice_handle(struct agnocast_context *ctx, const struct agnocast_frame *frame, int *fds,
                       int nfds);
/* A peer process is gone (notice, or found dead while the broker was away). Under ctx->lock. */
void agn_notice_process_gone(struct agnocast_context *ctx, pid_t pid);

/* ---- publisher.c / subscription.c ---- */
void agn_publisher_add_target(struct agnocast_publisher *pub, struct agn_peer *peer,
                              uint32_t sub_index);
void agn_publisher_remove_target(struct agnocast_publisher *pub, pid_t pid, uint32_t sub_index,
                                 bool all);
/* Frees retired messages nobody holds any more (under ctx->lock). */
void agn_reclaim(struct agnocast_context *ctx);
/* `fd`: the publisher's segment (the caller's), -1 for the own process. */
void agn_subscription_add_source(struct agnocast_subscription *sub, pid_t pid,
                                 const struct agnocast_wire_notice_endpoint *n, int fd);
void agn_subscription_remove_source(struct agnocast_subscription *sub, pid_t pid,
                                    uint32_t index, bool all);
/* Wakes a subscriber process (peer) or, for NULL, this one; never blocks. */
void agn_wake(struct agnocast_context *ctx, struct agn_peer *peer);
/* Empties the wake channels that are ready (`ready` from an epoll_wait on the wake set, or
 * NULL: look first). Returns 0 or a negative errno. */
int agn_wake_drain(struct agnocast_context *ctx, const struct epoll_event *ready, int nready);
/* A peer's wake channel to us arrived (NOTICE_WAKE_ADDED); takes fd. Under ctx->lock. */
void agn_wake_added(struct agnocast_context *ctx, pid_t pid, int fd);
/* Opens our wake channel to subscriber process `peer` once. Under ctx->lock. */
void agn_wake_open(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_subscription_remove_all(struct agnocast_subscription *sub);
int agn_qos_from(unsigned depth, unsigned flags, unsigned allowed, struct agnocast_wire_qos *qos);

/* Allocates from the own pool: when full, reclaims, then grows it; NULL with the reason in
 * agnocast_last_error(). */
void *agn_pool_take(struct agnocast_context *ctx, size_t align, size_t offset, size_t size);
/* The process's context, if it has one (the heap hook's whole-heap mode uses it). */
struct agnocast_context *agn_context_current(void);

/* ---- message.c ---- */
/* Reads message `seq` of a source, holds it and fills a handle: 1 got it, 0 gone, <0 error. */
int agn_message_acquire(struct agnocast_context *ctx, struct agnocast_subscription *sub,
                        struct agn_source *src, uint64_t seq, struct agnocast_message **ret);
void agn_message_free_handle(struct agnocast_message *msg);

/* ---- context.c ---- */
bool agn_context_forked(struct agnocast_context *ctx);
int agn_dispatch(struct agnocast_context *ctx, bool drain);
uint64_t agn_now_ns(void);
int agn_pool_size_from_env(const char *var, uint64_t *size);

#endif
