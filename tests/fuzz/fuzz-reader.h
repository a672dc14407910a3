/* The library reader's fuzz targets (forged segments, forged notices): their world and checks. */
#ifndef FUZZ_READER_H
#define FUZZ_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker.h"
#include "context.h"
#include "control.h"
#include "loan.h"
#include "log.h"
#include "message.h"
#include "notice.h"
#include "peer.h"
#include "pool.h"
#include "publisher.h"
#include "ring.h"
#include "segment.h"
#include "subscription.h"
#include "util.h"
#include "wake.h"

/*
 * Both targets drive the library's own code (compiled into the binary, context.c left out)
 * against a hand-built context with no broker and no control thread:
 *
 *   - the own segment is a real sealed memfd at FUZZ_OWN_BASE, with one local publisher
 *     (index 0, "/fuzz/a") and two subscriptions: 0 on "/fuzz/a" with a callback (dispatch),
 *     1 on "/fuzz/b" without (take);
 *   - the peer, process FUZZ_PEER_PID, has a forged segment: a memfd whose writable view the
 *     target keeps (the peer's pen), mapped by the library itself, read-only, at FUZZ_SEG_BASE
 *     when a notice hands it over, with PROT_NONE guards of FUZZ_GUARD bytes on both sides;
 *     growth areas are memfds for the addresses FUZZ_AREA_BASE + j * FUZZ_AREA_STRIDE, guarded
 *     the same way, handed over by NOTICE_AREA_ADDED;
 *   - ctx->broker.sock is one end of a socket pair whose other end the target drains (HAND_WAKE and
 *     its descriptor); ctx->broker.lost is set, so a request (growth) fails at once instead of
 *     waiting for a reply;
 *   - agn_now_ns() is a clock the input moves (context.c is not compiled in), so a growth area
 *     that never comes is given up after AGN_AREA_WAIT_NS without waiting two seconds.
 *
 * Checked after every call: nothing crashed or read outside what is mapped (the guards fault);
 * every delivered message's [data, data + size) lies in the forged segment, the own segment
 * or a growth area the library mapped (and is readable); sequence numbers of one source only
 * grow; a volatile subscription gets nothing stamped before it existed; the counters never go
 * down (so never wrap; `missed` may start near 2^64 to reach its edge), and received + missed
 * never exceed what the publishers' own numbers allow (each source instance at most the
 * largest word ever written into the segments); a call finishes within FUZZ_CALL_CPU_NS of CPU;
 * a descriptor the library was given and did not keep is still open; whatever the library
 * mapped is what the checks should allow (a sealed memfd of the right size whose header
 * agrees; never a descriptor it must refuse). After each input: no peer, hold or message
 * handle left, the same number of open descriptors and of mappings as before it, and nothing
 * left mapped at the forged addresses.
 *
 * The peer writes between library calls and from inside dispatch callbacks, never in the
 * middle of one library function: a field read twice within a call is not caught this way
 * (which is why the reader reads each field it validates once).
 */

#define FUZZ_SELF_PID       1000
#define FUZZ_PEER_PID       4242
#define FUZZ_OWN_BASE       0x2f0000000000ull
#define FUZZ_OWN_SIZE       (256u * 1024u)
#define FUZZ_SEG_BASE       0x300000000000ull
#define FUZZ_AREA_BASE      0x310000000000ull
#define FUZZ_AREA_STRIDE    0x100000000ull
#define FUZZ_GUARD          (1u << 20)
#define FUZZ_SEG_PAGES_MAX  32u
#define FUZZ_AREA_PAGES_MAX 16u
#define FUZZ_HELD_MAX       1100u /* more than AGN_MAX_HOLDS: the limit is reached, too */
#define FUZZ_CALL_CPU_NS    1000000000ull
/* Written into the segment's reserved_areas field and at the start of every growth area the
 * target means to be mappable; a different mark on a mapped object means the library mapped a
 * descriptor it should have refused. */
#define FUZZ_MARK_GOOD 0x600du
#define FUZZ_MARK_BAD  0x0badu

/* What the memfd of the forged segment or an area is like. */
enum fuzz_fd_kind {
    FUZZ_FD_GOOD,     /* sealed, its full size */
    FUZZ_FD_UNSEALED, /* not sealed against shrinking */
    FUZZ_FD_SHORT,    /* sealed, one page short of what the notice says */
};

struct fuzz_mem {
    int fd;              /* -1: none */
    unsigned char *pen;  /* the peer's writable view (the forged segment only) */
    uint64_t base, size; /* where the library maps it; the size notices announce */
    enum fuzz_fd_kind kind;
    bool guarded;
};

