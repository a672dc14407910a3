/* Subscriptions: the publishers each one reads in place, take and dispatch. */
#ifndef AGNOCAST_SUBSCRIPTION_H
#define AGNOCAST_SUBSCRIPTION_H

#include <stdbool.h>
#include <stdint.h>
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
/* Dispatches what arrived to the callback subscriptions (drain: empty the wake set first). */
int agn_dispatch(struct agnocast_context *ctx, bool drain);

#endif
