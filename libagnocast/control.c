/* The control thread: reads the broker connection (notices), reconnects after a broker
 * restart with a bounded back-off and registers everything again, reports ranges found
 * occupied. It sleeps while there is nothing to do: no timer wakes an idle process. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "broker.h"
#include "context.h"
#include "log.h"
#include "notice.h"
#include "segment.h"
#include "util.h"
#include "wake.h"

#define RECONNECT_FIRST_MS 50
#define RECONNECT_MAX_MS   2000

/* Peers that died while no broker could tell us: their holds must stop pinning our memory.
 * Their ids are the broker's pids: kill() can only check them when we share its PID namespace
 * (our id is our getpid()); in a container, dead peers are forgotten when the broker says so. */
static void forget_dead_peers(struct agnocast_context *ctx)
{
    if (ctx->pid != ctx->os_pid)
        return;
    agn_lock(&ctx->lock);
    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        struct agn_peer *p = &ctx->peers[i];
        if (p->in_use && !p->gone && kill(p->pid, 0) < 0 && errno == ESRCH)
            agn_notice_process_gone(ctx, p->pid);
    }
    agn_unlock(&ctx->lock);
}

/* ADD_PUBLISHER or ADD_SUBSCRIPTION again for an endpoint the broker forgot. */
static int readd(struct agnocast_context *ctx, uint16_t kind, uint32_t index,
                 const struct agnocast_wire_qos *qos, const char *topic)
{
    struct agnocast_wire_endpoint req = {.index = index, .qos = *qos};
    struct agnocast_frame reply;

    memcpy(req.topic, topic, sizeof(req.topic));
    return agn_broker_request(ctx, kind, &req, sizeof(req), NULL, 0, &reply);
}

static int readd_endpoints(struct agnocast_context *ctx, unsigned *npubs, unsigned *nsubs)
{
    int r;

    for (int i = 0; i < AGN_MAX_PUBS; i++) {
        struct agnocast_publisher *pub = &ctx->pubs[i];
        if (!pub->in_use)
            continue;
        /* Its SUBSCRIBER_ADDED notices may come before the reply (see notice.c). */
        agn_lock(&ctx->lock);
        ctx->pending_pub = pub;
        agn_unlock(&ctx->lock);
        r = readd(ctx, AGNOCAST_MSG_ADD_PUBLISHER, pub->index, &pub->qos, pub->topic);
        agn_lock(&ctx->lock);
        ctx->pending_pub = NULL;
        agn_unlock(&ctx->lock);
        if (r < 0)
            return r;
        (*npubs)++;
    }
    for (int i = 0; i < AGN_MAX_SUBS; i++) {
        struct agnocast_subscription *sub = &ctx->subs[i];
        if (!sub->in_use)
            continue;
        if ((r = readd(ctx, AGNOCAST_MSG_ADD_SUBSCRIPTION, sub->index, &sub->qos, sub->topic)) < 0)
            return r;
        (*nsubs)++;
    }
    return 0;
}

static int reconnect(struct agnocast_context *ctx)
{
    uint64_t base = 0, size = 0;
    unsigned npubs = 0, nsubs = 0;
    int r;

    forget_dead_peers(ctx);
    if ((r = agn_broker_connect(ctx)) < 0)
        return r;
    /* Clients are the source of truth: ask for the very range we live in. */
    r = agn_broker_register(ctx, ctx->segment.size, (uint64_t)(uintptr_t)ctx->segment.header, 0,
                            &base, &size);
    if (r == 0 && (base != (uint64_t)(uintptr_t)ctx->segment.header || size != ctx->segment.size))
        r = agn_fail(-EADDRINUSE, "the restarted broker gave another range (0x%llx)",
                     (unsigned long long)base);
    if (r == 0)
        r = agn_broker_attach(ctx, 0, base, size, ctx->segment.fd);
    if (r == 0)
        r = agn_segment_reclaim_areas(ctx);
    if (r == 0)
        r = readd_endpoints(ctx, &npubs, &nsubs);
    if (r < 0) {
        close(ctx->broker.sock);
        ctx->broker.sock = -1;
        return r;
    }
    fcntl(ctx->broker.sock, F_SETFL, fcntl(ctx->broker.sock, F_GETFL) | O_NONBLOCK);
    agn_lock(&ctx->broker.reply_lock);
    ctx->broker.lost = false;
    agn_unlock(&ctx->broker.reply_lock);
    agn_log(AGNOCAST_LOG_INFO,
            "reconnected to the broker at %s: re-registered the pool, %u publishers, %u "
            "subscriptions",
            ctx->broker.socket_path, npubs, nsubs);
    return 0;
}

