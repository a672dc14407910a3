/* The process's context: start-up (flow 1), spin, and shut-down. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agnocast-config.h"
#include "broker.h"
#include "context.h"
#include "control.h"
#include "log.h"
#include "peek.h"
#include "ring.h"
#include "segment.h"
#include "subscription.h"
#include "wake.h"

static pthread_mutex_t the_context_lock = PTHREAD_MUTEX_INITIALIZER;
static struct agnocast_context *the_context; /* one per process */

struct agnocast_context *agn_context_current(void)
{
    struct agnocast_context *ctx = the_context;

    return ctx && !agn_context_forked(ctx) ? ctx : NULL;
}

AGNOCAST_EXPORT const char *agnocast_version(void)
{
    return AGNOCAST_VERSION_STRING;
}

static int start(struct agnocast_context *ctx)
{
    const char *path = getenv("AGNOCAST_SOCKET");
    uint64_t pool_size, base = 0, size = 0;
    int r;

    snprintf(ctx->broker.socket_path, sizeof(ctx->broker.socket_path), "%s",
             path && *path ? path : AGNOCAST_DEFAULT_SOCKET_PATH);
    if ((r = agn_size_from_env("MEMPOOL_SIZE", AGN_SEG_ALIGN, &pool_size)) < 0 ||
        (r = agn_size_from_env("MEMPOOL_MAX_SIZE", AGN_SEG_ALIGN, &ctx->segment.limit)) < 0)
        return r;
    ctx->wake.doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ctx->wake.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ctx->control.epoll = epoll_create1(EPOLL_CLOEXEC);
    ctx->wake.set = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->wake.doorbell < 0 || ctx->wake.stop_fd < 0 || ctx->control.epoll < 0 ||
        ctx->wake.set < 0 || pipe2(ctx->control.stop_pipe, O_CLOEXEC) < 0)
        return agn_fail(-errno, "cannot create descriptors: %s", strerror(errno));
    {
        /* wake.c: tag 0 the doorbell, AGN_WAKE_TAG_STOP the stop eventfd */
        struct epoll_event bell = {.events = EPOLLIN, .data.u64 = 0};
        struct epoll_event stop = {.events = EPOLLIN, .data.u64 = AGN_WAKE_TAG_STOP};
        if (epoll_ctl(ctx->wake.set, EPOLL_CTL_ADD, ctx->wake.doorbell, &bell) < 0 ||
            epoll_ctl(ctx->wake.set, EPOLL_CTL_ADD, ctx->wake.stop_fd, &stop) < 0)
            return agn_fail(-errno, "cannot watch the doorbell: %s", strerror(errno));
    }
    ctx->broker.on_notice = agn_control_on_notice;
    if ((r = agn_broker_connect(ctx)) < 0)
        return r;
    if ((r = agn_broker_register(ctx, pool_size, 0, 0, &base, &size)) < 0)
        return r;
    /* The range may be taken in this process (a sanitizer, a big mapping): say so to the
     * broker, which hands out another one; nothing is ever mapped over. */
    while ((r = agn_segment_create(ctx, base, size)) == -EEXIST) {
        agn_log(AGNOCAST_LOG_INFO, "range 0x%" PRIx64 " is occupied here; asking for another",
                base);
        if ((r = agn_broker_register(ctx, pool_size, 0, AGNOCAST_REGISTER_RELOCATE, &base, &size)) <
            0)
            return r;
    }
    if (r < 0)
        return r;
    /* The segment has no name anywhere: the broker holds it for the peers it allows. */
    if ((r = agn_broker_attach(ctx, 0, base, size, ctx->segment.fd)) < 0)
        return r;
    /* Growth may take the pool to four times its first size unless told otherwise. */
    if (ctx->segment.limit == 0)
        ctx->segment.limit = 4 * size;
    if ((r = agn_control_start(ctx)) < 0)
        return r;
    agn_log(AGNOCAST_LOG_INFO, "registered with %s: pool 0x%" PRIx64 "-0x%" PRIx64,
            ctx->broker.socket_path, base, base + size);
    return 0;
}

