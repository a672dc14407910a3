/* The forged-segment target's seed corpus (fuzz-segment-replay --make-seeds DIR). */
#include "fuzz-segment.h"

static unsigned char seed[4096];
static size_t seed_len;

static void s8(unsigned v)
{
    if (seed_len < sizeof(seed))
        seed[seed_len++] = (unsigned char)v;
}

static void s16(unsigned v)
{
    s8(v & 0xff);
    s8(v >> 8);
}

static void s32(uint32_t v)
{
    s16(v & 0xffff);
    s16(v >> 16);
}

static void sv(unsigned mode, uint64_t raw)
{
    s8(mode);
    s32((uint32_t)raw);
    s32((uint32_t)(raw >> 32));
}

static void begin(unsigned pages, unsigned setup, unsigned depth)
{
    seed_len = 0;
    s8(pages - 1);
    s8(setup);
    s16(depth - 1);
    s8(3);
}

/* Both subscriptions take publisher 0 (and 1) of the peer. */
static void add_both(void)
{
    s8(OP_ADD), s8(0), s8(0);
    s8(OP_ADD), s8(1), s8(0);
    s8(OP_ADD), s8(1), s8(1);
}

static void publish(unsigned idx, unsigned where, unsigned flags, unsigned size)
{
    s8(OP_PUBLISH), s8(idx), s8(where), s8(flags), s16(size);
}

static void take(unsigned flags)
{
    s8(OP_TAKE), s8(flags);
}

static void dispatch(unsigned n, uint32_t keep)
{
    s8(OP_DISPATCH), s8(n), s32(keep), s8(1);
}

