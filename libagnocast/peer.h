/* Other processes: their mapped segments and growth areas, holds, lifetime (under ctx->lock). */
#ifndef AGNOCAST_PEER_H
#define AGNOCAST_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast-proto.h"

struct agnocast_context;
struct agn_peer;
struct agn_shm_view;

/* The peer record for `pid`; on first use its segment is mapped from `fd` (the caller's). */
struct agn_peer *agn_peer_get(struct agnocast_context *ctx, pid_t pid, uint64_t base, uint64_t size,
                              int fd, int *err);
/* A growth area of a peer handed over by the broker; takes `fd`. */
void agn_peer_area_added(struct agnocast_context *ctx, const struct agnocast_wire_segment *a,
                         int fd);
struct agn_peer *agn_peer_find(struct agnocast_context *ctx, pid_t pid);
void agn_peer_accept(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_peer_unref(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_peer_maybe_release(struct agnocast_context *ctx, struct agn_peer *peer);
void agn_peer_gone(struct agnocast_context *ctx, struct agn_peer *peer);
/* The segments whose hold tables a reclaim pass scans: ours and every accepted peer's (the
 * processes we honour), at most AGN_MAX_PEERS + 1, gathered once per pass rather than walking
 * every peer slot per retired message. */
unsigned agn_peer_hold_tables(struct agnocast_context *ctx, const struct agn_shm_view **views);

#endif
