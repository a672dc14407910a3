/* Received messages: holding one safely and releasing it. */
#ifndef AGNOCAST_MESSAGE_H
#define AGNOCAST_MESSAGE_H

#include <stdint.h>

struct agnocast_context;
struct agnocast_message;
struct agnocast_subscription;
struct agn_source;

/* Reads message `seq` of a source, holds it and fills a handle: 1 got it, 0 gone, <0 error. */
int agn_message_acquire(struct agnocast_context *ctx, struct agnocast_subscription *sub,
                        struct agn_source *src, uint64_t seq, struct agnocast_message **ret);
void agn_message_free_handle(struct agnocast_message *msg);

#endif
