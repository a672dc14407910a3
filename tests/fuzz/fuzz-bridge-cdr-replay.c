/*
 * Runs the bridge's CDR fuzz target without libFuzzer: over every corpus file given (files or
 * directories), then with `--random N SEED` over N seeded mutations of them that aim at what a
 * CDR reader gets wrong (lengths, alignment, the encapsulation, the end), so the default test
 * run exercises it on malformed samples too. Each input is run from a heap copy of its exact
 * size, so a read past its end is one AddressSanitizer sees.
 */
#include "fuzz-bridge-cdr.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cdr.h"
#include "fuzz-corpus.h"

#define INPUT_MAX 8192

static struct fuzz_corpus corpus = {.prog = "fuzz-bridge-cdr-replay", .input_max = INPUT_MAX};
static unsigned long verdicts[2]; /* accepted, refused */

static void run(const unsigned char *data, size_t size)
{
    unsigned char *exact = malloc(size ? size : 1);
    struct cdr_bytes s;

    if (!exact) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: out of memory\n");
        exit(2);
    }
    memcpy(exact, data, size);
    LLVMFuzzerTestOneInput(exact, size);
    verdicts[cdr_bytes_parse(exact, size, &s) == 0 ? 0 : 1]++;
    free(exact);
}

/* Lengths around the edges of a small sample and of 32 bits. */
static const uint32_t interesting[] = {
    0,  1,  2,  3,  4,          5,           7,           8,           15,
    16, 63, 64, 65, 0x7fffffff, 0x80000000u, 0xfffffffcu, 0xfffffffdu, 0xffffffffu};
/* Encapsulation identifiers: the four accepted and their neighbours. */
static const unsigned char ids[] = {0x00, 0x01, 0x02, 0x03, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x11};

static void put_u32(unsigned char *buf, size_t size, size_t at, uint32_t v, int little)
{
    if (at + 4 > size)
        return;
    for (int i = 0; i < 4; i++)
        buf[at + (little ? i : 3 - i)] = (unsigned char)(v >> (8 * i));
}

/* One to four random edits; the result stays within INPUT_MAX. */
static size_t mutate(unsigned char *buf, size_t size)
{
    int edits = 1 + (int)fuzz_below(4);

    for (int e = 0; e < edits; e++) {
        switch (fuzz_below(10)) {
        case 0:
            if (size)
                buf[fuzz_below(size)] ^= (unsigned char)(1u << fuzz_below(8));
            break;
        case 1:
            if (size)
                buf[fuzz_below(size)] = (unsigned char)fuzz_rng();
            break;
        case 2: /* a length: the fields that hold one sit at multiples of 4 */
        case 3:
            if (size >= 8)
                put_u32(buf, size, 4 + 4 * fuzz_below((size - 4) / 4),
                        interesting[fuzz_below(sizeof(interesting) / sizeof(interesting[0]))],
                        size >= 2 && (buf[1] & 1));
            break;
        case 4:
            if (size >= 2)
                buf[1] = ids[fuzz_below(sizeof(ids))];
            break;
        case 5:
            size = fuzz_below(size + 1);
            break;
        case 6: { /* more bytes at the end: padding or left over */
            size_t add = 1 + fuzz_below(fuzz_below(2) ? 4 : 64);
            if (size + add > INPUT_MAX)
                add = INPUT_MAX - size;
            for (size_t i = 0; i < add; i++)
                buf[size + i] = fuzz_below(2) ? 0 : (unsigned char)fuzz_rng();
            size += add;
            break;
        }
        case 7: /* bytes out of the middle: every later field off its alignment */
            if (size > 8) {
                size_t at = 4 + fuzz_below(size - 4), n = 1 + fuzz_below(4);
                if (n > size - at)
                    n = size - at;
                memmove(buf + at, buf + at + n, size - at - n);
                size -= n;
            }
            break;
        case 8: /* bytes into the middle */
            if (size > 4 && size + 4 <= INPUT_MAX) {
                size_t at = 4 + fuzz_below(size - 4), n = 1 + fuzz_below(4);
                memmove(buf + at + n, buf + at, size - at);
                memset(buf + at, 0, n);
                size += n;
            }
            break;
        case 9: { /* splice in bytes of another input at the same offset */
            const struct fuzz_input *o = fuzz_corpus_pick(&corpus);
            size_t from = fuzz_below(o->size), len = fuzz_below(o->size - from + 1);
            if (from + len > size)
                len = from < size ? size - from : 0;
            memcpy(buf + from, o->data + from, len);
            break;
        }
        }
    }
    return size;
}

int main(int argc, char **argv)
{
    unsigned long corpus_ok;
    unsigned char *buf;
    int rc = fuzz_corpus_load(&corpus, argc, argv, "tests/bridge/golden");

    if (rc != 0)
        return rc;
    for (size_t i = 0; i < corpus.n; i++)
        run(corpus.inputs[i].data, corpus.inputs[i].size);
    corpus_ok = verdicts[0];
    printf("corpus: %zu files, %lu accepted\n", corpus.n, corpus_ok);
    if (corpus_ok == 0) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: no corpus file is a valid sample\n");
        return 1;
    }

    buf = malloc(INPUT_MAX);
    if (!buf)
        return 2;
    memset(verdicts, 0, sizeof(verdicts));
    for (unsigned long r = 0; r < corpus.rounds; r++) {
        const struct fuzz_input *in = fuzz_corpus_pick(&corpus);
        memcpy(buf, in->data, in->size);
        run(buf, mutate(buf, in->size));
    }
    if (corpus.rounds) {
        printf("mutations: %lu, %lu accepted, %lu refused\n", corpus.rounds, verdicts[0],
               verdicts[1]);
        /* Mutations that never pass or never fail test nothing. */
        if (verdicts[0] == 0 || verdicts[1] == 0) {
            fprintf(stderr, "fuzz-bridge-cdr-replay: mutations reached only one verdict: the "
                            "mutator is broken\n");
            return 1;
        }
    }
    free(buf);
    fuzz_corpus_free(&corpus);
    return 0;
}
