/* The connection to agnocastd: requests and their replies; frames that are no reply (notices)
 * go up through ctx->broker.on_notice, set by the control thread's module. */
#ifndef AGNOCAST_BROKER_H
#define AGNOCAST_BROKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agnocast-proto.h"

struct agnocast_context;

/* Its part of the context (ctx->broker). Requests go one at a time (request_lock); the control
 * thread reads every frame and hands a reply over under reply_lock. */
struct agn_broker_conn {
    char socket_path[108];
    int sock;
    /* What the connection does with a frame that is no reply (a notice): set by context.c to
     * the control module's handler, so the connection never calls up into notice handling. */
    void (*on_notice)(struct agnocast_context *ctx, const struct agnocast_frame *f, int *fds,
                      int nfds);
    pthread_mutex_t request_lock;
    pthread_mutex_t reply_lock;
    pthread_cond_t reply_cond;
    uint32_t next_request_id;
    uint32_t waiting_id;
    bool reply_ready;
    union agnocast_frame_buffer reply;
    size_t reply_len;
    /* The frame the control thread reads (here, not in thread-local storage: the library's
     * static TLS must stay small enough for dlopen, see log.c). */
    union agnocast_frame_buffer in;
    _Atomic bool lost; /* the connection broke: requests fail until the control thread is back */
};

int agn_broker_connect(struct agnocast_context *ctx);
/* Sends a request and waits for its reply; an ERROR reply becomes its code (and last error). */
int agn_broker_request(struct agnocast_context *ctx, uint16_t kind, const void *payload, size_t len,
                       const int *fds, int nfds, struct agnocast_frame *reply);
/* Handles one frame from the broker on the control thread; returns -errno when it is gone. */
int agn_broker_read(struct agnocast_context *ctx);
/* REGISTER_PROCESS; the first one also learns our pid as the broker knows it (ctx->pid). */
int agn_broker_register(struct agnocast_context *ctx, uint64_t pool_size, uint64_t want_base,
                        uint32_t flags, uint64_t *base, uint64_t *size);
/* ATTACH_SEGMENT: hands the broker the memfd of area `area` (0: the segment) at base/size. */
int agn_broker_attach(struct agnocast_context *ctx, uint32_t area, uint64_t base, uint64_t size,
                      int fd);
/* Control thread: tells the broker of peers' ranges found occupied here (no reply awaited). */
void agn_broker_report_occupied(struct agnocast_context *ctx);

#endif
