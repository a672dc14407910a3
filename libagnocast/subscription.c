/* Subscriptions: their sources (publishers read in place), take, and dispatch to callbacks. */
#include "subscription.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "context.h"
#include "log.h"
#include "message.h"
#include "peek.h"
#include "peer.h"
#include "qos.h"
#include "util.h"
#include "wake.h"

#define DISPATCH_BATCH 64

void agn_subscription_add_source(struct agnocast_subscription *sub, pid_t pid,
                                 const struct agnocast_wire_notice_endpoint *n, int fd)
{
    struct agnocast_context *ctx = sub->ctx;
    const struct agn_shm_view *view;
    struct agn_peer *peer = NULL;
    struct agn_shm_ring ring;
    struct agn_source *src;
    int err = 0;

    if (pid == ctx->pid && sub->qos.ignore_local)
        return;
    for (unsigned i = 0; i < sub->nsources; i++)
        if (sub->sources[i].pid == pid && sub->sources[i].index == n->index)
            return;
    if (sub->nsources == AGN_MAX_SOURCES || n->index >= AGN_MAX_PUBS) {
        agn_log(AGNOCAST_LOG_WARNING, "subscription on %s cannot take publisher %d/%u", sub->topic,
                (int)pid, n->index);
        return;
    }
    if (pid != ctx->pid) {
        peer = agn_peer_get(ctx, pid, n->seg_base, n->seg_size, fd, &err);
        if (!peer) {
            /* Not an idle topic: a publisher is there and we cannot read it. Counted, said. */
            atomic_fetch_add_explicit(&sub->stats->unreachable, 1, memory_order_relaxed);
            agn_log(AGNOCAST_LOG_WARNING,
                    "subscription on %s cannot reach publisher %d/%u: %s; its messages will "
                    "not arrive (counted as unreachable)",
                    sub->topic, (int)pid, n->index, agnocast_last_error());
            return;
        }
        view = &peer->view;
    } else {
        view = &ctx->segment.view;
    }
    /* The slot lives in memory its owner writes: validated once, the validated copy kept. The
     * ring is bounded by the size the broker vouched for, not by the header's `size`: the
     * owner may rewrite that after we mapped it (a `size` wrapping the address space used to
     * let a ring lie anywhere past the segment: a crash here). */
    if (!agn_shm_ring_get(view, n->index, &ring)) {
        atomic_fetch_add_explicit(&sub->stats->corrupt, 1, memory_order_relaxed);
        agn_log(AGNOCAST_LOG_WARNING, "publisher %d/%u on %s has an invalid ring; ignoring it",
                (int)pid, n->index, sub->topic);
        if (peer)
            agn_peer_maybe_release(ctx, peer);
        return;
    }
    agn_peek_close(&ctx->peek);
    src = &sub->sources[sub->nsources++];
    *src = (struct agn_source){
        .pid = pid,
        .index = n->index,
        .peer = peer,
        .view = view,
        .ring = ring,
        .window = ring.depth < sub->qos.depth ? ring.depth : sub->qos.depth,
        .ready = peer == NULL,
        .history =
            sub->qos.durability == AGNOCAST_DURABILITY_TRANSIENT_LOCAL && ring.transient_local,
    };
    /* Positioned now, so what falls out of the window from here on counts as missed. Older
     * messages inside the window are history (transient-local) or filtered by publish time. */
    {
        uint64_t head = agn_shm_ring_head(&ring);
        src->next = head >= src->window ? head - src->window + 1 : 1;
    }
    agn_peek_open(&ctx->peek);
    if (peer)
        peer->refs++;
}

static bool source_matches(const struct agn_source *src, pid_t pid, uint32_t index, bool all)
{
    return src->pid == pid && (all || src->index == index);
}

void agn_subscription_remove_source(struct agnocast_subscription *sub, pid_t pid, uint32_t index,
                                    bool all)
{
    unsigned i = 0;

    while (i < sub->nsources && !source_matches(&sub->sources[i], pid, index, all))
        i++;
    if (i == sub->nsources)
        return; /* every subscription hears of every publisher that leaves */
    /* Closed before the source goes and its peer's segment may be unmapped (peek.h). */
    agn_peek_close(&sub->ctx->peek);
    while (i < sub->nsources) {
        struct agn_source *src = &sub->sources[i];
        if (!source_matches(src, pid, index, all)) {
            i++;
            continue;
        }
        if (src->peer)
            agn_peer_unref(sub->ctx, src->peer);
        *src = sub->sources[--sub->nsources];
    }
    agn_peek_open(&sub->ctx->peek);
}

