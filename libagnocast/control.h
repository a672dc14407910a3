/* The control thread (reconnection, notices, occupied ranges). */
#ifndef AGNOCAST_CONTROL_H
#define AGNOCAST_CONTROL_H

#include <pthread.h>
#include <stdbool.h>

#include "agnocast-proto.h"

struct agnocast_context;

/* Its part of the context (ctx->control). */
struct agn_control {
    int epoll;        /* the broker socket and stop_pipe */
    int stop_pipe[2]; /* written once to end the thread */
    pthread_t thread;
    bool started;
};

/* Starts the control thread on a registered context (the broker socket becomes non-blocking:
 * from now on replies come through it). */
int agn_control_start(struct agnocast_context *ctx);
/* Stops and joins it; nothing if it never started. */
void agn_control_stop(struct agnocast_context *ctx);
/* The broker connection's notice callback (ctx->broker.on_notice): handles it under ctx->lock. */
void agn_control_on_notice(struct agnocast_context *ctx, const struct agnocast_frame *f, int *fds,
                           int nfds);

#endif