static int add_epoll(struct agnocast_context *ctx, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

    return epoll_ctl(ctx->control.epoll, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Broker gone: the message path goes on; try to get it back with a bounded back-off. */
static void try_reconnect(struct agnocast_context *ctx, int *backoff_ms, uint64_t *next_try)
{
    int r;

    if (agn_now_ns() < *next_try)
        return;
    r = reconnect(ctx);
    if (r == 0 && add_epoll(ctx, ctx->broker.sock) == 0) {
        *backoff_ms = 0;
        return;
    }
    agn_log(AGNOCAST_LOG_DEBUG, "reconnect failed: %s", agnocast_last_error());
    *backoff_ms = *backoff_ms ? *backoff_ms * 2 : RECONNECT_FIRST_MS;
    if (*backoff_ms > RECONNECT_MAX_MS)
        *backoff_ms = RECONNECT_MAX_MS;
    *next_try = agn_now_ns() + (uint64_t)*backoff_ms * 1000000ull;
}

static void *control_thread(void *arg)
{
    struct agnocast_context *ctx = arg;
    struct epoll_event ev[4];
    int backoff_ms = 0; /* > 0 while the broker is away */
    uint64_t next_try = 0;

    for (;;) {
        /* Asleep unless the broker is away: retired messages wait for the publish path or a
         * loan that needs their memory (ring.c), not for a timer on the process's CPU. */
        int n = epoll_wait(ctx->control.epoll, ev, 4, backoff_ms > 0 ? backoff_ms : -1);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == ctx->control.stop_pipe[0])
                return NULL;
            if (fd == ctx->broker.sock && backoff_ms == 0) {
                if (agn_broker_read(ctx) < 0) {
                    epoll_ctl(ctx->control.epoll, EPOLL_CTL_DEL, ctx->broker.sock, NULL);
                    backoff_ms = RECONNECT_FIRST_MS;
                    next_try = agn_now_ns() + RECONNECT_FIRST_MS * 1000000ull;
                }
            }
        }
        if (backoff_ms > 0)
            try_reconnect(ctx, &backoff_ms, &next_try);
        else if (ctx->noccupied)
            agn_broker_report_occupied(ctx);
    }
    return NULL;
}

void agn_control_on_notice(struct agnocast_context *ctx, const struct agnocast_frame *f, int *fds,
                           int nfds)
{
    agn_lock(&ctx->lock);
    agn_notice_handle(ctx, f, fds, nfds);
    /* Matches may have changed: the context fd turns readable for a program that watches the
     * counts from its own loop (before the waiters go, so one that returns finds it so), and
     * waiters count again. */
    agn_wake(ctx, NULL);
    pthread_cond_broadcast(&ctx->matched_cond);
    agn_unlock(&ctx->lock);
}

int agn_control_start(struct agnocast_context *ctx)
{
    int r;

    if ((r = add_epoll(ctx, ctx->broker.sock)) < 0 ||
        (r = add_epoll(ctx, ctx->control.stop_pipe[0])) < 0)
        return agn_fail(r, "epoll: %s", strerror(-r));
    fcntl(ctx->broker.sock, F_SETFL, fcntl(ctx->broker.sock, F_GETFL) | O_NONBLOCK);
    r = pthread_create(&ctx->control.thread, NULL, control_thread, ctx);
    if (r != 0)
        return agn_fail(-r, "cannot start the control thread: %s", strerror(r));
    ctx->control.started = true;
    return 0;
}

void agn_control_stop(struct agnocast_context *ctx)
{
    if (!ctx->control.started)
        return;
    (void)!write(ctx->control.stop_pipe[1], "x", 1);
    pthread_join(ctx->control.thread, NULL);
    ctx->control.started = false;
}
