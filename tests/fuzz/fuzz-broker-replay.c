/*
 * Runs the broker fuzz target without libFuzzer: over every corpus file given, then with
 * `--random N SEED` over N seeded mutations that respect the record format (so most frames
 * still reach the handlers). `--make-seeds DIR` writes the seed corpus (tests/fuzz/corpus/broker).
 */
#include "fuzz-broker.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agnocast-proto.h"
#include "fuzz-corpus.h"

#define INPUT_MAX   (1u << 18)
#define RECORDS_MAX 64

static struct fuzz_corpus corpus = {.prog = "fuzz-broker-replay", .input_max = INPUT_MAX};

/* An input being built or mutated. */
struct builder {
    unsigned char data[INPUT_MAX];
    size_t size;
};

static void add_record(struct builder *b, unsigned flags, const void *frame, size_t len)
{
    if (b->size + 3 + len > sizeof(b->data))
        return;
    b->data[b->size++] = (unsigned char)flags;
    b->data[b->size++] = (unsigned char)(len & 0xff);
    b->data[b->size++] = (unsigned char)(len >> 8);
    memcpy(b->data + b->size, frame, len);
    b->size += len;
}

static void add_frame(struct builder *b, unsigned flags, uint16_t kind, uint32_t id,
                      const void *payload, size_t len)
{
    static union agnocast_frame_buffer buf;
    ssize_t n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), kind, id, payload, len);

    if (n > 0)
        add_record(b, flags, buf.bytes, (size_t)n);
}

static void hello(struct builder *b, unsigned slot)
{
    struct agnocast_wire_hello h = {0};
    add_frame(b, slot, AGNOCAST_MSG_HELLO, 1, &h, sizeof(h));
}

static void reg(struct builder *b, unsigned slot, uint64_t pool, uint64_t want, unsigned fdflags)
{
    struct agnocast_wire_register r = {.pool_size = pool, .want_base = want};
    add_frame(b, slot | fdflags, AGNOCAST_MSG_REGISTER_PROCESS, 2, &r, sizeof(r));
}

/* ATTACH_SEGMENT of area `area` with a memfd (the target fixes the range to the real one). */
static void attach(struct builder *b, unsigned slot, uint32_t area)
{
    struct agnocast_wire_segment seg = {.area = area, .base = 0x40000000000ull, .size = 4096};
    add_frame(b, slot | FUZZ_BROKER_SEGMENT, AGNOCAST_MSG_ATTACH_SEGMENT, 2, &seg, sizeof(seg));
}

static void endpoint(struct builder *b, unsigned slot, uint16_t kind, uint32_t index,
                     const char *topic)
{
    struct agnocast_wire_endpoint e;
    memset(&e, 0, sizeof(e));
    e.index = index;
    e.qos.depth = 4;
    e.qos.reliability = AGNOCAST_RELIABILITY_RELIABLE;
    agnocast_topic_field_set(e.topic, topic);
    add_frame(b, slot, kind, 3 + index, &e, sizeof(e));
}

static void removal(struct builder *b, unsigned slot, uint16_t kind, uint32_t index)
{
    struct agnocast_wire_endpoint_remove r = {.index = index};
    add_frame(b, slot, kind, 50, &r, sizeof(r));
}

static void query(struct builder *b, unsigned slot, uint16_t kind, const char *topic)
{
    struct agnocast_wire_query q;
    memset(&q, 0, sizeof(q));
    if (topic != NULL)
        agnocast_topic_field_set(q.topic, topic);
    add_frame(b, slot, kind, 60, &q, sizeof(q));
}

