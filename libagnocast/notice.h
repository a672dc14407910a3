/* Control notices from the broker (the only writer of our socket). */
#ifndef AGNOCAST_NOTICE_H
#define AGNOCAST_NOTICE_H

#include <sys/types.h>

#include "agnocast-proto.h"

struct agnocast_context;

/* Handles one notice under ctx->lock; takes the descriptors (fds[i] set to -1 when kept). */
void agn_notice_handle(struct agnocast_context *ctx, const struct agnocast_frame *frame, int *fds,
                       int nfds);
/* A peer process is gone (notice, or found dead while the broker was away). Under ctx->lock. */
void agn_notice_process_gone(struct agnocast_context *ctx, pid_t pid);

#endif
