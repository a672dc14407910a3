/* The own segment (a sealed memfd), its growth, and read-only mappings of peers' segments. */
#ifndef AGNOCAST_SEGMENT_H
#define AGNOCAST_SEGMENT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm-reader.h"

struct agnocast_context;
struct agn_peer;

/* Its part of the context (ctx->segment): the own segment and its growth areas. The allocator
 * over them is pool.c's (ctx->pool). */
struct agn_segment {
    struct agn_seg_header *header;
    size_t size;
    struct agn_shm_view view;   /* how peers read it: our own reads of it (holds, rings) too */
    int fd;                     /* its sealed memfd, handed to the broker again after a restart */
    int area_fd[AGN_MAX_AREAS]; /* the growth areas' memfds, -1 unused */
    uint64_t limit;             /* total bytes growth may reach ($MEMPOOL_MAX_SIZE) */
    pthread_mutex_t grow_lock;  /* one growth at a time */
};

/* Creates the own segment (a sealed memfd) mapped at base; the broker gets it separately. */
int agn_segment_create(struct agnocast_context *ctx, uint64_t base, uint64_t size);
void agn_segment_destroy(struct agnocast_context *ctx);
/* Maps a peer's segment, from the descriptor the broker handed over, read-only at its address
 * and checks its header. The descriptor stays the caller's. */
int agn_segment_map_peer(pid_t pid, uint64_t base, uint64_t size, int fd,
                         struct agn_shm_view *view);
void agn_segment_unmap_peer(uint64_t base, uint64_t size);
/* Pool growth: another range from the broker, its segment, published in our header, added to
 * the allocator. `need` bytes must fit. */
int agn_segment_grow(struct agnocast_context *ctx, size_t need);
/* Re-claims the growth areas after a broker restart. */
int agn_segment_reclaim_areas(struct agnocast_context *ctx);
/* Whether [addr, addr+len) lies in a growth area of the own segment or of a peer's: 1 yes
 * (mapped read-only first for a peer), 0 no, -EAGAIN in an area the peer declared whose
 * descriptor the broker has not handed over yet (ask again after the next notice). */
int agn_segment_area_check(struct agnocast_context *ctx, struct agn_peer *peer, uint64_t addr,
                           uint64_t len);

#endif
