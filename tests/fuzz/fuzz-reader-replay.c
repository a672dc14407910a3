/*
 * Runs one of the reader's fuzz targets without libFuzzer: over every corpus file given
 * (files or directories), then with `--random N SEED` over N seeded mutations of them, so the
 * default test run exercises the reader on forged input too. `--make-seeds DIR` writes the
 * target's seed corpus. A failing input is written to ./fuzz-<target>-failure before the
 * process dies (a crash, a broken invariant, or more than FUZZ_INPUT_SECONDS on one input).
 */
#include "fuzz-reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INPUT_MAX          8192
#define FUZZ_INPUT_SECONDS 20

struct input {
    unsigned char *data;
    size_t size;
};

static struct input *inputs;
static size_t n_inputs;
static uint64_t rng_state;

/* The input being run, for the failure handler. */
static const unsigned char *current;
static size_t current_size;

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

static void on_failure(int sig)
{
    char name[64];
    int fd;

    snprintf(name, sizeof(name), "fuzz-%s-failure", fuzz_target_name);
    fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0 && current) {
        (void)!write(fd, current, current_size);
        close(fd);
        dprintf(2, "fuzz-%s: signal %d; the input is in %s (run it again: %s %s)\n",
                fuzz_target_name, sig, name, "fuzz-<target>-replay", name);
    }
    signal(sig, SIG_DFL);
    if (sig == SIGALRM)
        sig = SIGABRT;
    raise(sig);
}

