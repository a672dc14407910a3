/* agnocast: true zero-copy publish/subscribe between processes on one Linux host. */
#ifndef AGNOCAST_H
#define AGNOCAST_H

/*
 * Overview, in the order a program uses it.
 *
 * 1. A process has one context: agnocast_context_new() connects to the broker (agnocastd; its
 *    socket is $AGNOCAST_SOCKET, else the path the library was built with,
 *    AGNOCAST_DEFAULT_SOCKET unless the build chose another), gets an address range, creates
 *    the process's shared-memory segment (a sealed memfd, named nowhere, handed to the peers
 *    that need it by the broker) mapped at that same address in every process, and starts one
 *    background thread that handles the broker's notices. The pool size comes from
 *    $MEMPOOL_SIZE (bytes, with an optional K/M/G/T suffix, powers of 1024; rounded up to a
 *    multiple of 102400 bytes); unset, the broker's default (64 MiB unless agnocastd
 *    --pool-size says otherwise). A full pool grows by further segments up to $MEMPOOL_MAX_SIZE
 *    (default four times the first size; at most 15 growths).
 *
 * 2. A publisher on a topic: agnocast_publisher_new(ctx, "/topic", depth, flags, &pub).
 *    A subscription: agnocast_subscription_new(ctx, "/topic", depth, flags, callback, data, &sub);
 *    with a NULL callback it is a take subscription, read with agnocast_subscription_take().
 *
 * 3. Publishing: agnocast_publisher_loan() gives memory in the own segment; the program fills
 *    it, may hang nested buffers off it with agnocast_loan_alloc() (pointers stay valid in every
 *    subscriber, since the segment has the same address there), then agnocast_publisher_publish()
 *    hands it over. Nothing is copied and the broker is not involved.
 *
 * 4. Receiving: poll agnocast_context_fd() in any event loop and call agnocast_context_dispatch()
 *    when it is readable, or call agnocast_context_spin(). Callbacks run on the thread that
 *    dispatches. A received message is borrowed: in a callback until it returns, unless the
 *    callback calls agnocast_message_retain(); from take until agnocast_message_release().
 *
 * Errors: every call that can fail returns 0 (or a count) on success and a negative errno on
 * failure; agnocast_strerror() names it and agnocast_last_error() gives the detailed sentence for
 * the calling thread's last failure (what went wrong and what to do). The library never exits
 * or aborts. A failure returned to the caller is the caller's to report: the library does not
 * print it. What it cannot return to anyone (a peer it cannot map, a malformed frame from the
 * broker, a fallback it took) it logs: warnings and errors go to stderr by default, as
 * "agnocast[PID]: warning: ..."; $AGNOCAST_LOG_LEVEL sets the level (error, warning, info,
 * debug; none or silent for nothing), and agnocast_set_log_callback() replaces stderr.
 *
 * Threads, per object ("any thread" means also at the same time as other threads):
 *  - context: agnocast_context_segment, _pool_usage, _fd, _set_busy_poll and _stop from any
 *    thread (stop also from a signal handler). agnocast_context_dispatch and _spin on one
 *    thread at a time, the dispatching thread, never from a callback. agnocast_context_free
 *    last: once no other thread uses the context or anything made from it (stop a spin and let
 *    it return first), never from a callback.
 *  - publisher: agnocast_publisher_new, _loan, _publish, _drop, _published and
 *    agnocast_loan_alloc from any thread, also on one publisher at once: publishes from several
 *    threads are numbered one after the other (each message gets its own number, in the order
 *    the publishes took the publisher). agnocast_publisher_free once no other thread uses the
 *    publisher or its loans.
 *  - loan (the memory agnocast_publisher_loan gives): one thread at a time. The thread that
 *    got it fills it and may hand it to another thread (with the synchronisation any shared
 *    memory needs), which then calls agnocast_loan_alloc, _publish or _drop on it. With the
 *    heap hook, only the loaning thread's malloc calls land in it.
 *  - subscription: agnocast_subscription_new, _take, _take_latest and the counters from any
 *    thread, also while another thread dispatches. Callbacks run on the dispatching thread.
 *    agnocast_subscription_free of a callback subscription on the dispatching thread (in a
 *    callback or between dispatches) or while nothing dispatches; of a take subscription from
 *    any thread once no other thread uses it.
 *  - message: the accessors from any thread while the message is held; agnocast_message_retain
 *    only in the message's own callback; agnocast_message_release once, from any thread, when
 *    no other thread still uses the handle.
 *  - agnocast_set_log_callback, agnocast_last_error (per thread), agnocast_strerror,
 *    agnocast_version and the allocator hook: any thread.
 *
 * fork(): the child's inherited handles (context, publishers, subscriptions, messages, loans)
 * are invalid there, and nothing done with them reaches the parent. Every call on one that
 * returns an int returns -ECHILD; one that returns a pointer returns NULL, a count, size or id
 * returns 0 (agnocast_publisher_published, agnocast_subscription_received and the other
 * counters, agnocast_message_size, _publisher_pid, _publisher_index, _sequence, _timestamp_ns,
 * and agnocast_message_contains); agnocast_context_stop and agnocast_message_retain do nothing;
 * the _free and _release functions free nothing and return NULL. agnocast_last_error() then says
 * why (except after agnocast_context_stop, which must stay async-signal-safe). The child may
 * create its own context.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(AGNOCAST_BUILDING_LIBRARY)
#define AGNOCAST_EXPORT __attribute__((visibility("default")))
#else
#define AGNOCAST_EXPORT
#endif

#define AGNOCAST_VERSION_MAJOR 0
#define AGNOCAST_VERSION_MINOR 1
#define AGNOCAST_VERSION_PATCH 0
#define AGNOCAST_VERSION_NUMBER                                                                    \
    (AGNOCAST_VERSION_MAJOR * 10000 + AGNOCAST_VERSION_MINOR * 100 + AGNOCAST_VERSION_PATCH)

#define AGNOCAST_DEFAULT_SOCKET "/run/agnocast/agnocast.sock"

struct agnocast_context;
struct agnocast_publisher;
struct agnocast_subscription;
struct agnocast_message;

/* Flags for publishers and subscriptions. */
enum agnocast_flags {
    /* Late joiners first get the retained history (publisher: keep it; subscription: want it). */
    AGNOCAST_TRANSIENT_LOCAL = 1u << 0,
    /* Stored and reported; delivery is keep-last either way. */
    AGNOCAST_RELIABLE = 1u << 1,
    /* Subscription only: never deliver messages published by this process. */
    AGNOCAST_IGNORE_LOCAL = 1u << 2,
};

