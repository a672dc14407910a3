/*
 * Runs the fuzz target without libFuzzer: over every corpus file given (files or
 * directories), then with `--random N SEED` over N seeded mutations of them, so the default
 * test run exercises the decoder on malformed input too. Prints what the decoder made of them.
 */
#include "fuzz-proto.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agnocast-proto.h"
#include "fuzz-corpus.h"

#define INPUT_MAX (AGNOCAST_PROTO_FRAME_MAX + 64)

static struct fuzz_corpus corpus = {.prog = "fuzz-proto-replay", .input_max = INPUT_MAX};
static unsigned long verdicts[3]; /* accepted, other version, rejected */

static void run(const unsigned char *data, size_t size)
{
    LLVMFuzzerTestOneInput(data, size);
    struct agnocast_frame f;
    int rc = agnocast_proto_decode(data, size, &f);
    verdicts[rc == 0 ? 0 : rc == -EPROTONOSUPPORT ? 1 : 2]++;
}

static const uint32_t interesting[] = {
    0,
    1,
    2,
    7,
    8,
    16,
    63,
    64,
    65,
    127,
    128,
    129,
    255,
    256,
    1023,
    1024,
    1025,
    0x7fffffff,
    0x80000000u,
    0xffffffffu,
    AGNOCAST_PROTO_MAGIC,
    AGNOCAST_PROTO_FRAME_MAX,
};
static const unsigned char interesting_bytes[] = {0,   1,   2,   0x7f, 0x80, 0xff,
                                                  '/', '_', 'a', '0',  ' ',  '-'};

static void put_u32(unsigned char *buf, size_t size, size_t at, uint32_t v)
{
    if (at + 4 <= size)
        memcpy(buf + at, &v, 4);
}

/* One to four random edits; the result stays within INPUT_MAX. */
static size_t mutate(unsigned char *buf, size_t size)
{
    int edits = 1 + (int)fuzz_below(4);
    for (int e = 0; e < edits; e++) {
        switch (fuzz_below(11)) {
        case 0:
            if (size)
                buf[fuzz_below(size)] ^= (unsigned char)(1u << fuzz_below(8));
            break;
        case 1:
            if (size)
                buf[fuzz_below(size)] = (unsigned char)fuzz_rng();
            break;
        case 2:
            if (size)
                buf[fuzz_below(size)] = interesting_bytes[fuzz_below(sizeof(interesting_bytes))];
            break;
        case 3:
            if (size >= 4)
                put_u32(buf, size, fuzz_below(size - 3),
                        interesting[fuzz_below(sizeof(interesting) / sizeof(interesting[0]))]);
            break;
        case 4: /* the list count, right after the header and the list total */
            put_u32(buf, size, 20,
                    interesting[fuzz_below(sizeof(interesting) / sizeof(interesting[0]))]);
            break;
        case 5:
            size = fuzz_below(size + 1);
            break;
        case 6: {
            size_t add = 1 + fuzz_below(300);
            if (size + add > INPUT_MAX)
                add = INPUT_MAX - size;
            for (size_t i = 0; i < add; i++)
                buf[size + i] = fuzz_below(2) ? 0 : (unsigned char)fuzz_rng();
            size += add;
            break;
        }
        case 7: { /* splice in bytes of another input at the same offset */
            const struct fuzz_input *o = fuzz_corpus_pick(&corpus);
            size_t from = fuzz_below(o->size), len = fuzz_below(o->size - from + 1);
            if (from + len > size)
                len = from < size ? size - from : 0;
            memcpy(buf + from, o->data + from, len);
            break;
        }
        case 8:
            if (size) {
                size_t from = fuzz_below(size);
                memset(buf + from, 0, fuzz_below(size - from + 1));
            }
            break;
        case 9: /* a kind of another frame */
            if (size >= 8) {
                const struct fuzz_input *o = fuzz_corpus_pick(&corpus);
                if (o->size >= 8)
                    memcpy(buf + 6, o->data + 6, 2);
            }
            break;
        case 10:
            if (size)
                buf[fuzz_below(size)] = (unsigned char)(buf[fuzz_below(size)] + 1);
            break;
        }
    }
    /* Rarely, a frame around the size limit (mostly zeros: cheap to build, rare to be right). */
    if (fuzz_below(2000) == 0) {
        size_t big = AGNOCAST_PROTO_FRAME_MAX - 8 + fuzz_below(16);
        if (big > size)
            memset(buf + size, 0, big - size);
        size = big;
    }
    /* Most of the time agree with the length field, or the decoder stops at the header. */
    if (size >= 16 && fuzz_below(4) != 0)
        put_u32(buf, size, 8, (uint32_t)(size - 16));
    return size;
}

int main(int argc, char **argv)
{
    int rc = fuzz_corpus_load(&corpus, argc, argv, "tests/fuzz/corpus/proto");

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < corpus.n; i++)
        run(corpus.inputs[i].data, corpus.inputs[i].size);
    unsigned long corpus_ok = verdicts[0];
    printf("corpus: %zu files, %lu accepted\n", corpus.n, corpus_ok);

    unsigned char *buf = malloc(INPUT_MAX);
    if (!buf)
        return 2;
    memset(verdicts, 0, sizeof(verdicts));
    for (unsigned long r = 0; r < corpus.rounds; r++) {
        const struct fuzz_input *in = fuzz_corpus_pick(&corpus);
        memcpy(buf, in->data, in->size);
        size_t size = mutate(buf, in->size);
        run(buf, size);
    }
    if (corpus.rounds) {
        printf("mutations: %lu, %lu accepted, %lu other version, %lu rejected\n", corpus.rounds,
               verdicts[0], verdicts[1], verdicts[2]);
        /* Mutations that never get past the header, or never fail, test nothing. */
        if (verdicts[0] == 0 || verdicts[2] == 0) {
            fprintf(stderr, "fuzz-replay: mutations reached only one verdict: the mutator is "
                            "broken\n");
            return 1;
        }
    }
    free(buf);
    fuzz_corpus_free(&corpus);
    return 0;
}