static bool source_accepted(struct agnocast_context *ctx, struct agn_source *src)
{
    return agn_shm_accepts(src->view, (uint32_t)ctx->pid);
}

/* Adds to a counter of our own segment, saturating: what a peer wrote must not wrap it. Only
 * threads holding ctx->lock write it, so load-add-store loses nothing. */
static void counter_add(_Atomic uint64_t *c, uint64_t n)
{
    uint64_t v = atomic_load_explicit(c, memory_order_relaxed);

    atomic_store_explicit(c, v + n < v ? UINT64_MAX : v + n, memory_order_relaxed);
}

/* next, ready and corrupt change only under ctx->lock, but a lock-free look (source_maybe_new)
 * may read them meanwhile: stored atomically (a plain store on x86 too). */
static void source_set_next(struct agn_source *src, uint64_t next)
{
    __atomic_store_n(&src->next, next, __ATOMIC_RELAXED);
}

/* A publisher caught writing what no publisher writes: counted, said once, never read again
 * (its messages stop; the subscription goes on with the others). */
static int source_corrupt(struct agnocast_subscription *sub, struct agn_source *src,
                          const char *why)
{
    __atomic_store_n(&src->corrupt, true, __ATOMIC_RELAXED); /* see source_set_next */
    atomic_fetch_add_explicit(&sub->stats->corrupt, 1, memory_order_relaxed);
    agn_log(AGNOCAST_LOG_WARNING, "publisher %d/%u on %s is corrupt (%s); no longer reading it",
            (int)src->pid, src->index, sub->topic, why);
    return 0;
}

/* Acquires the next message of a source, applying keep-last and the volatile cut-off. Every
 * loop over what the publisher wrote is bounded: at most its window per call. */
static int source_next(struct agnocast_subscription *sub, struct agn_source *src,
                       struct agnocast_message **msg)
{
    struct agnocast_context *ctx = sub->ctx;

    if (src->corrupt)
        return 0;
    if (!src->ready) {
        if (!source_accepted(ctx, src))
            return 0;
        __atomic_store_n(&src->ready, true, __ATOMIC_RELAXED);
    }
    for (uint64_t looked = 0;;) {
        uint64_t seq, head;
        int r;
        uint64_t found = agn_shm_entry_seq(&src->ring, src->next);
        /* Message n is written to entry n % depth and later overwritten only by n + depth,
         * n + 2 depth...: an entry with an older number (not 0, which marks a write in
         * progress) means nothing new, and one with the number we want, when the window is
         * the whole ring, is a message inside it. Both answers spare reading the head, a line
         * the publisher writes at every publish. */
        if (found != 0 && found < src->next)
            return 0;
        if (found != src->next || src->window < src->ring.depth) {
            head = agn_shm_ring_head(&src->ring);
            if (src->next > head)
                return 0;
            if (head - src->next > AGN_HEAD_JUMP_MAX)
                return source_corrupt(sub, src, "its ring head jumped by more than 2^40");
            if (head - src->next >= src->window) {
                uint64_t skip = head - src->window + 1 - src->next;
                counter_add(&sub->stats->missed, skip);
                source_set_next(src, src->next + skip);
            }
        }
        if (++looked > src->window + 1)
            return 0; /* a head that keeps moving (or a wild one): the rest next time */
        seq = src->next;
        source_set_next(src, seq + 1);
        r = agn_message_acquire(ctx, sub, src, seq, msg);
        if (r == -EAGAIN) {
            /* Its growth area is on its way from the broker; a declared area that never comes
             * is a lie, which must not hold the subscription back for ever. */
            uint64_t now = agn_now_ns();
            source_set_next(src, src->next - 1);
            if (src->area_wait_ns == 0)
                src->area_wait_ns = now;
            else if (now - src->area_wait_ns > AGN_AREA_WAIT_NS)
                return source_corrupt(sub, src,
                                      "it declared a growth area the broker never handed over");
            return 0;
        }
        src->area_wait_ns = 0;
        if (r == 0) {
            /* Saturating like the skip above: a head jump may have left it at UINT64_MAX. */
            counter_add(&sub->stats->missed, 1);
            continue;
        }
        if (r == -EBADMSG)
            continue;
        if (r < 0) {
            source_set_next(src, src->next - 1);
            return r;
        }
        if (!src->history && (*msg)->timestamp_ns < sub->created_ns) {
            /* Published before this volatile subscription existed: not for it. */
            agn_message_free_handle(*msg);
            continue;
        }
        atomic_fetch_add_explicit(&sub->stats->received, 1, memory_order_relaxed);
        return 1;
    }
}