/* "0.1.0" */
AGNOCAST_EXPORT const char *agnocast_version(void);

/* A short name for a negative errno returned by this library ("no broker reachable", ...). */
AGNOCAST_EXPORT const char *agnocast_strerror(int err);

/* The calling thread's last failure as a full sentence with a remedy; "" if none. */
AGNOCAST_EXPORT const char *agnocast_last_error(void);

enum agnocast_log_level {
    AGNOCAST_LOG_ERROR = 0,
    AGNOCAST_LOG_WARNING = 1,
    AGNOCAST_LOG_INFO = 2,
    AGNOCAST_LOG_DEBUG = 3,
};

typedef void (*agnocast_log_fn)(enum agnocast_log_level level, const char *message, void *userdata);

/*
 * Sets where the library logs: `fn` gets every message up to `max` (in place of stderr), on the
 * thread that logs it (an application thread inside a call, or the library's control thread),
 * never while that thread holds a library lock: a line logged under one waits until the last
 * is released (at most 8 per thread; more are counted and reported in a warning of their own).
 * So `fn` may call the library, except agnocast_context_free, _dispatch and _spin, and the
 * calls that ask the broker (the _new and _free functions), which would wait their 5 s out when
 * `fn` runs on the control thread. What the library logs while `fn` runs is handed to `fn`
 * after it returns (bounded: a callback that logs at every call does not loop); `fn` does not
 * change the caller's agnocast_last_error() or errno. Several threads may run `fn` at once:
 * it must be thread-safe. NULL puts back the default: stderr, up to the level
 * $AGNOCAST_LOG_LEVEL names (error, warning, info, debug, none or silent; any case), warning
 * when it is unset or empty. An unknown value is reported once on stderr and means warning.
 * Any thread, also from `fn`; takes effect for later messages (a call of the previous `fn`
 * already running on another thread may still finish after this returns).
 */