static void run(const unsigned char *data, size_t size)
{
    current = data;
    current_size = size;
    alarm(FUZZ_INPUT_SECONDS);
    LLVMFuzzerTestOneInput(data, size);
    alarm(0);
}

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    struct input *grown;
    size_t n;

    if (!f) {
        fprintf(stderr, "fuzz-replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(INPUT_MAX);
    n = buf ? fread(buf, 1, INPUT_MAX, f) : 0;
    fclose(f);
    grown = realloc(inputs, (n_inputs + 1) * sizeof(*inputs));
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
    struct dirent **names;
    struct stat st;
    int n, rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "fuzz-replay: %s: %s (give corpus files or directories)\n", path,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(path);
    n = scandir(path, &names, NULL, alphasort); /* sorted: the same order every run */
    if (n < 0) {
        fprintf(stderr, "fuzz-replay: cannot list %s: %s\n", path, strerror(errno));
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

static const uint64_t interesting[] = {
    0,
    1,
    2,
    7,
    8,
    15,
    16,
    31,
    32,
    63,
    64,
    255,
    256,
    1023,
    1024,
    1025,
    4095,
    4096,
    0x7fff,
    0x8000,
    0xffff,
    0x7fffffff,
    0x80000000u,
    0xffffffffu,
    1ull << 40,
    (1ull << 40) + 1,
    1ull << 41,
    UINT64_MAX,
    UINT64_MAX - 1,
    FUZZ_SEG_BASE,
    FUZZ_AREA_BASE,
    FUZZ_OWN_BASE,
    FUZZ_SELF_PID,
    FUZZ_PEER_PID,
    AGN_SEG_MAGIC,
    0 - FUZZ_SEG_BASE,
};

/* One to six random edits; the result stays within INPUT_MAX. */
static size_t mutate(unsigned char *buf, size_t size)
{
    int edits = 1 + (int)below(6);

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
        case 2: { /* an interesting value, 1 to 8 bytes of it */
            uint64_t v = interesting[below(sizeof(interesting) / sizeof(interesting[0]))];
            size_t w = 1 + below(8);
            if (size >= w)
                memcpy(buf + below(size - w + 1), &v, w);
            break;
        }
        case 3: /* small arithmetic on a byte */
            if (size)
                buf[below(size)] += (unsigned char)(below(9) - 4);
            break;
        case 4: /* cut */
            size = below(size + 1);
            break;
        case 5: { /* random bytes appended (new operations) */
            size_t add = 1 + below(64);
            if (size + add > INPUT_MAX)
                add = INPUT_MAX - size;
            for (size_t i = 0; i < add; i++)
                buf[size + i] = (unsigned char)rng();
            size += add;
            break;
        }
        case 6: { /* a range deleted */
            size_t from = below(size + 1), len = below(size - from + 1);
            memmove(buf + from, buf + from + len, size - from - len);
            size -= len;
            break;
        }
        case 7: { /* a range repeated (an operation done again) */
            size_t from = below(size + 1), len = below(size - from + 1);
            if (len > 256)
                len = 256;
            if (size + len <= INPUT_MAX) {
                memmove(buf + from + len, buf + from, size - from);
                size += len;
            }
            break;
        }
        case 8: { /* bytes of another input inserted (its operations spliced in) */
            const struct input *o = &inputs[below(n_inputs)];
            size_t from = below(o->size + 1), len = below(o->size - from + 1), at = below(size + 1);
            if (len > 512)
                len = 512;
            if (size + len <= INPUT_MAX) {
                memmove(buf + at + len, buf + at, size - at);
                memcpy(buf + at, o->data + from, len);
                size += len;
            }
            break;
        }
        case 9: /* a byte of another input at the same place */
            if (size) {
                const struct input *o = &inputs[below(n_inputs)];
                size_t at = below(size);
                if (at < o->size)
                    buf[at] = o->data[at];
            }
            break;
        }
    }
    return size;
}

static int emit_dir;

static int emit(const char *name, const unsigned char *bytes, size_t len)
{
    int fd = openat(emit_dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd < 0 || write(fd, bytes, len) != (ssize_t)len) {
        fprintf(stderr, "fuzz-replay: cannot write seed %s: %s\n", name, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long rounds = 0;
    struct fuzz_reader_counts corpus;
    unsigned char *buf;

    signal(SIGSEGV, on_failure);
    signal(SIGBUS, on_failure);
    signal(SIGABRT, on_failure);
    signal(SIGALRM, on_failure);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--random") == 0 && i + 2 < argc) {
            rounds = strtoul(argv[i + 1], NULL, 0);
            rng_state = strtoull(argv[i + 2], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
            i += 2;
        } else if (strcmp(argv[i], "--make-seeds") == 0 && i + 1 < argc) {
            emit_dir = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (emit_dir < 0) {
                fprintf(stderr, "fuzz-replay: %s: %s\n", argv[i + 1], strerror(errno));
                return 2;
            }
            return fuzz_make_seeds(emit) < 0 ? 1 : 0;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--random N SEED] CORPUS... | --make-seeds DIR\n", argv[0]);
            return 2;
        } else if (add_path(argv[i]) < 0) {
            return 2;
        }
    }
    if (n_inputs == 0) {
        fprintf(stderr, "fuzz-replay: no corpus files: give tests/fuzz/corpus/%s\n",
                fuzz_target_name);
        return 2;
    }
    for (size_t i = 0; i < n_inputs; i++)
        run(inputs[i].data, inputs[i].size);
    corpus = fuzz_counts;
    printf("corpus: %zu files, %lu calls, %lu messages delivered, %lu notices, %lu peer and "
           "%lu area mappings, %lu corrupt, %lu warnings\n",
           n_inputs, corpus.calls, corpus.delivered, corpus.notices, corpus.mapped_peers,
           corpus.mapped_areas, corpus.corrupt, corpus.warnings);
    /* A corpus that maps nothing or delivers nothing tests nothing. */
    if (corpus.delivered == 0 || corpus.mapped_peers == 0 || corpus.mapped_areas == 0 ||
        corpus.corrupt == 0) {
        fprintf(stderr, "fuzz-replay: the corpus reaches too little of the reader (see above)\n");
        return 1;
    }
    buf = malloc(INPUT_MAX);
    if (!buf)
        return 2;
    memset(&fuzz_counts, 0, sizeof(fuzz_counts));
    for (unsigned long r = 0; r < rounds; r++) {
        const struct input *in = &inputs[below(n_inputs)];
        size_t size;
        memcpy(buf, in->data, in->size);
        size = mutate(buf, in->size);
        run(buf, size);
    }
    if (rounds)
        printf("mutations: %lu, %lu calls, %lu messages delivered, %lu notices, %lu peer and "
               "%lu area mappings, %lu corrupt, %lu warnings\n",
               rounds, fuzz_counts.calls, fuzz_counts.delivered, fuzz_counts.notices,
               fuzz_counts.mapped_peers, fuzz_counts.mapped_areas, fuzz_counts.corrupt,
               fuzz_counts.warnings);
    free(buf);
    for (size_t i = 0; i < n_inputs; i++)
        free(inputs[i].data);
    free(inputs);
    return 0;
}
