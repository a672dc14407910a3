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

#define INPUT_MAX (AGNOCAST_PROTO_FRAME_MAX + 64)

struct input {
    unsigned char *data;
    size_t size;
};

static struct input *inputs;
static size_t n_inputs;
static unsigned long verdicts[3]; /* accepted, other version, rejected */

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
    LLVMFuzzerTestOneInput(data, size);
    struct agnocast_frame f;
    int rc = agnocast_proto_decode(data, size, &f);
    verdicts[rc == 0 ? 0 : rc == -EPROTONOSUPPORT ? 1 : 2]++;
}

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz-replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = malloc(INPUT_MAX);
    size_t n = buf ? fread(buf, 1, INPUT_MAX, f) : 0;
    fclose(f);
    struct input *grown = realloc(inputs, (n_inputs + 1) * sizeof(*inputs));
    if (!buf || !grown) {
        fprintf(stderr, "fuzz-replay: out of memory reading %s\n", path);
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
    struct stat st;
    if (stat(path, &st) < 0) {
        fprintf(stderr, "fuzz-replay: %s: %s (give corpus files or directories)\n", path,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(path);
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort); /* sorted: the same order every run */
    if (n < 0) {
        fprintf(stderr, "fuzz-replay: cannot list %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
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
    int edits = 1 + (int)below(4);
    for (int e = 0; e < edits; e++) {
        switch (below(11)) {
        case 0:
            if (size)
                buf[below(size)] ^= (unsigned char)(1u << below(8));
            break;
        case 1:
            if (size)
                buf[below(size)] = (unsigned char)rng();
            break;
        case 2:
            if (size)
                buf[below(size)] = interesting_bytes[below(sizeof(interesting_bytes))];
            break;
        case 3:
            if (size >= 4)
                put_u32(buf, size, below(size - 3),
                        interesting[below(sizeof(interesting) / sizeof(interesting[0]))]);
            break;
        case 4: /* the list count, right after the header and the list total */
            put_u32(buf, size, 20,
                    interesting[below(sizeof(interesting) / sizeof(interesting[0]))]);
            break;
        case 5:
            size = below(size + 1);
            break;
        case 6: {
            size_t add = 1 + below(300);
            if (size + add > INPUT_MAX)
                add = INPUT_MAX - size;
            for (size_t i = 0; i < add; i++)
                buf[size + i] = below(2) ? 0 : (unsigned char)rng();
            size += add;
            break;
        }
        case 7: { /* splice in bytes of another input at the same offset */
            const struct input *o = &inputs[below(n_inputs)];
            size_t from = below(o->size), len = below(o->size - from + 1);
            if (from + len > size)
                len = from < size ? size - from : 0;
            memcpy(buf + from, o->data + from, len);
            break;
        }
        case 8:
            if (size) {
                size_t from = below(size);
                memset(buf + from, 0, below(size - from + 1));
            }
            break;
        case 9: /* a kind of another frame */
            if (size >= 8) {
                const struct input *o = &inputs[below(n_inputs)];
                if (o->size >= 8)
                    memcpy(buf + 6, o->data + 6, 2);
            }
            break;
        case 10:
            if (size)
                buf[below(size)] = (unsigned char)(buf[below(size)] + 1);
            break;
        }
    }
    /* Rarely, a frame around the size limit (mostly zeros: cheap to build, rare to be right). */
    if (below(2000) == 0) {
        size_t big = AGNOCAST_PROTO_FRAME_MAX - 8 + below(16);
        if (big > size)
            memset(buf + size, 0, big - size);
        size = big;
    }
    /* Most of the time agree with the length field, or the decoder stops at the header. */
    if (size >= 16 && below(4) != 0)
        put_u32(buf, size, 8, (uint32_t)(size - 16));
    return size;
}

int main(int argc, char **argv)
{
    unsigned long rounds = 0;
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
        fprintf(stderr, "fuzz-replay: no corpus files: give tests/fuzz/corpus/proto\n");
        return 2;
    }
    for (size_t i = 0; i < n_inputs; i++)
        run(inputs[i].data, inputs[i].size);
    unsigned long corpus_ok = verdicts[0];
    printf("corpus: %zu files, %lu accepted\n", n_inputs, corpus_ok);

    unsigned char *buf = malloc(INPUT_MAX);
    if (!buf)
        return 2;
    memset(verdicts, 0, sizeof(verdicts));
    for (unsigned long r = 0; r < rounds; r++) {
        const struct input *in = &inputs[below(n_inputs)];
        memcpy(buf, in->data, in->size);
        size_t size = mutate(buf, in->size);
        run(buf, size);
    }
    if (rounds) {
        printf("mutations: %lu, %lu accepted, %lu other version, %lu rejected\n", rounds,
               verdicts[0], verdicts[1], verdicts[2]);
        /* Mutations that never get past the header, or never fail, test nothing. */
        if (verdicts[0] == 0 || verdicts[2] == 0) {
            fprintf(stderr, "fuzz-replay: mutations reached only one verdict: the mutator is "
                            "broken\n");
            return 1;
        }
    }
    free(buf);
    for (size_t i = 0; i < n_inputs; i++)
        free(inputs[i].data);
    free(inputs);
    return 0;
}