AGNOCAST_EXPORT void agnocast_set_log_callback(agnocast_log_fn fn, enum agnocast_log_level max,
                                               void *userdata);

/* ---- context ---------------------------------------------------------------------------- */

/*
 * Creates this process's context (one per process: a second call while one exists returns
 * -EBUSY). Errors: -ECONNREFUSED / -ENOENT no broker at the socket path; -EACCES no permission
 * on the socket; -EPROTONOSUPPORT the broker speaks another protocol version; -EINVAL a
 * malformed $MEMPOOL_SIZE or $MEMPOOL_MAX_SIZE; -ENOMEM the broker has no range left, every
 * range it offered was occupied in this process (8 in a row), or the pool cannot be created;
 * -EDQUOT the user's quota at the broker; other negative errno from the system.
 * agnocast_last_error() says which and what to do.
 */
AGNOCAST_EXPORT int agnocast_context_new(struct agnocast_context **ret);

/* Destroys every publisher and subscription still open, closes the connection to the broker
 * (which unregisters the process) and unmaps the segments; their memory goes back to the
 * system once no peer maps them any more. Messages still held and loans still outstanding
 * become invalid. Takes NULL; returns NULL. */
AGNOCAST_EXPORT struct agnocast_context *agnocast_context_free(struct agnocast_context *ctx);

/* The address range of this process's first segment (growth areas are not included). */
AGNOCAST_EXPORT int agnocast_context_segment(struct agnocast_context *ctx, void **base,
                                             size_t *size);

/* Bytes of the pool in use (messages, nested allocations, rings) and its capacity. Messages
 * no subscription holds any more are reclaimed first. */
AGNOCAST_EXPORT int agnocast_context_pool_usage(struct agnocast_context *ctx, size_t *used,
                                                size_t *capacity);

/* A descriptor that becomes readable when a subscription may have messages, when the
 * publishers or subscriptions matched with this process's may have changed (see the _count and
 * _wait_matched calls), and after agnocast_context_stop(). Poll it for POLLIN/EPOLLIN and then
 * call agnocast_context_dispatch(), which empties it in the same call: that is also the one
 * call for a context with only take subscriptions (it runs no callback; take afterwards). It
 * is an epoll instance: do not read it. Owned by the context. A readable fd with nothing to
 * deliver can happen (a coalesced wake-up); dispatch then returns 0. While busy polling is on
 * (agnocast_context_set_busy_poll), new messages do not make it readable. */
AGNOCAST_EXPORT int agnocast_context_fd(struct agnocast_context *ctx);

/* Runs the callbacks of every callback subscription for the messages now available; returns
 * how many callbacks ran, or a negative errno. Never blocks. */
AGNOCAST_EXPORT int agnocast_context_dispatch(struct agnocast_context *ctx);

/* Waits for messages and dispatches them until agnocast_context_stop() or timeout_ms elapses
 * (-1: no timeout). With busy polling on, it spins instead of sleeping; otherwise it sleeps in
 * epoll_wait() on agnocast_context_fd(). Do not dispatch from another thread meanwhile.
 * Returns 0 on stop or timeout, or a negative errno. */
AGNOCAST_EXPORT int agnocast_context_spin(struct agnocast_context *ctx, int timeout_ms);