/* Under ctx->lock: the oldest available message over all sources (by publish time). */
static int take_oldest(struct agnocast_subscription *sub, struct agnocast_message **msg)
{
    struct agn_source *best = NULL;
    uint64_t best_ts = UINT64_MAX;

    for (unsigned i = 0; i < sub->nsources; i++) {
        struct agn_source *src = &sub->sources[i];
        uint64_t head, seq = src->next, found, ts;
        if (src->corrupt || (!src->ready && !source_accepted(sub->ctx, src)))
            continue;
        __atomic_store_n(&src->ready, true, __ATOMIC_RELAXED);
        /* As in source_next: the entry we want answers alone when it holds an older message
         * (nothing new) or, with the whole ring as window, the one we want; only otherwise is
         * the head read, a line the publisher writes at every publish. The timestamp is on
         * the entry's own line. */
        found = agn_shm_entry_seq(&src->ring, src->next);
        if (found != 0 && found < src->next)
            continue;
        if (found != src->next || src->window < src->ring.depth) {
            head = agn_shm_ring_head(&src->ring);
            if (src->next > head)
                continue;
            seq = head - src->next >= src->window ? head - src->window + 1 : src->next;
        }
        ts = atomic_load_explicit(&agn_shm_ring_entry(&src->ring, seq)->timestamp_ns,
                                  memory_order_relaxed);
        if (!best || ts < best_ts) {
            best = src;
            best_ts = ts;
        }
    }
    if (!best)
        return 0;
    return source_next(sub, best, msg);
}

/*
 * The busy path: whether a subscription certainly has nothing new, looked at without
 * ctx->lock (peek.h). Only a certain "nothing" is answered here, the cheap answer a busy
 * poller gets again and again: the entry of the next message we want holds an older one, or
 * 0, a write in progress (the next look sees it done; a sleeper is woken after it is). Anything
 * else (a message, a lapped ring, a source not yet accepted) goes to the locked path, which
 * decides. Going there on a 0, to read the head the publisher is writing too, used to take
 * the lines the publisher was writing away from it in the middle of its write. next, ready and
 * corrupt are written (atomically, under the lock) by whichever thread takes: an answer made
 * stale by such a thread is one that thread answered better.
 */
static bool source_maybe_new(const struct agn_source *src)
{
    uint64_t next = __atomic_load_n(&src->next, __ATOMIC_RELAXED);
    uint64_t found;

    if (__atomic_load_n(&src->corrupt, __ATOMIC_RELAXED))
        return false;
    if (!__atomic_load_n(&src->ready, __ATOMIC_RELAXED))
        return true;
    found = agn_shm_entry_seq(&src->ring, next);
    return found >= next; /* next >= 1: a 0 is never a message */
}

static bool subscription_maybe_new(const struct agnocast_subscription *sub)
{
    for (unsigned i = 0; i < sub->nsources; i++)
        if (source_maybe_new(&sub->sources[i]))
            return true;
    return false;
}

/* The callback subscriptions' sources of the peers the `n` wake-up events `ev` name (every
 * source for NULL, or when the doorbell, which names nobody, is among them). */
static bool callbacks_maybe_new(struct agnocast_context *ctx, const struct epoll_event *ev, int n)
{
    bool every = ev == NULL || agn_wake_events_name(ctx, NULL, ev, n);

    for (unsigned s = 0; s < ctx->ncallback_subs; s++) {
        const struct agnocast_subscription *sub = ctx->callback_subs[s];
        for (unsigned i = 0; i < sub->nsources; i++) {
            const struct agn_source *src = &sub->sources[i];
            if ((every || agn_wake_events_name(ctx, src->peer, ev, n)) && source_maybe_new(src))
                return true;
        }
    }
    return false;
}

/* `sub` has certainly nothing new; for NULL, no callback subscription has, at the sources
 * callbacks_maybe_new looks at. */
static bool nothing_new(struct agnocast_context *ctx, const struct agnocast_subscription *sub,
                        const struct epoll_event *ev, int n)
{
    struct agn_peek_reader *r = agn_peek_enter(&ctx->peek);
    bool maybe;

    if (!r)
        return false;
    maybe = sub ? subscription_maybe_new(sub) : callbacks_maybe_new(ctx, ev, n);
    agn_peek_leave(r);
    return !maybe;
}