static int write_seed(const char *dir, const char *name, const struct builder *b)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(b->data, 1, b->size, f) != b->size) {
        fprintf(stderr, "fuzz-broker-replay: cannot write %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f);
}

static int make_seeds(const char *dir)
{
    static struct builder b;
    int rc = 0;

    /* A publisher and a subscriber meet, are queried, and leave. */
    b.size = 0;
    hello(&b, 0);
    reg(&b, 0, 0, 0, 0);
    attach(&b, 0, 0);
    endpoint(&b, 0, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/chatter");
    hello(&b, 1);
    reg(&b, 1, 4096, 0, 0);
    attach(&b, 1, 0);
    endpoint(&b, 1, AGNOCAST_MSG_ADD_SUBSCRIPTION, 0, "/chatter");
    {
        /* The publisher grows: its subscriber is handed the new area. */
        struct agnocast_wire_register g = {.pool_size = 1u << 20, .flags = AGNOCAST_REGISTER_GROW};
        add_frame(&b, 0, AGNOCAST_MSG_REGISTER_PROCESS, 9, &g, sizeof(g));
        attach(&b, 0, 1);
        struct agnocast_wire_segment_query q = {.area = 1};
        add_frame(&b, 2, AGNOCAST_MSG_HELLO, 1, &(struct agnocast_wire_hello){0},
                  sizeof(struct agnocast_wire_hello));
        q.pid = 0x7fff0000u; /* no such process */
        add_frame(&b, 2, AGNOCAST_MSG_GET_SEGMENT, 10, &q, sizeof(q));
    }
    query(&b, 2, AGNOCAST_MSG_LIST_TOPICS, NULL);
    query(&b, 2, AGNOCAST_MSG_TOPIC_INFO, "/chatter");
    query(&b, 2, AGNOCAST_MSG_LIST_PROCESSES, NULL);
    add_frame(&b, 2, AGNOCAST_MSG_STATS, 61, NULL, 0);
    removal(&b, 1, AGNOCAST_MSG_REMOVE_SUBSCRIPTION, 0);
    removal(&b, 0, AGNOCAST_MSG_REMOVE_PUBLISHER, 0);
    rc |= write_seed(dir, "pub-sub-query", &b);

    /* Subscriptions first, several processes, then the publisher. */
    b.size = 0;
    for (unsigned s = 0; s < 3; s++) {
        hello(&b, s);
        reg(&b, s, 0, 0, 0);
        if (s != 1)
            attach(&b, s, 0); /* slot 1 never attaches: its endpoints are refused */
        endpoint(&b, s, AGNOCAST_MSG_ADD_SUBSCRIPTION, s, "/a/b");
    }
    endpoint(&b, 2, AGNOCAST_MSG_ADD_PUBLISHER, 7, "/a/b");
    {
        /* The publisher hands wake channels: to a subscriber, to itself, to nobody, and a
         * descriptor that is not a datagram socket. */
        struct agnocast_wire_notice_process w = {.pid = FUZZ_BROKER_PID_BASE};
        add_frame(&b, 2 | FUZZ_BROKER_WAKE, AGNOCAST_MSG_HAND_WAKE, 20, &w, sizeof(w));
        w.pid = FUZZ_BROKER_PID_BASE + 2;
        add_frame(&b, 2 | FUZZ_BROKER_WAKE, AGNOCAST_MSG_HAND_WAKE, 21, &w, sizeof(w));
        w.pid = 77;
        add_frame(&b, 2 | FUZZ_BROKER_WAKE, AGNOCAST_MSG_HAND_WAKE, 22, &w, sizeof(w));
        w.pid = FUZZ_BROKER_PID_BASE;
        add_frame(&b, 2 | FUZZ_BROKER_EVENTFD, AGNOCAST_MSG_HAND_WAKE, 23, &w, sizeof(w));
    }
    endpoint(&b, 0, AGNOCAST_MSG_ADD_PUBLISHER, 1, "/a/b");
    removal(&b, 1, AGNOCAST_MSG_REMOVE_SUBSCRIPTION, 1);
    rc |= write_seed(dir, "subs-then-pubs", &b);

    /* Registration errors: no fd, a non-eventfd, both, too large, want_base, twice. */
    b.size = 0;
    hello(&b, 0);
    endpoint(&b, 0, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/early");
    reg(&b, 0, 0, 0, FUZZ_BROKER_EVENTFD);
    reg(&b, 0, 0, 0, FUZZ_BROKER_EXTRA_FD);
    reg(&b, 0, 0, 0, FUZZ_BROKER_EVENTFD | FUZZ_BROKER_EXTRA_FD);
    reg(&b, 0, 1ull << 40, 0, 0);
    reg(&b, 0, 0, 0x40000000000ull + (3u << 20), 0);
    reg(&b, 0, 0, 0x40000000000ull, 0);
    reg(&b, 0, 0, 0, 0);
    hello(&b, 3); /* the same process as slot 0 */
    reg(&b, 3, 0, 0, 0);
    hello(&b, 1);
    reg(&b, 1, 0, 0x40000000000ull, 0);
    reg(&b, 1, 64u << 20, 0, 0);
    hello(&b, 1);
    rc |= write_seed(dir, "register-errors", &b);

    /* Limits: more endpoints and topics than the target's broker allows. */
    b.size = 0;
    hello(&b, 0);
    reg(&b, 0, 0, 0, 0);
    attach(&b, 0, 0);
    for (unsigned i = 0; i < 10; i++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "/t%u", i);
        endpoint(&b, 0, i % 2 ? AGNOCAST_MSG_ADD_SUBSCRIPTION : AGNOCAST_MSG_ADD_PUBLISHER, i,
                 topic);
    }
    endpoint(&b, 0, AGNOCAST_MSG_ADD_PUBLISHER, 0, "/dup");
    removal(&b, 0, AGNOCAST_MSG_REMOVE_PUBLISHER, 99);
    rc |= write_seed(dir, "limits", &b);

    /* Hostile frames: garbage, a reply kind, another version, a request before HELLO. */
    b.size = 0;
    query(&b, 1, AGNOCAST_MSG_LIST_TOPICS, NULL);
    hello(&b, 0);
    add_record(&b, 0, "\x01\x02 not a frame", 15);
    hello(&b, 2);
    {
        struct agnocast_wire_ok ok = {0};
        add_frame(&b, 2, AGNOCAST_MSG_OK, 9, &ok, sizeof(ok));
    }
    {
        static union agnocast_frame_buffer buf;
        struct agnocast_wire_hello h = {0};
        ssize_t n = agnocast_proto_encode(buf.bytes, sizeof(buf.bytes), AGNOCAST_MSG_HELLO, 4, &h,
                                          sizeof(h));
        buf.bytes[4] = AGNOCAST_PROTO_VERSION + 1;
        add_record(&b, 3, buf.bytes, (size_t)n);
    }
    rc |= write_seed(dir, "hostile", &b);
    return rc == 0 ? 0 : 1;
}

/* A parsed input: the records' offsets in `data`. */
struct records {
    size_t off[RECORDS_MAX]; /* of the flags byte */
    size_t len[RECORDS_MAX]; /* of the frame */
    size_t n;
};

static void parse(const unsigned char *data, size_t size, struct records *r)
{
    size_t pos = 0;

    r->n = 0;
    while (pos + 3 <= size && r->n < RECORDS_MAX) {
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        if (len > size - pos - 3)
            len = size - pos - 3;
        r->off[r->n] = pos;
        r->len[r->n] = len;
        r->n++;
        pos += 3 + len;
    }
}

static const uint32_t interesting[] = {0,
                                       1,
                                       2,
                                       0x7f,
                                       0x80,
                                       0xff,
                                       0x100,
                                       0x7fffffff,
                                       0x80000000u,
                                       0xffffffffu,
                                       AGNOCAST_PROTO_MAGIC,
                                       1024,
                                       1025,
                                       290,
                                       900};

/* Edits one record of `in` (or the record list) into `out`. */
static void mutate(const struct fuzz_input *in, struct builder *out)
{
    static unsigned char frame[AGNOCAST_PROTO_FRAME_MAX + 8];
    struct records r;
    size_t pick, len;
    unsigned flags;
    int op = (int)fuzz_below(10);

    parse(in->data, in->size, &r);
    out->size = 0;
    if (r.n == 0) {
        add_record(out, (unsigned)fuzz_below(16), in->data, in->size);
        return;
    }
    pick = fuzz_below(r.n);
    for (size_t i = 0; i < r.n; i++) {
        const unsigned char *rec = in->data + r.off[i];
        if (i != pick) {
            add_record(out, rec[0], rec + 3, r.len[i]);
            continue;
        }
        flags = rec[0];
        len = r.len[i];
        memcpy(frame, rec + 3, len);
        switch (op) {
        case 0: /* a bit */
            if (len)
                frame[fuzz_below(len)] ^= (unsigned char)(1u << fuzz_below(8));
            break;
        case 1: /* a word */
            if (len >= 4) {
                uint32_t v = interesting[fuzz_below(sizeof(interesting) / sizeof(interesting[0]))];
                memcpy(frame + fuzz_below(len - 3), &v, 4);
            }
            break;
        case 2: /* cut short */
            len = fuzz_below(len + 1);
            break;
        case 3: /* the record goes away */
            continue;
        case 4: /* the record twice */
            add_record(out, flags, frame, len);
            break;
        case 5: /* another connection, other descriptors */
            flags = (unsigned)fuzz_below(16);
            break;
        case 6: /* another kind */
            if (len >= 8) {
                const uint16_t *kinds;
                size_t n = agnocast_proto_kinds(&kinds);
                memcpy(frame + 6, &kinds[fuzz_below(n)], 2);
            }
            break;
        case 7: /* a topic character or a byte of the payload */
            if (len > 16)
                frame[16 + fuzz_below(len - 16)] = "/a_0\0\xff"[fuzz_below(6)];
            break;
        case 8: /* a record of another input inserted before this one */
        {
            const struct fuzz_input *o = fuzz_corpus_pick(&corpus);
            struct records ro;
            parse(o->data, o->size, &ro);
            if (ro.n) {
                size_t k = fuzz_below(ro.n);
                add_record(out, o->data[ro.off[k]], o->data + ro.off[k] + 3, ro.len[k]);
            }
            break;
        }
        case 9: /* bytes appended */
        {
            size_t add = 1 + fuzz_below(64);
            for (size_t k = 0; k < add; k++)
                frame[len + k] = (unsigned char)fuzz_rng();
            len += add;
            break;
        }
        }
        /* Most of the time agree with the length field, or the decoder stops at the header. */
        if (len >= 16 && fuzz_below(4) != 0) {
            uint32_t plen = (uint32_t)(len - 16);
            memcpy(frame + 8, &plen, 4);
        }
        add_record(out, flags, frame, len);
    }
}

int main(int argc, char **argv)
{
    static struct builder b;

    int rc;

    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--make-seeds") == 0)
            return make_seeds(argv[i + 1]);
    if ((rc = fuzz_corpus_load(&corpus, argc, argv, "tests/fuzz/corpus/broker")) != 0)
        return rc;
    for (size_t i = 0; i < corpus.n; i++)
        LLVMFuzzerTestOneInput(corpus.inputs[i].data, corpus.inputs[i].size);
    printf("corpus: %zu files, %lu frames: %lu replies, %lu errors, %lu notices, %lu drops\n",
           corpus.n, fuzz_broker_counts.frames, fuzz_broker_counts.replies_ok,
           fuzz_broker_counts.replies_error, fuzz_broker_counts.notices, fuzz_broker_counts.drops);
    if (fuzz_broker_counts.notices == 0 || fuzz_broker_counts.replies_error == 0 ||
        fuzz_broker_counts.drops == 0) {
        fprintf(stderr, "fuzz-broker-replay: the corpus does not reach notices, errors and drops: "
                        "regenerate it with --make-seeds\n");
        return 1;
    }
    memset(&fuzz_broker_counts, 0, sizeof(fuzz_broker_counts));
    for (unsigned long r = 0; r < corpus.rounds; r++) {
        mutate(fuzz_corpus_pick(&corpus), &b);
        LLVMFuzzerTestOneInput(b.data, b.size);
    }
    if (corpus.rounds) {
        printf("mutations: %lu, %lu frames: %lu replies, %lu errors, %lu notices, %lu drops\n",
               corpus.rounds, fuzz_broker_counts.frames, fuzz_broker_counts.replies_ok,
               fuzz_broker_counts.replies_error, fuzz_broker_counts.notices,
               fuzz_broker_counts.drops);
        /* Mutations that never reach a handler, or never fail, test nothing. */
        if (fuzz_broker_counts.replies_ok == 0 || fuzz_broker_counts.drops == 0) {
            fprintf(stderr, "fuzz-broker-replay: mutations reached only one outcome: the "
                            "mutator is broken\n");
            return 1;
        }
    }
    fuzz_corpus_free(&corpus);
    return 0;
}