/* Waits up to timeout_ms (-1: no limit; 0: no wait) for one round: dispatches what is available
 * now, or else waits for the next wake-up (or, busy polling, the next message) and dispatches
 * once. Returns how many callbacks ran: 0 on timeout, on agnocast_context_stop(), or after a
 * wake-up that brought nothing for a callback (a take subscription may have a message: take
 * it). A negative errno on failure (-ENOBUFS: this process holds too many messages). For
 * request/response code outside callbacks. Same thread rules as spin. */
AGNOCAST_EXPORT int agnocast_context_spin_once(struct agnocast_context *ctx, int timeout_ms);

/* Makes spin (or spin_once) return; if none runs, the next one returns at once. The spin that
 * returns takes the stop with it: afterwards agnocast_context_fd() is not left readable by it.
 * Async-signal-safe; any thread. */
AGNOCAST_EXPORT void agnocast_context_stop(struct agnocast_context *ctx);

/* Busy polling (1) for the lowest latency at the price of a full core, or sleeping on the
 * descriptor (0, the default). With busy polling on, spin spins instead of sleeping, and this
 * process tells its publishers so: they skip the wake-up (a write() per message) that only a
 * sleeping subscriber needs, so agnocast_context_fd() no longer turns readable for messages;
 * look with spin, spin_once, dispatch or take. Turning it off makes the fd readable once, so a
 * loop that sleeps on it next looks at what arrived meanwhile. */
AGNOCAST_EXPORT int agnocast_context_set_busy_poll(struct agnocast_context *ctx, int enabled);

/* ---- publisher ---------------------------------------------------------------------------- */

/*
 * Creates a publisher on `topic` keeping the last `depth` messages (1..1024; 0 is -EINVAL).
 * flags: AGNOCAST_TRANSIENT_LOCAL, AGNOCAST_RELIABLE. Errors: -EINVAL bad name, depth or flags;
 * -ENOTCONN broker unreachable; -ENOSPC too many publishers in this process (64); -ENOMEM no
 * room for its ring in the pool.
 */
AGNOCAST_EXPORT int agnocast_publisher_new(struct agnocast_context *ctx, const char *topic,
                                           unsigned depth, unsigned flags,
                                           struct agnocast_publisher **ret);

/* Unregisters and destroys. Messages it retains are freed once no subscription holds them.
 * Publish or drop its loans first: one still outstanding is not freed (its memory stays taken
 * until the context is freed) and must not be used. Takes NULL; returns NULL. */
AGNOCAST_EXPORT struct agnocast_publisher *agnocast_publisher_free(struct agnocast_publisher *pub);

/* Loans `size` bytes (> 0) of the own segment, 16-byte aligned, for one message. The loan is
 * the caller's until published or dropped. -ENOMEM: the pool is full and cannot grow any more
 * (retry after subscribers release messages). */
AGNOCAST_EXPORT int agnocast_publisher_loan(struct agnocast_publisher *pub, size_t size,
                                            void **data);

/* Allocates `size` bytes that belong to the loaned message `data` (for nested buffers,
 * strings, nodes); freed together with it. Same errors as loan, and -EINVAL if `data` is not
 * an outstanding loan of this publisher. */
AGNOCAST_EXPORT int agnocast_loan_alloc(struct agnocast_publisher *pub, void *data, size_t size,
                                        void **ret);

/* Publishes a loan; consumes it (the caller must not write to it afterwards). Wakes the
 * subscribers. Returns 0 or -EINVAL (not a loan of this publisher). Any thread, also several
 * on one publisher at once (see "Threads" above). */
AGNOCAST_EXPORT int agnocast_publisher_publish(struct agnocast_publisher *pub, void *data);

/* Drops an unpublished loan and its nested allocations. Returns 0 or -EINVAL (not an
 * outstanding loan of this publisher). */
AGNOCAST_EXPORT int agnocast_publisher_drop(struct agnocast_publisher *pub, void *data);

/* How many messages this publisher has published: the number of the last one (0 before the
 * first). */
AGNOCAST_EXPORT uint64_t agnocast_publisher_published(struct agnocast_publisher *pub);