static struct agnocast_context *sub_ctx(struct agnocast_subscription *sub)
{
    return sub ? sub->ctx : NULL;
}

AGNOCAST_EXPORT int agnocast_subscription_take(struct agnocast_subscription *sub,
                                               struct agnocast_message **msg)
{
    struct agnocast_context *ctx = sub_ctx(sub);
    int r = 0;

    if (!ctx || !msg)
        return agn_fail(-EINVAL, "agnocast_subscription_take: NULL argument");
    if (agn_context_forked(ctx))
        return -ECHILD;
    if (nothing_new(ctx, sub, NULL, 0))
        return 0;
    agn_lock(&ctx->lock);
    /* A source whose messages all turned out stale yields 0 though another may have some. */
    for (unsigned tries = 0; tries <= sub->nsources && r == 0; tries++)
        r = take_oldest(sub, msg);
    agn_unlock(&ctx->lock);
    return r;
}

AGNOCAST_EXPORT int agnocast_subscription_take_latest(struct agnocast_subscription *sub,
                                                      struct agnocast_message **msg)
{
    struct agnocast_context *ctx = sub_ctx(sub);
    struct agnocast_message *got = NULL;
    int r = 0;

    if (!ctx || !msg)
        return agn_fail(-EINVAL, "agnocast_subscription_take_latest: NULL argument");
    if (agn_context_forked(ctx))
        return -ECHILD;
    if (nothing_new(ctx, sub, NULL, 0))
        return 0;
    agn_lock(&ctx->lock);
    /* Take everything available, keep the newest; the rest counts as missed. */
    for (;;) {
        struct agnocast_message *m;
        int t = take_oldest(sub, &m);
        if (t <= 0) {
            if (t < 0 && !got)
                r = t;
            break;
        }
        if (got) {
            agn_message_free_handle(got);
            atomic_fetch_sub_explicit(&sub->stats->received, 1, memory_order_relaxed);
            counter_add(&sub->stats->missed, 1); /* saturating: see source_next */
        }
        got = m;
    }
    agn_unlock(&ctx->lock);
    if (got) {
        *msg = got;
        return 1;
    }
    return r;
}

/* Collects up to `cap` messages for callback subscriptions, under the lock. */
static unsigned collect(struct agnocast_context *ctx, struct agnocast_message **msgs,
                        struct agnocast_subscription **subs, unsigned cap, int *err)
{
    unsigned n = 0;

    agn_lock(&ctx->lock);
    for (unsigned s = 0; s < ctx->ncallback_subs && n < cap; s++) {
        struct agnocast_subscription *sub = ctx->callback_subs[s];
        for (unsigned i = 0; i < sub->nsources && n < cap; i++) {
            int r;
            while (n < cap && (r = source_next(sub, &sub->sources[i], &msgs[n])) == 1)
                subs[n++] = sub;
            if (r < 0 && r != -EBADMSG)
                *err = r;
        }
    }
    agn_unlock(&ctx->lock);
    return n;
}

/* Runs callbacks for what is available. DRAIN first empties the wake channels that are ready
 * (event-driven use), busy polling skips those system calls and, with PEEK, the lock when
 * nothing is new. */
int agn_dispatch(struct agnocast_context *ctx, enum agn_dispatch_mode mode)
{
    struct agnocast_message *msgs[DISPATCH_BATCH];
    struct agnocast_subscription *subs[DISPATCH_BATCH];
    uint32_t generations[DISPATCH_BATCH];
    int total = 0, err = 0;
    unsigned n;

    /* Drain before looking, so a publish after the look wakes us again. */
    if (mode == AGN_DISPATCH_DRAIN)
        agn_wake_drain(ctx, NULL, 0);
    else if (mode == AGN_DISPATCH_PEEK && nothing_new(ctx, NULL, NULL, 0))
        return 0; /* busy polling, the usual answer: without the lock */
    do {
        n = collect(ctx, msgs, subs, DISPATCH_BATCH, &err);
        if (n == 0)
            break;
        for (unsigned i = 0; i < n; i++)
            generations[i] = msgs[i]->generation;
        for (unsigned i = 0; i < n; i++)
            if (subs[i]->in_use) /* an earlier callback may have freed it */
                subs[i]->callback(subs[i], msgs[i], subs[i]->userdata);
        /* What the callbacks did not retain goes back in one pass. A callback may have
         * released its message and taken another into the same handle: the generation tells
         * that handle is no longer the one delivered. */
        agn_lock(&ctx->lock);
        for (unsigned i = 0; i < n; i++)
            if (msgs[i]->in_use && msgs[i]->generation == generations[i] && !msgs[i]->retained)
                agn_message_free_handle(msgs[i]);
        agn_unlock(&ctx->lock);
        total += (int)n;
    } while (n == DISPATCH_BATCH);
    return total > 0 || err == 0 ? total : err;
}