struct fuzz_world {
    struct agnocast_context *ctx;
    int broker_end;
    struct fuzz_mem seg;
    struct fuzz_mem area[AGN_MAX_AREAS];
    uint64_t heap_off; /* what the forged header says (for the input's relative values) */
    uint64_t now;
    struct agnocast_subscription *sub[2];
    struct agnocast_publisher *pub;
    void *last_local; /* the local publisher's last message */
    struct agnocast_message *held[FUZZ_HELD_MAX];
    unsigned nheld;
    /* The dispatch callback: which deliveries it retains (bit i: the i-th, mod 32), and a hook
     * the segment target uses to let the peer write while callbacks run. */
    uint32_t keep_mask;
    unsigned delivered_in_dispatch;
    void (*in_callback)(void);
    /* bookkeeping for the checks */
    uint64_t max_word;                /* largest 64-bit word ever in a forged segment or ring */
    unsigned instances[2];            /* sources each subscription may have had */
    uint64_t start[2][4], prev[2][4]; /* received, missed, corrupt, unreachable */
    uint64_t last_seq[2][2][AGN_MAX_PUBS]; /* [sub][own?][index] */
    int fds_before, maps_before;
};

extern struct fuzz_world fuzz;

/* What the runs did, for the replay driver's sanity check and summary. */
struct fuzz_reader_counts {
    unsigned long inputs, calls, delivered, mapped_peers, mapped_areas, refused_maps, corrupt,
        notices, warnings;
};
extern struct fuzz_reader_counts fuzz_counts;

/* Once per process. */
void fuzz_world_init(void);
/* Starts an input: resets the own segment, the local publisher and the subscriptions.
 * `depth`: the subscriptions' depth (1..1024); `flags`: FUZZ_BEGIN_*. */
#define FUZZ_BEGIN_TRANSIENT_LOCAL 0x1u /* subscriptions are transient-local */
#define FUZZ_BEGIN_IGNORE_LOCAL    0x2u
#define FUZZ_BEGIN_MISSED_HIGH     0x4u  /* `missed` starts near 2^64 */
#define FUZZ_BEGIN_CREATED_NOW     0x8u  /* subscriptions made now, not at time 0 */
#define FUZZ_BEGIN_PENDING_PUB     0x10u /* the local publisher's ADD_PUBLISHER is in flight */
void fuzz_world_begin(unsigned depth, unsigned flags, uint64_t missed_below_max);
/* Ends an input: releases everything, says the peer is gone, checks nothing is left. */
void fuzz_world_end(void);

/* The forged segment: a memfd of `size` bytes for FUZZ_SEG_BASE, guarded. `raw` (may be NULL)
 * is laid over it instead of a well-formed header. */
void fuzz_seg_create(uint64_t size, enum fuzz_fd_kind kind, const unsigned char *raw,
                     size_t raw_len);
/* The peer writes its memory (offsets from the segment base; out-of-range writes are cut). */
void fuzz_seg_write(uint64_t off, const void *src, size_t len);
uint64_t fuzz_seg_read64(uint64_t off);
/* What the segment holds now is where the peer starts, not a later write of its own. */
void fuzz_seg_baseline(void);
/* Growth area j's memfd (created on first use); returns it. */
struct fuzz_mem *fuzz_area_get(unsigned j, uint64_t size, enum fuzz_fd_kind kind);
/* A memfd copy of the forged segment of another kind (the notice target's wrong descriptors). */
int fuzz_seg_copy_fd(enum fuzz_fd_kind kind);

/* Hands the library a notice as the control thread does (under ctx->lock); checks what it did
 * with the descriptors and the mappings. The frame is built from `payload`. */
void fuzz_notice(uint16_t kind, const void *payload, size_t len, int *fds, int nfds);
/* The same for a raw frame: decoded first, handed over only if accepted with request id 0. */
void fuzz_frame(const unsigned char *frame, size_t len, int *fds, int nfds);

/* Reader calls, each checked. */
void fuzz_take(unsigned sub, bool latest, bool keep);
void fuzz_dispatch(bool drain);
void fuzz_release(unsigned k);
void fuzz_contains(unsigned k, uint64_t ptr, uint64_t len);
void fuzz_local_publish(size_t size);

/* Aborts with a message: an invariant does not hold. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Notes a value the peer wrote that the reader may take for a message number. */
void fuzz_note_word(uint64_t v);

/* Shared by fuzz-reader-world.c and fuzz-reader-calls.c. */
bool fuzz_page_mapped(uint64_t addr);
void fuzz_stats(unsigned sub, uint64_t out[4]);
bool fuzz_seg_poked(void);
unsigned fuzz_handles_in_use(void);
void fuzz_drain_broker(void);
void fuzz_on_message(struct agnocast_subscription *sub, struct agnocast_message *msg,
                     void *userdata);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each target's seeds, written by the replay driver's --make-seeds. */
struct fuzz_seed {
    const char *name;
    size_t len;
    const unsigned char *bytes;
};
/* Calls emit() for each seed; emit returns 0 or -1. */
int fuzz_make_seeds(int (*emit)(const char *name, const unsigned char *bytes, size_t len));
extern const char fuzz_target_name[];

#endif