/* How many subscriptions this publisher reaches now, in every process (this one's included,
 * except those with AGNOCAST_IGNORE_LOCAL). A subscription counts once the broker has told this
 * process about it: from then on it sees every message published. Negative errno on failure. */
AGNOCAST_EXPORT int agnocast_publisher_subscription_count(struct agnocast_publisher *pub);

/* Waits until the publisher reaches at least `n` subscriptions, up to timeout_ms (-1: no
 * limit). Returns the count (>= n), or -ETIMEDOUT with the count reached in
 * agnocast_last_error(). Any thread except the library's own (never from the log callback). */
AGNOCAST_EXPORT int agnocast_publisher_wait_matched(struct agnocast_publisher *pub, unsigned n,
                                                    int timeout_ms);

/* ---- subscription ------------------------------------------------------------------------- */

typedef void (*agnocast_callback_fn)(struct agnocast_subscription *sub,
                                     struct agnocast_message *msg, void *userdata);

/*
 * Creates a subscription on `topic` that sees, per publisher, at most the newest `depth`
 * messages it has not yet seen (1..1024). flags: AGNOCAST_TRANSIENT_LOCAL (first deliver the
 * retained history of transient-local publishers), AGNOCAST_RELIABLE, AGNOCAST_IGNORE_LOCAL.
 * With a callback, messages are delivered by dispatch/spin; with NULL, take them. Errors:
 * -EINVAL bad name, depth or flags; -ENOTCONN broker unreachable; -ENOSPC too many
 * subscriptions in this process (64).
 */
AGNOCAST_EXPORT int agnocast_subscription_new(struct agnocast_context *ctx, const char *topic,
                                              unsigned depth, unsigned flags,
                                              agnocast_callback_fn callback, void *userdata,
                                              struct agnocast_subscription **ret);

/* Unregisters and destroys. Messages it still holds stay valid until released. A callback may
 * free its own or another subscription; no callback of a freed subscription runs after that.
 * Takes NULL; returns NULL. */
AGNOCAST_EXPORT struct agnocast_subscription *
agnocast_subscription_free(struct agnocast_subscription *sub);

/* Takes the oldest message not yet seen in the subscription's window: 1 and *msg set, 0 if
 * there is none, or a negative errno (-ENOBUFS: this process holds too many messages). Made for
 * busy loops: a call that finds nothing takes no lock and makes no system call. Any thread may
 * call it; calls on one subscription from several threads each get different messages. */
AGNOCAST_EXPORT int agnocast_subscription_take(struct agnocast_subscription *sub,
                                               struct agnocast_message **msg);

/* Like take, but the newest message; older unseen ones count as missed. */
AGNOCAST_EXPORT int agnocast_subscription_take_latest(struct agnocast_subscription *sub,
                                                      struct agnocast_message **msg);

/* How many publishers this subscription reads now (not counting unreachable or corrupt
 * ones). A publisher counts once it is mapped here: its next message arrives (and, for
 * transient-local, its history). Negative errno on failure. */
AGNOCAST_EXPORT int agnocast_subscription_publisher_count(struct agnocast_subscription *sub);

/* Waits until the subscription reads at least `n` publishers, up to timeout_ms (-1: no
 * limit); as agnocast_publisher_wait_matched. */
AGNOCAST_EXPORT int agnocast_subscription_wait_matched(struct agnocast_subscription *sub,
                                                       unsigned n, int timeout_ms);

/* Messages delivered, skipped by keep-last (missed), and dropped as corrupt. */
AGNOCAST_EXPORT uint64_t agnocast_subscription_received(struct agnocast_subscription *sub);
AGNOCAST_EXPORT uint64_t agnocast_subscription_missed(struct agnocast_subscription *sub);
AGNOCAST_EXPORT uint64_t agnocast_subscription_corrupt(struct agnocast_subscription *sub);
/* Publishers on the topic this subscription could not reach (their segment could not be
 * mapped here, for example a range occupied in this process): their messages never arrive,
 * each is also logged as a warning. Not an idle topic: check this before assuming silence. */
