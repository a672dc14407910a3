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

#define INPUT_MAX 8192

struct input {
    unsigned char *data;
    size_t size;
};

static struct input *inputs;
static size_t n_inputs;
static unsigned long verdicts[2]; /* accepted, refused */
static uint64_t rng_state;

static uint64_t rng(void)
{
    /* xorshift64*: tiny, seeded, the same sequence everywhere */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

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

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    struct input *grown;
    size_t n;

    if (!f) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(INPUT_MAX);
    n = buf ? fread(buf, 1, INPUT_MAX, f) : 0;
    fclose(f);
    grown = realloc(inputs, (n_inputs + 1) * sizeof(*inputs));
    if (!buf || !grown) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: out of memory reading %s\n", path);
        free(buf);
        return -1;
    }
    inputs = grown;
    inputs[n_inputs].data = buf;
    inputs[n_inputs].size = n;
    n_inputs++;
    return 0;
}

static int add_path(const char *path)
{
    struct dirent **names;
    struct stat st;
    int n, rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: %s: %s (give corpus files or directories)\n", path,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(path);
    n = scandir(path, &names, NULL, alphasort); /* sorted: the same order every run */
    if (n < 0) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: cannot list %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(full, &st) == 0 && S_ISREG(st.st_mode) && rc == 0)
            rc = add_file(full);
        free(names[i]);
    }
    free(names);
    return rc;
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
    int edits = 1 + (int)below(4);

    for (int e = 0; e < edits; e++) {
        switch (below(10)) {
        case 0:
            if (size)
                buf[below(size)] ^= (unsigned char)(1u << below(8));
            break;
        case 1:
            if (size)
                buf[below(size)] = (unsigned char)rng();
            break;
        case 2: /* a length: the fields that hold one sit at multiples of 4 */
        case 3:
            if (size >= 8)
                put_u32(buf, size, 4 + 4 * below((size - 4) / 4),
                        interesting[below(sizeof(interesting) / sizeof(interesting[0]))],
                        size >= 2 && (buf[1] & 1));
            break;
        case 4:
            if (size >= 2)
                buf[1] = ids[below(sizeof(ids))];
            break;
        case 5:
            size = below(size + 1);
            break;
        case 6: { /* more bytes at the end: padding or left over */
            size_t add = 1 + below(below(2) ? 4 : 64);
            if (size + add > INPUT_MAX)
                add = INPUT_MAX - size;
            for (size_t i = 0; i < add; i++)
                buf[size + i] = below(2) ? 0 : (unsigned char)rng();
            size += add;
            break;
        }
        case 7: /* bytes out of the middle: every later field off its alignment */
            if (size > 8) {
                size_t at = 4 + below(size - 4), n = 1 + below(4);
                if (n > size - at)
                    n = size - at;
                memmove(buf + at, buf + at + n, size - at - n);
                size -= n;
            }
            break;
        case 8: /* bytes into the middle */
            if (size > 4 && size + 4 <= INPUT_MAX) {
                size_t at = 4 + below(size - 4), n = 1 + below(4);
                memmove(buf + at + n, buf + at, size - at);
                memset(buf + at, 0, n);
                size += n;
            }
            break;
        case 9: { /* splice in bytes of another input at the same offset */
            const struct input *o = &inputs[below(n_inputs)];
            size_t from = below(o->size), len = below(o->size - from + 1);
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
    unsigned long rounds = 0, corpus_ok;
    unsigned char *buf;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--random") == 0) {
            if (i + 2 >= argc) {
                fprintf(stderr, "usage: %s [--random N SEED] CORPUS...\n", argv[0]);
                return 2;
            }
            rounds = strtoul(argv[i + 1], NULL, 0);
            rng_state = strtoull(argv[i + 2], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
            i += 2;
        } else if (add_path(argv[i]) < 0) {
            return 2;
        }
    }
    if (n_inputs == 0) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: no corpus files: give tests/bridge/golden\n");
        return 2;
    }
    for (size_t i = 0; i < n_inputs; i++)
        run(inputs[i].data, inputs[i].size);
    corpus_ok = verdicts[0];
    printf("corpus: %zu files, %lu accepted\n", n_inputs, corpus_ok);
    if (corpus_ok == 0) {
        fprintf(stderr, "fuzz-bridge-cdr-replay: no corpus file is a valid sample\n");
        return 1;
    }

    buf = malloc(INPUT_MAX);
    if (!buf)
        return 2;
    memset(verdicts, 0, sizeof(verdicts));
    for (unsigned long r = 0; r < rounds; r++) {
        const struct input *in = &inputs[below(n_inputs)];
        memcpy(buf, in->data, in->size);
        run(buf, mutate(buf, in->size));
    }
    if (rounds) {
        printf("mutations: %lu, %lu accepted, %lu refused\n", rounds, verdicts[0], verdicts[1]);
        /* Mutations that never pass or never fail test nothing. */
        if (verdicts[0] == 0 || verdicts[1] == 0) {
            fprintf(stderr, "fuzz-bridge-cdr-replay: mutations reached only one verdict: the "
                            "mutator is broken\n");
            return 1;
        }
    }
    free(buf);
    for (size_t i = 0; i < n_inputs; i++)
        free(inputs[i].data);
    free(inputs);
    return 0;
}