int fuzz_make_seeds(int (*emit)(const char *name, const unsigned char *bytes, size_t len))
{
    int r = 0;

    /* An honest publisher: a few messages, taken, dispatched, kept, asked about. */
    begin(8, 0, 8);
    add_both();
    for (int i = 0; i < 3; i++)
        publish(0, 0, 0, 100);
    publish(1, 0, 0, 32);
    take(1 | 2);
    take(1);
    dispatch(0, 1);
    s8(OP_CONTAINS), s8(0), sv(3, 1), sv(1, 16);
    s8(OP_CONTAINS), s8(0), sv(2, 0), sv(8, 4096);
    s8(OP_RELEASE), s8(0);
    publish(0, 0, 1, 64); /* entry only: the fast path */
    take(1 | 2 | 4);
    dispatch(0, 0);
    r |= emit("honest", seed, seed_len);

    /* A wild head: jumps past 2^40, then near 2^64, then back down. */
    begin(8, 0, 16);
    add_both();
    publish(0, 0, 0, 100);
    take(1);
    s8(OP_HEAD), s8(0), s8(1), sv(5, 2);
    take(1);
    dispatch(0, 0);
    s8(OP_HEAD), s8(0), s8(0), sv(6, 5);
    take(1);
    s8(OP_HEAD), s8(0), s8(0), sv(1, 3);
    publish(0, 0, 0, 8);
    take(1);
    dispatch(0, 0);
    r |= emit("wild-head", seed, seed_len);

    /* The slot changes after the subscriber validated it: a shrunk ring, moved away, gone. */
    begin(8, 0, 1024);
    s8(OP_SLOT), s8(2), s8(1), s16(0x8000 | 1024), s8(1), sv(9, 16);
    s8(OP_ADD), s8(1), s8(2);
    publish(2, 0, 0, 50);
    publish(2, 0, 0, 50);
    s8(OP_SLOT), s8(2), s8(1), s16(0), s8(0), sv(8, 0xffffffffull);
    publish(2, 0, 0, 50);
    take(1 | 2);
    s8(OP_SLOT), s8(2), s8(0), s16(0x8000), s8(0), sv(6, 0);
    take(1);
    s8(OP_ADD), s8(0), s8(2);
    dispatch(0, 0);
    r |= emit("shrunk-ring", seed, seed_len);

    /* Growth areas: one handed over and used, one pointing at the segment, one at our own
     * memory, one declared and never handed over (given up after the wait). */
    begin(8, 0, 8);
    add_both();
    s8(OP_AREA), s8(0), sv(4, fuzz_area_value(0, 0)), sv(0, 4 * 4096);
    s8(OP_AREA_GIVE), s8(0), s8(3), s8(0), s8(0);
    s8(OP_NAREAS), s32(1);
    publish(0, 1 + 8 * 0, 0, 64);
    take(1 | 2);
    s8(OP_CONTAINS), s8(0), sv(4, fuzz_area_value(0, 200)), sv(1, 8);
    s8(OP_AREA), s8(1), sv(2, 4096), sv(8, 8192);
    s8(OP_AREA), s8(2), sv(10, 0), sv(0, 65536);
    s8(OP_AREA_GIVE), s8(1), s8(1), s8(0), s8(0);
    s8(OP_NAREAS), s32(3);
    publish(0, 1 + 8 * 1, 0, 64);
    publish(0, 5, 0, 64);
    take(1);
    s8(OP_AREA_GIVE), s8(2), s8(2), s8(0), s8(0);
    take(1);
    s8(OP_CLOCK), s32(0);
    take(1);
    dispatch(0, 0xff);
    r |= emit("areas", seed, seed_len);

    /* Area descriptors of every wrong kind, and notices that disagree with the header. */
    begin(4, 0, 4);
    add_both();
    for (unsigned k = 0; k < 8; k++) {
        s8(OP_AREA), s8(k), sv(4, fuzz_area_value(k, 0)), sv(0, 2 * 4096);
        s8(OP_AREA_GIVE), s8(k), s8(1), s8(k), s8(k == 2 ? 1 : k == 5 ? 2 : 0);
    }
    s8(OP_NAREAS), s32(8);
    for (unsigned k = 0; k < 8; k++)
        publish(0, 1 + 8 * k, 0, 16);
    take(1 | 2);
    take(1 | 2);
    dispatch(0, 0);
    r |= emit("area-descriptors", seed, seed_len);

    /* The segment's descriptor is not sealed / too short / missing / a pipe. */
    begin(4, 1, 4);
    add_both();
    take(1);
    r |= emit("unsealed", seed, seed_len);
    begin(4, 2, 4);
    add_both();
    take(1);
    r |= emit("short", seed, seed_len);
    begin(4, 0, 4);
    s8(OP_ADD), s8(1 | (1 << 3)), s8(0);
    s8(OP_ADD), s8(1 | (2 << 3) | 0x40), s8(0);
    s8(OP_ADD), s8(1 | 2), s8(0);
    s8(OP_ADD), s8(1 | 4), s8(0);
    s8(OP_ADD), s8(1), s8(200);
    take(1);
    r |= emit("bad-descriptors", seed, seed_len);

    /* The peer writes while our callbacks run: new messages, a head jump, gone. */
    begin(8, 0x40, 4);
    add_both();
    for (int i = 0; i < 4; i++)
        publish(0, 0, 0, 20);
    dispatch(5, 0x5);
    publish(0, 0, 0, 20);
    publish(0, 2, 0, 20);
    s8(OP_HEAD), s8(0), s8(1), sv(5, 0x10);
    s8(OP_GONE), s8(0);
    s8(OP_ADD), s8(0), s8(0);
    take(1 | 2);
    dispatch(0, 0);
    r |= emit("write-during-dispatch", seed, seed_len);

    /* Not accepted yet, then accepted; messages at odd places; a torn and a stale entry. */
    begin(8, 0, 8);
    s8(OP_ACCEPT), s8(0), s8(0);
    add_both();
    publish(0, 3, 0, 16);
    take(1);
    s8(OP_ACCEPT), s8(255), s8(1);
    for (unsigned w = 0; w < 8; w++)
        publish(0, w, 0, 300);
    publish(0, 0, 4, 8);
    publish(0, 0, 8, 8);
    publish(0, 0, 2, 8);
    for (int i = 0; i < 10; i++)
        take(1 | 2);
    dispatch(0, 0);
    r |= emit("odd-messages", seed, seed_len);

    /* `missed` near 2^64, then a jump and lost messages. */
    begin(4, 0x20, 2);
    seed[4] = 1;
    add_both();
    for (int i = 0; i < 6; i++)
        publish(0, 0, 0, 8);
    take(1);
    s8(OP_HEAD), s8(0), s8(1), sv(5, 0xff);
    publish(0, 0, 8, 8);
    take(1);
    publish(0, 0, 4, 8);
    take(1);
    dispatch(0, 0);
    r |= emit("missed-high", seed, seed_len);

    /* The peer subscribes to us: our reclaim scans its hold table. */
    begin(8, 0x80, 8);
    s8(OP_SUBSCRIBER), s8(1), s8(0);
    s8(OP_SUBSCRIBER), s8(0), s8(3);
    s8(OP_ADD), s8(0x20), s8(0);
    for (int i = 0; i < 20; i++) {
        s8(OP_LOCAL_PUBLISH), s16(100);
        if (i % 3 == 0)
            s8(OP_HOLDS), s16(i), s8(0), sv(1, 0);
    }
    s8(OP_HOLDS), s16(0), s8(2), sv(0, 0xffffffffull);
    for (int i = 0; i < 20; i++)
        s8(OP_LOCAL_PUBLISH), s16(100);
    dispatch(0, 0);
    s8(OP_GONE), s8(0);
    s8(OP_LOCAL_PUBLISH), s16(100);
    r |= emit("holds", seed, seed_len);

    /* A one-page segment, and a raw image of garbage. */
    begin(1, 0, 1);
    add_both();
    publish(0, 0, 0, 8);
    take(1);
    r |= emit("one-page", seed, seed_len);
    begin(2, 4, 1);
    s16(64);
    for (int i = 0; i < 64; i++)
        s8(i * 37);
    add_both();
    take(1);
    r |= emit("raw-garbage", seed, seed_len);
    return r;
}