AGNOCAST_EXPORT uint64_t agnocast_subscription_unreachable(struct agnocast_subscription *sub);

/* ---- received messages -------------------------------------------------------------------- */

/* The message, read-only, at the address at which the publisher wrote it. */
AGNOCAST_EXPORT const void *agnocast_message_data(const struct agnocast_message *msg);
AGNOCAST_EXPORT size_t agnocast_message_size(const struct agnocast_message *msg);
/* Publisher identity: its process id and its index within that process. */
AGNOCAST_EXPORT pid_t agnocast_message_publisher_pid(const struct agnocast_message *msg);
AGNOCAST_EXPORT uint32_t agnocast_message_publisher_index(const struct agnocast_message *msg);
/* 1, 2, 3, ... per publisher. */
AGNOCAST_EXPORT uint64_t agnocast_message_sequence(const struct agnocast_message *msg);
/* CLOCK_MONOTONIC nanoseconds at publish (comparable across processes on the host). */
AGNOCAST_EXPORT uint64_t agnocast_message_timestamp_ns(const struct agnocast_message *msg);

/* 1 if [ptr, ptr + len) lies inside the publisher's segment or one of its growth areas, so a
 * pointer found inside a message may be followed; 0 otherwise. Publishers are untrusted: check
 * before dereferencing. */
AGNOCAST_EXPORT int agnocast_message_contains(const struct agnocast_message *msg, const void *ptr,
                                              size_t len);

/* In a callback: keep the message after the callback returns (release it later). */
AGNOCAST_EXPORT void agnocast_message_retain(struct agnocast_message *msg);

/* Gives the message back; the publisher may then reuse its memory. The handle is invalid
 * afterwards. A callback may release its own message early (dispatch then leaves it alone).
 * Takes NULL; returns NULL. */
AGNOCAST_EXPORT struct agnocast_message *agnocast_message_release(struct agnocast_message *msg);

/* ---- allocator hook ----------------------------------------------------------------------- */

/*
 * For a malloc replacement, libagnocast_heaphook.so (docs/heaphook.md), not for applications:
 * the double underscore marks them. They route an allocation a thread makes inside its loan
 * window (between agnocast_publisher_loan() and the publish or drop of that loan) into that
 * message, and tell pool memory from private memory. They never call malloc; any thread, at
 * any time, also before a context exists and in a fork child. `routed` says who owns the call:
 * 0 the caller's private heap (forward the call there); 1 handled here, the result is final
 * (NULL with errno = ENOMEM when the pool is full); 2 pool memory this thread may not change
 * (another thread's loan, a published message): the caller copies it into private memory and
 * leaves it alone.
 */

/* In a loan window on this thread: a nested allocation of the current loan (`align` a power of
 * two; 16 and more is honoured exactly). Outside one: NULL, routed 0 (with
 * AGNOCAST_HEAPHOOK_ALL=1 in the environment: a block of the process's pool, routed 1). */
AGNOCAST_EXPORT void *agnocast__hook_alloc(size_t align, size_t size, int *routed);
/* 0: not pool memory (the caller frees it privately). 1: pool memory, freed if it is a nested
 * allocation of this thread's current loan (or an AGNOCAST_HEAPHOOK_ALL block), otherwise left
 * to its message; in a fork child a parent's pointer is left alone. */
AGNOCAST_EXPORT int agnocast__hook_free(void *ptr);
/* Routed as above; a parent's pointer in a fork child: NULL, routed 1, errno = ENOMEM (it is
 * not mapped there, there is nothing to copy). */
AGNOCAST_EXPORT void *agnocast__hook_realloc(void *ptr, size_t size, int *routed);
/* Usable bytes of a nested allocation; routed 0 for private memory; 0 bytes (routed 1) for
 * pool memory that is no nested allocation, and for a parent's pointer in a fork child. */
AGNOCAST_EXPORT size_t agnocast__hook_usable_size(const void *ptr, int *routed);

#ifdef __cplusplus
}
#endif

#endif