static void teardown(struct agnocast_context *ctx)
{
    agn_control_stop(ctx);
    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        struct agn_peer *p = &ctx->peers[i];
        if (p->in_use) {
            if (p->wake_tx >= 0)
                close(p->wake_tx);
            if (p->wake_keep >= 0)
                close(p->wake_keep);
            if (p->wake_rx >= 0)
                close(p->wake_rx);
            for (int a = 0; a < AGN_MAX_AREAS; a++)
                if (p->area_size[a])
                    agn_segment_unmap_peer(p->area_base[a], p->area_size[a]);
            agn_segment_unmap_peer(p->base, p->size);
        }
    }
    /* Nothing has a name: closing the connection is the whole goodbye, and the broker's
     * clean-up has nothing of ours to remove but its own descriptors. */
    if (ctx->broker.sock >= 0)
        close(ctx->broker.sock);
    agn_segment_destroy(ctx);
    for (int i = 0; i < 2; i++)
        if (ctx->control.stop_pipe[i] >= 0)
            close(ctx->control.stop_pipe[i]);
    if (ctx->control.epoll >= 0)
        close(ctx->control.epoll);
    if (ctx->wake.set >= 0)
        close(ctx->wake.set);
    if (ctx->wake.doorbell >= 0)
        close(ctx->wake.doorbell);
    if (ctx->wake.stop_fd >= 0)
        close(ctx->wake.stop_fd);
    pthread_cond_destroy(&ctx->matched_cond);
    agn_peek_destroy(&ctx->peek);
    munmap(ctx, sizeof(*ctx));
}

AGNOCAST_EXPORT int agnocast_context_new(struct agnocast_context **ret)
{
    struct agnocast_context *ctx;
    int r;

    agn_clear_error();
    if (!ret)
        return agn_fail(-EINVAL, "agnocast_context_new: NULL argument");
    agn_lock(&the_context_lock);
    if (the_context && the_context->os_pid == getpid()) {
        agn_unlock(&the_context_lock);
        return agn_fail(-EBUSY, "this process already has an agnocast context");
    }
    /* Private memory straight from the kernel: this library must not use malloc (heap hook). */
    ctx = mmap(NULL, sizeof(*ctx), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ctx == MAP_FAILED) {
        agn_unlock(&the_context_lock);
        return agn_fail(-ENOMEM, "cannot allocate the context");
    }
    ctx->pid = ctx->os_pid = getpid(); /* ctx->pid: the broker's word once registered */
    ctx->fork_generation = agn_fork_generation();
    ctx->broker.sock = ctx->wake.doorbell = ctx->wake.stop_fd = ctx->wake.set = ctx->control.epoll =
        ctx->segment.fd = -1;
    for (int i = 0; i < AGN_MAX_AREAS; i++)
        ctx->segment.area_fd[i] = -1;
    ctx->control.stop_pipe[0] = ctx->control.stop_pipe[1] = -1;
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->broker.request_lock, NULL);
    pthread_mutex_init(&ctx->segment.grow_lock, NULL);
    pthread_mutex_init(&ctx->create_lock, NULL);
    pthread_mutex_init(&ctx->broker.reply_lock, NULL);
    pthread_cond_init(&ctx->broker.reply_cond, NULL);
    {
        /* Deadlines are CLOCK_MONOTONIC (agn_now_ns): a clock change must not cut a wait. */
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&ctx->matched_cond, &attr);
        pthread_condattr_destroy(&attr);
    }
    for (int i = 0; i < AGN_MAX_HOLDS; i++)
        ctx->messages[i].ctx = ctx;
    agn_peek_init(&ctx->peek);
    r = start(ctx);
    if (r < 0) {
        teardown(ctx);
        agn_unlock(&the_context_lock);
        return r;
    }
    the_context = ctx;
    agn_unlock(&the_context_lock);
    *ret = ctx;
    return 0;
}

