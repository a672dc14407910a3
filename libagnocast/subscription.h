/* Subscriptions: the publishers each one reads in place, take and dispatch. */
#ifndef AGNOCAST_SUBSCRIPTION_H
#define AGNOCAST_SUBSCRIPTION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "agnocast-proto.h"

struct agnocast_context;
struct agnocast_subscription;

/* `fd`: the publisher's segment (the caller's), -1 for the own process. */
void agn_subscription_add_source(struct agnocast_subscription *sub, pid_t pid,
                                 const struct agnocast_wire_notice_endpoint *n, int fd);
void agn_subscription_remove_source(struct agnocast_subscription *sub, pid_t pid, uint32_t index,
                                    bool all);
void agn_subscription_remove_all(struct agnocast_subscription *sub);
/* How dispatch starts: what it knows of what is there decides the cheapest first step. */
enum agn_dispatch_mode {
    AGN_DISPATCH_DRAIN, /* empty the ready wake channels, then look (nothing known) */
    AGN_DISPATCH_LOOK,  /* look under the lock (just woken: something is likely there) */
    AGN_DISPATCH_PEEK,  /* look without the lock first (busy polling; the look after a drain) */
};
/* Dispatches what arrived to the callback subscriptions. */
int agn_dispatch(struct agnocast_context *ctx, enum agn_dispatch_mode mode);
/* The look after draining the channels `ev` names (epoll_wait's `n` events), which took the
 * wake-ups of whatever their publishers published since the last look: dispatches if a source
 * of those peers (of any peer, if the doorbell is among them) may have something new. */
int agn_dispatch_drained(struct agnocast_context *ctx, const struct epoll_event *ev, int n);

#endif
