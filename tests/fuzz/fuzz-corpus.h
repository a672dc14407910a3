/* What the replay drivers share: their seeded random numbers and the corpus they run and mutate. */
#ifndef AGNOCAST_FUZZ_CORPUS_H
#define AGNOCAST_FUZZ_CORPUS_H

#include <stddef.h>
#include <stdint.h>

struct fuzz_input {
    unsigned char *data; /* input_max bytes, `size` of them the file's */
    size_t size;
};

struct fuzz_corpus {
    const char *prog; /* names the driver in messages */
    size_t input_max; /* bytes read of a file, and the size of each input's buffer */
    struct fuzz_input *inputs;
    size_t n;
    unsigned long rounds; /* --random N: mutations to run */
};

/* xorshift64*, seeded by --random's SEED: tiny, and the same sequence everywhere. */
uint64_t fuzz_rng(void);
/* A number below n (0 when n is 0). */
size_t fuzz_below(size_t n);
/* One input of the corpus, picked at random (there is at least one once loaded). */
const struct fuzz_input *fuzz_corpus_pick(const struct fuzz_corpus *c);
/* Reads "[--random N SEED] CORPUS...": corpus files, or directories of them read in sorted
 * order (the same inputs in the same order every run). Callers look for their own options
 * first. Returns 0, or 2 having said what went wrong: a bad option, an unreadable path, no
 * corpus file (`hint` says which corpus to give). */
int fuzz_corpus_load(struct fuzz_corpus *c, int argc, char **argv, const char *hint);
void fuzz_corpus_free(struct fuzz_corpus *c);

#endif