AGNOCAST_EXPORT struct agnocast_context *agnocast_context_free(struct agnocast_context *ctx)
{
    if (!ctx || agn_context_forked(ctx))
        return NULL;
    for (int i = 0; i < AGN_MAX_SUBS; i++)
        if (ctx->subs[i].in_use)
            agnocast_subscription_free(&ctx->subs[i]);
    for (int i = 0; i < AGN_MAX_PUBS; i++)
        if (ctx->pubs[i].in_use)
            agnocast_publisher_free(&ctx->pubs[i]);
    agn_lock(&the_context_lock);
    if (the_context == ctx)
        the_context = NULL;
    teardown(ctx);
    agn_unlock(&the_context_lock);
    return NULL;
}

AGNOCAST_EXPORT int agnocast_context_segment(struct agnocast_context *ctx, void **base,
                                             size_t *size)
{
    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_segment: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    if (base)
        *base = ctx->segment.header;
    if (size)
        *size = ctx->segment.size;
    return 0;
}

AGNOCAST_EXPORT int agnocast_context_pool_usage(struct agnocast_context *ctx, size_t *used,
                                                size_t *capacity)
{
    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_pool_usage: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    agn_lock(&ctx->lock);
    agn_ring_reclaim(ctx);
    agn_unlock(&ctx->lock);
    if (used)
        *used = agn_pool_used(&ctx->pool);
    if (capacity)
        *capacity = ctx->pool.capacity;
    return 0;
}

AGNOCAST_EXPORT int agnocast_context_fd(struct agnocast_context *ctx)
{
    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_fd: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    return ctx->wake.set;
}

