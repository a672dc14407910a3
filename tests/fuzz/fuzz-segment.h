/* The forged-segment fuzz target's input format, shared with its seeds. */
#ifndef FUZZ_SEGMENT_H
#define FUZZ_SEGMENT_H

#include "fuzz-reader.h"

/*
 * Fuzz target: a forged publisher segment, written by the peer between (and during) the
 * subscriber's reads. The input is a small program (format below); fuzz-reader.h says what is
 * checked after every step.
 *
 * Input:
 *   byte 0      segment size: (1 + b % 32) pages
 *   byte 1      bits 0-1: the memfd: 1 unsealed, 2 one page short, else sealed and whole;
 *               bit 2: a raw image follows and is laid over the segment from offset 0 instead
 *               of a well-formed header (two publishers: index 0, depth 8, transient-local;
 *               index 1, depth 1; our pid accepted);
 *               bits 3-7: the subscriptions (FUZZ_BEGIN_* shifted by 3): transient-local,
 *               ignore-local, `missed` starting near 2^64, made "now" (volatile cut-off),
 *               the local publisher's ADD_PUBLISHER in flight
 *   bytes 2-3   the subscriptions' depth: 1 + v % 1024 (little-endian)
 *   byte 4      how far below 2^64 `missed` starts
 *   [raw image: a 2-byte length, then that many bytes]
 *   then operations, each an opcode byte (modulo OP_COUNT) and fixed operands, until the
 *   input ends. A value operand V is a mode byte and 8 raw bytes (value_of: raw, small, near
 *   the segment, in its heap, near a growth area, around 2^40, near 2^64, wrapping past the
 *   segment base, ...). The opcodes are the enum below; a DISPATCH lets the next n operations
 *   run inside its callbacks, one per delivered message.
 */

enum op {
    OP_POKE64,        /* u16 word, V: the peer writes a word anywhere in its segment */
    OP_POKE32,        /* u16 index, u32 */
    OP_SLOT,          /* u8 index, u8 active, u16 depth, u8 transient_local, V ring_off */
    OP_HEAD,          /* u8 index, u8 how (set, add, subtract, +1), V */
    OP_ENTRY,         /* u8 index, u16 entry, V seq, V addr, V size, V timestamp */
    OP_PUBLISH,       /* u8 index, u8 where, u8 flags, u16 size: a seqlock publish */
    OP_AREA,          /* u8 i, V base, V size: the header's growth-area table */
    OP_NAREAS,        /* u32 */
    OP_AREA_GIVE,     /* u8 j, u8 pages, u8 descriptor, u8 notice: NOTICE_AREA_ADDED */
    OP_ACCEPT,        /* u8 k, u8 on: accepted_pids[k] = our pid or 0 */
    OP_ADD,           /* u8 flags, u8 index: NOTICE_PUBLISHER_ADDED */
    OP_REMOVE,        /* u8 flags, u8 index: NOTICE_PUBLISHER_REMOVED */
    OP_TAKE,          /* u8 flags: subscription, keep, latest */
    OP_DISPATCH,      /* u8 n, u32 keep mask, u8 drain */
    OP_RELEASE,       /* u8 k */
    OP_CONTAINS,      /* u8 k, V ptr, V len */
    OP_CLOCK,         /* u32 ms (0: past the growth-area wait) */
    OP_GONE,          /* u8 who: NOTICE_PROCESS_GONE */
    OP_SUBSCRIBER,    /* u8 flags, u8 index: NOTICE_SUBSCRIBER_ADDED (the peer subscribes to us) */
    OP_LOCAL_PUBLISH, /* u16 size: our publisher publishes (a reclaim scans the peer's holds) */
    OP_HOLDS,         /* u16 k, u8 what, V: the peer's hold table */
    OP_FILL,          /* u16 offset, u16 length, u8 byte */
    OP_COUNT
};

/* A value operand (mode 4) for `off` bytes into growth area j. */
static inline uint64_t fuzz_area_value(unsigned j, uint64_t off)
{
    return j | (off + 4096) << 4;
}

#endif
