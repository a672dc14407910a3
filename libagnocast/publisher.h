/* Publishers: the subscriber processes each one wakes (under ctx->lock). */
#ifndef AGNOCAST_PUBLISHER_H
#define AGNOCAST_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct agnocast_publisher;
struct agn_peer;

/* ---- publisher.c / subscription.c ---- */
void agn_publisher_add_target(struct agnocast_publisher *pub, struct agn_peer *peer,
                              uint32_t sub_index);
void agn_publisher_remove_target(struct agnocast_publisher *pub, pid_t pid, uint32_t sub_index,
                                 bool all);

#endif