int agn_dispatch_drained(struct agnocast_context *ctx, const struct epoll_event *ev, int n)
{
    /* A channel not drained keeps its wake-up: only the drained peers' sources need a look. */
    return nothing_new(ctx, NULL, ev, n) ? 0 : agn_dispatch(ctx, AGN_DISPATCH_LOOK);
}

AGNOCAST_EXPORT int agnocast_context_dispatch(struct agnocast_context *ctx)
{
    if (!ctx)
        return agn_fail(-EINVAL, "agnocast_context_dispatch: NULL context");
    if (agn_context_forked(ctx))
        return -ECHILD;
    return agn_dispatch(ctx, AGN_DISPATCH_DRAIN);
}

AGNOCAST_EXPORT int agnocast_subscription_new(struct agnocast_context *ctx, const char *topic,
                                              unsigned depth, unsigned flags,
                                              agnocast_callback_fn callback, void *userdata,
                                              struct agnocast_subscription **ret)
{
    struct agnocast_wire_endpoint req = {0};
    struct agnocast_subscription *sub = NULL;
    struct agnocast_frame reply;
    int r;

    agn_clear_error();
    if (!ctx || !ret)
        return agn_fail(-EINVAL, "agnocast_subscription_new: NULL argument");
    if (agn_context_forked(ctx))
        return -ECHILD;
    if (!topic || !agnocast_topic_name_valid(topic))
        return agn_fail(-EINVAL,
                        "invalid topic name \"%s\": a topic is \"/\" followed by segments of "
                        "letters, digits and \"_\" joined by \"/\" (e.g. /sensors/lidar)",
                        topic ? topic : "(null)");
    r = agn_qos_from(depth, flags,
                     AGNOCAST_TRANSIENT_LOCAL | AGNOCAST_RELIABLE | AGNOCAST_IGNORE_LOCAL,
                     &req.qos);
    if (r < 0)
        return r;

    agn_lock(&ctx->lock);
    for (int i = 0; i < AGN_MAX_SUBS; i++) {
        if (!ctx->subs[i].in_use) {
            sub = &ctx->subs[i];
            break;
        }
    }
    if (!sub) {
        agn_unlock(&ctx->lock);
        return agn_fail(-ENOSPC, "too many subscriptions in this process (limit %d)", AGN_MAX_SUBS);
    }
    memset(sub, 0, sizeof(*sub));
    sub->ctx = ctx;
    sub->in_use = true;
    sub->index = (uint32_t)(sub - ctx->subs);
    agnocast_topic_field_set(sub->topic, topic);
    sub->qos = req.qos;
    sub->callback = callback;
    sub->userdata = userdata;
    sub->created_ns = agn_now_ns();
    sub->stats = &ctx->segment.header->subs[sub->index];
    atomic_store_explicit(&sub->stats->received, 0, memory_order_relaxed);
    atomic_store_explicit(&sub->stats->missed, 0, memory_order_relaxed);
    atomic_store_explicit(&sub->stats->corrupt, 0, memory_order_relaxed);
    atomic_store_explicit(&sub->stats->unreachable, 0, memory_order_relaxed);
    atomic_store_explicit(&sub->stats->active, 1, memory_order_release);
    if (callback) {
        agn_peek_close(&ctx->peek);
        ctx->callback_subs[ctx->ncallback_subs++] = sub;
        agn_peek_open(&ctx->peek);
    }
    agn_unlock(&ctx->lock);

    req.index = sub->index;
    memcpy(req.topic, sub->topic, sizeof(req.topic));
    r = agn_broker_request(ctx, AGNOCAST_MSG_ADD_SUBSCRIPTION, &req, sizeof(req), NULL, 0, &reply);
    if (r < 0) {
        agn_lock(&ctx->lock);
        agn_subscription_remove_all(sub);
        agn_unlock(&ctx->lock);
        return r;
    }
    *ret = sub;
    return 0;
}

