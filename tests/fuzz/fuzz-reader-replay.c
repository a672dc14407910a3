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

#include "fuzz-corpus.h"

#define INPUT_MAX          8192
#define FUZZ_INPUT_SECONDS 20

static struct fuzz_corpus replay = {.prog = "fuzz-replay", .input_max = INPUT_MAX};

/* The input being run, for the failure handler. */
static const unsigned char *current;
static size_t current_size;

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
    int edits = 1 + (int)fuzz_below(6);

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
        case 2: { /* an interesting value, 1 to 8 bytes of it */
            uint64_t v = interesting[fuzz_below(sizeof(interesting) / sizeof(interesting[0]))];
            size_t w = 1 + fuzz_below(8);
            if (size >= w)
                memcpy(buf + fuzz_below(size - w + 1), &v, w);
            break;
        }
        case 3: /* small arithmetic on a byte */
            if (size)
                buf[fuzz_below(size)] += (unsigned char)(fuzz_below(9) - 4);
            break;
        case 4: /* cut */
            size = fuzz_below(size + 1);
            break;
        case 5: { /* random bytes appended (new operations) */
            size_t add = 1 + fuzz_below(64);
            if (size + add > INPUT_MAX)
                add = INPUT_MAX - size;
            for (size_t i = 0; i < add; i++)
                buf[size + i] = (unsigned char)fuzz_rng();
            size += add;
            break;
        }
        case 6: { /* a range deleted */
            size_t from = fuzz_below(size + 1), len = fuzz_below(size - from + 1);
            memmove(buf + from, buf + from + len, size - from - len);
            size -= len;
            break;
        }
        case 7: { /* a range repeated (an operation done again) */
            size_t from = fuzz_below(size + 1), len = fuzz_below(size - from + 1);
            if (len > 256)
                len = 256;
            if (size + len <= INPUT_MAX) {
                memmove(buf + from + len, buf + from, size - from);
                size += len;
            }
            break;
        }
        case 8: { /* bytes of another input inserted (its operations spliced in) */
            const struct fuzz_input *o = fuzz_corpus_pick(&replay);
            size_t from = fuzz_below(o->size + 1), len = fuzz_below(o->size - from + 1),
                   at = fuzz_below(size + 1);
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
                const struct fuzz_input *o = fuzz_corpus_pick(&replay);
                size_t at = fuzz_below(size);
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
    struct fuzz_reader_counts corpus;
    unsigned char *buf;
    char hint[128];
    int rc;

    signal(SIGSEGV, on_failure);
    signal(SIGBUS, on_failure);
    signal(SIGABRT, on_failure);
    signal(SIGALRM, on_failure);
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--make-seeds") == 0) {
            emit_dir = open(argv[i + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (emit_dir < 0) {
                fprintf(stderr, "fuzz-replay: %s: %s\n", argv[i + 1], strerror(errno));
                return 2;
            }
            return fuzz_make_seeds(emit) < 0 ? 1 : 0;
        }
    }
    snprintf(hint, sizeof(hint), "tests/fuzz/corpus/%s", fuzz_target_name);
    if ((rc = fuzz_corpus_load(&replay, argc, argv, hint)) != 0)
        return rc;
    for (size_t i = 0; i < replay.n; i++)
        run(replay.inputs[i].data, replay.inputs[i].size);
    corpus = fuzz_counts;
    printf("corpus: %zu files, %lu calls, %lu messages delivered, %lu notices, %lu peer and "
           "%lu area mappings, %lu corrupt, %lu warnings\n",
           replay.n, corpus.calls, corpus.delivered, corpus.notices, corpus.mapped_peers,
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
    for (unsigned long r = 0; r < replay.rounds; r++) {
        const struct fuzz_input *in = fuzz_corpus_pick(&replay);
        size_t size;
        memcpy(buf, in->data, in->size);
        size = mutate(buf, in->size);
        run(buf, size);
    }
    if (replay.rounds)
        printf("mutations: %lu, %lu calls, %lu messages delivered, %lu notices, %lu peer and "
               "%lu area mappings, %lu corrupt, %lu warnings\n",
               replay.rounds, fuzz_counts.calls, fuzz_counts.delivered, fuzz_counts.notices,
               fuzz_counts.mapped_peers, fuzz_counts.mapped_areas, fuzz_counts.corrupt,
               fuzz_counts.warnings);
    free(buf);
    fuzz_corpus_free(&replay);
    return 0;
}