AGNOCAST_EXPORT int agnocast_context_set_busy_poll(struct agnocast_context *ctx, int enabled)
{
    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_set_busy_poll: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    atomic_store(&ctx->busy_poll, enabled != 0);
    /* Publishers stop (1) or resume (0) waking us. Resuming: the fence orders the flag before
     * the doorbell and whatever looks at the rings after it, so a message whose wake-up was
     * skipped while we polled is seen (wake.c, agn_wake_for_message). */
    atomic_store_explicit(&ctx->segment.header->polling, enabled != 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
    agn_wake(ctx, NULL); /* a spin asleep changes mode; a loop polling the fd looks again */
    return 0;
}

AGNOCAST_EXPORT void agnocast_context_stop(struct agnocast_context *ctx)
{
    uint64_t one = 1;
    int saved;

    /* In a fork child: nothing (the doorbell is the parent's). No agn_context_forked() here:
     * it records the error, which is not async-signal-safe. */
    if (!ctx || ctx->fork_generation != agn_fork_generation())
        return;
    saved = errno; /* a signal handler's caller may be about to read it */
    atomic_store(&ctx->stopping, true);
    (void)!write(ctx->wake.stop_fd, &one, sizeof(one));
    errno = saved;
}

/* A spin honours a stop: the flag goes, and with it the stop's wake-up, so the next wait
 * sleeps (the doorbell, which also carries this process's own messages, is left alone). */
static void stop_taken(struct agnocast_context *ctx)
{
    uint64_t count;

    atomic_store(&ctx->stopping, false);
    (void)!read(ctx->wake.stop_fd, &count, sizeof(count));
}

/*
 * After epoll_wait() said `n` channels are ready: the callbacks first, then the channels
 * emptied, then a second look. The read that empties a channel is then off the message's path
 * (the callback of a ping-pong answers before it); a publish between the first look and that
 * read, whose wake-up the read takes, is what the second look is for: at the sources of the
 * peers whose channels were read, lock-free. Returns the callbacks run, or a negative errno.
 */
static int dispatch_ready(struct agnocast_context *ctx, const struct epoll_event *ev, int n)
{
    int first = agn_dispatch(ctx, n > 0 ? AGN_DISPATCH_LOOK : AGN_DISPATCH_PEEK), d, second;

    if (n <= 0 || (first < 0 && first != -ENOBUFS))
        return first;
    if ((d = agn_wake_drain(ctx, ev, n)) < 0)
        return d;
    second = agn_dispatch_drained(ctx, ev, n);
    if (second < 0)
        return first > 0 ? first : second;
    return (first > 0 ? first : 0) + second;
}

/*
 * Spin with no timeout, event-driven: sleep in epoll_wait() on the wake set, dispatch, then
 * empty the channels it says are ready: two system calls per wake-up. Nothing here can block
 * on a descriptor a peer controls (wake.c).
 */
static int spin_blocking(struct agnocast_context *ctx)
{
    struct epoll_event ev[16];
    int r = 0, n = 0;

    for (;;) {
        r = dispatch_ready(ctx, ev, n);
        if (r < 0 && r != -ENOBUFS)
            break;
        r = 0;
        if (atomic_load(&ctx->stopping) || atomic_load(&ctx->busy_poll))
            break;
        n = epoll_wait(ctx->wake.set, ev, 16, -1);
        if (n < 0 && errno != EINTR) {
            r = agn_fail(-errno, "epoll_wait on the wake set: %s", strerror(errno));
            break;
        }
    }
    if (r == 0 && atomic_load(&ctx->busy_poll) && !atomic_load(&ctx->stopping))
        return agnocast_context_spin(ctx, -1); /* switched to busy polling meanwhile */
    if (atomic_load(&ctx->stopping))
        stop_taken(ctx);
    return r;
}

AGNOCAST_EXPORT int agnocast_context_spin(struct agnocast_context *ctx, int timeout_ms)
{
    uint64_t deadline = timeout_ms >= 0 ? agn_now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
    unsigned spins = 0;

    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_spin: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    if (timeout_ms < 0 && !atomic_load(&ctx->busy_poll))
        return spin_blocking(ctx);
    while (!atomic_load(&ctx->stopping)) {
        bool busy = atomic_load_explicit(&ctx->busy_poll, memory_order_relaxed);
        int r, wait_ms = -1;
        if (timeout_ms >= 0 && (!busy || (spins++ & 1023) == 0)) {
            uint64_t now = agn_now_ns();
            if (now >= deadline)
                break;
            wait_ms = (int)((deadline - now + 999999) / 1000000);
        }
        if (!busy) {
            struct epoll_event ev[16];
            int n = epoll_wait(ctx->wake.set, ev, 16, wait_ms);
            if (n < 0 && errno != EINTR)
                return agn_fail(-errno, "epoll_wait on the wake set: %s", strerror(errno));
            r = dispatch_ready(ctx, ev, n);
        } else {
            r = agn_dispatch(ctx, AGN_DISPATCH_PEEK);
        }
        if (r < 0 && r != -ENOBUFS)
            return r;
    }
    if (atomic_load(&ctx->stopping))
        stop_taken(ctx);
    return 0;
}

AGNOCAST_EXPORT int agnocast_context_spin_once(struct agnocast_context *ctx, int timeout_ms)
{
    uint64_t deadline = timeout_ms > 0 ? agn_now_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
    unsigned spins = 0;
    int r;

    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_spin_once: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    /* What is there already is a round of its own: no wait. */
    r = agn_dispatch(ctx, atomic_load(&ctx->busy_poll) ? AGN_DISPATCH_PEEK : AGN_DISPATCH_DRAIN);
    while (r == 0 && !atomic_load(&ctx->stopping) && timeout_ms != 0) {
        if (atomic_load_explicit(&ctx->busy_poll, memory_order_relaxed)) {
            if (timeout_ms > 0 && (spins++ & 1023) == 0 && agn_now_ns() >= deadline)
                break;
        } else {
            struct epoll_event ev[16];
            int wait_ms = -1, n;
            if (timeout_ms > 0) {
                uint64_t now = agn_now_ns();
                if (now >= deadline)
                    break;
                wait_ms = (int)((deadline - now + 999999) / 1000000);
            }
            n = epoll_wait(ctx->wake.set, ev, 16, wait_ms);
            if (n < 0 && errno != EINTR)
                return agn_fail(-errno, "epoll_wait on the wake set: %s", strerror(errno));
            r = dispatch_ready(ctx, ev, n);
            /* One round: a wake-up for a take subscription (or a coalesced one) ends it too. */
            if (n > 0)
                break;
            continue;
        }
        r = agn_dispatch(ctx, AGN_DISPATCH_PEEK);
    }
    if (atomic_load(&ctx->stopping))
        stop_taken(ctx);
    return r;
}