/* Under ctx->lock. */
void agn_subscription_remove_all(struct agnocast_subscription *sub)
{
    struct agnocast_context *ctx = sub->ctx;

    agn_peek_close(&ctx->peek);
    while (sub->nsources > 0) {
        struct agn_source *src = &sub->sources[--sub->nsources];
        if (src->peer)
            agn_peer_unref(sub->ctx, src->peer);
    }
    atomic_store_explicit(&sub->stats->active, 0, memory_order_release);
    for (unsigned i = 0; i < ctx->ncallback_subs; i++) {
        if (ctx->callback_subs[i] == sub) {
            /* Shifted, not swapped: callbacks keep running in creation order. */
            memmove(&ctx->callback_subs[i], &ctx->callback_subs[i + 1],
                    (--ctx->ncallback_subs - i) * sizeof(ctx->callback_subs[0]));
            break;
        }
    }
    sub->in_use = false;
    agn_peek_open(&ctx->peek);
}

AGNOCAST_EXPORT struct agnocast_subscription *
agnocast_subscription_free(struct agnocast_subscription *sub)
{
    struct agnocast_wire_endpoint_remove req = {0};
    struct agnocast_frame reply;

    if (!sub || agn_context_forked(sub->ctx))
        return NULL;
    req.index = sub->index;
    agn_broker_request(sub->ctx, AGNOCAST_MSG_REMOVE_SUBSCRIPTION, &req, sizeof(req), NULL, 0,
                       &reply);
    agn_lock(&sub->ctx->lock);
    agn_subscription_remove_all(sub);
    agn_unlock(&sub->ctx->lock);
    return NULL;
}

AGNOCAST_EXPORT uint64_t agnocast_subscription_received(struct agnocast_subscription *sub)
{
    /* In a fork child the counters (in the own segment) are not mapped. */
    return sub && !agn_context_forked(sub->ctx) ? atomic_load(&sub->stats->received) : 0;
}

AGNOCAST_EXPORT uint64_t agnocast_subscription_missed(struct agnocast_subscription *sub)
{
    return sub && !agn_context_forked(sub->ctx) ? atomic_load(&sub->stats->missed) : 0;
}

AGNOCAST_EXPORT uint64_t agnocast_subscription_unreachable(struct agnocast_subscription *sub)
{
    return sub && !agn_context_forked(sub->ctx) ? atomic_load(&sub->stats->unreachable) : 0;
}

AGNOCAST_EXPORT uint64_t agnocast_subscription_corrupt(struct agnocast_subscription *sub)
{
    return sub && !agn_context_forked(sub->ctx) ? atomic_load(&sub->stats->corrupt) : 0;
}

/* Under ctx->lock: the publishers it reads (a corrupt one is no longer read). */
static unsigned publisher_count(const void *obj)
{
    const struct agnocast_subscription *sub = obj;
    unsigned n = 0;

    for (unsigned i = 0; i < sub->nsources; i++)
        n += !sub->sources[i].corrupt;
    return n;
}

AGNOCAST_EXPORT int agnocast_subscription_publisher_count(struct agnocast_subscription *sub)
{
    unsigned n;

    if (!sub)
        return agn_fail(-EINVAL, "agnocast_subscription_publisher_count: NULL subscription");
    if (agn_context_forked(sub->ctx))
        return -ECHILD;
    agn_lock(&sub->ctx->lock);
    n = publisher_count(sub);
    agn_unlock(&sub->ctx->lock);
    return (int)n;
}

AGNOCAST_EXPORT int agnocast_subscription_wait_matched(struct agnocast_subscription *sub,
                                                       unsigned n, int timeout_ms)
{
    unsigned count;

    if (!sub)
        return agn_fail(-EINVAL, "agnocast_subscription_wait_matched: NULL subscription");
    if (agn_context_forked(sub->ctx))
        return -ECHILD;
    count = agn_wait_matched(sub->ctx, publisher_count, sub, n, timeout_ms);
    if (count >= n)
        return (int)count;
    return agn_fail(-ETIMEDOUT,
                    "subscription on %s reads %u publishers, not %u, after %d ms: check that "
                    "the publishers run, use the same topic and broker ($AGNOCAST_SOCKET), and "
                    "that agnocast_subscription_unreachable() is 0",
                    sub->topic, count, n, timeout_ms);
}
