/* Wake channels: one pipe per publisher and subscriber process pair (docs/design.md, "Wake-up"). */
#ifndef AGNOCAST_WAKE_H
#define AGNOCAST_WAKE_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/types.h>

struct agnocast_context;
struct agn_peer;

/* Its part of the context (ctx->wake); the peers' channels live in their struct agn_peer. */
struct agn_wake_set {
    int doorbell;  /* own eventfd: wakes from this process only (never handed out) */
    int stop_fd;   /* eventfd in the set: agnocast_context_stop(); the spin that stops empties it */
    int set;       /* epoll: the doorbell, stop_fd and every wake_rx; agnocast_context_fd() */
    uint32_t gens; /* last wake_gen given out */
    bool no_nowait; /* the kernel refused RWF_NOWAIT on a pipe: drain through FIONREAD */
};

/* Wakes a subscriber process (peer) or, for NULL, this one; never blocks. */
void agn_wake(struct agnocast_context *ctx, struct agn_peer *peer);
/* After a publish (and a seq_cst fence, see ring.c): wakes it unless it busy-polls. */
void agn_wake_for_message(struct agnocast_context *ctx, struct agn_peer *peer);
/* The tag of the stop eventfd in the wake set (wake.c names the others). */
#define AGN_WAKE_TAG_STOP (1ull << 63)
/* Empties the wake channels that are ready (`ready` from an epoll_wait on the wake set, or
 * NULL: look first). Returns 0 or a negative errno. */
int agn_wake_drain(struct agnocast_context *ctx, const struct epoll_event *ready, int nready);
/* Whether events from the wake set (`n` of them) name `peer`'s channel to us, or for NULL
 * the doorbell (which says nothing of whose message is there). */
bool agn_wake_events_name(const struct agnocast_context *ctx, const struct agn_peer *peer,
                          const struct epoll_event *ev, int n);
/* A peer's wake channel to us arrived (NOTICE_WAKE_ADDED); takes fd. Under ctx->lock. */
void agn_wake_added(struct agnocast_context *ctx, pid_t pid, int fd);
/* Opens our wake channel to subscriber process `peer` once. Under ctx->lock. */
void agn_wake_open(struct agnocast_context *ctx, struct agn_peer *peer);

#endif
