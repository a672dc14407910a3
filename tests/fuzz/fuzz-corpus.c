#include "fuzz-corpus.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng_state = 1;

uint64_t fuzz_rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

size_t fuzz_below(size_t n)
{
    return n ? (size_t)(fuzz_rng() % n) : 0;
}

const struct fuzz_input *fuzz_corpus_pick(const struct fuzz_corpus *c)
{
    return &c->inputs[fuzz_below(c->n)];
}

static int add_file(struct fuzz_corpus *c, const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    struct fuzz_input *grown;
    size_t n;

    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", c->prog, path, strerror(errno));
        return -1;
    }
    buf = malloc(c->input_max);
    n = buf ? fread(buf, 1, c->input_max, f) : 0;
    fclose(f);
    grown = realloc(c->inputs, (c->n + 1) * sizeof(*c->inputs));
    if (!buf || !grown) {
        fprintf(stderr, "%s: out of memory reading %s\n", c->prog, path);
        free(buf);
        return -1;
    }
    c->inputs = grown;
    c->inputs[c->n].data = buf;
    c->inputs[c->n].size = n;
    c->n++;
    return 0;
}

static int add_path(struct fuzz_corpus *c, const char *path)
{
    struct dirent **names;
    struct stat st;
    int n, rc = 0;

    if (stat(path, &st) < 0) {
        fprintf(stderr, "%s: %s: %s (give corpus files or directories)\n", c->prog, path,
                strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(c, path);
    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: cannot list %s: %s\n", c->prog, path, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(full, &st) == 0 && S_ISREG(st.st_mode) && rc == 0)
            rc = add_file(c, full);
        free(names[i]);
    }
    free(names);
    return rc;
}

int fuzz_corpus_load(struct fuzz_corpus *c, int argc, char **argv, const char *hint)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--random") == 0 && i + 2 < argc) {
            c->rounds = strtoul(argv[i + 1], NULL, 0);
            rng_state = strtoull(argv[i + 2], NULL, 0) * 0x9e3779b97f4a7c15ull + 1;
            i += 2;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--random N SEED] CORPUS...\n", argv[0]);
            return 2;
        } else if (add_path(c, argv[i]) < 0) {
            return 2;
        }
    }
    if (c->n == 0) {
        fprintf(stderr, "%s: no corpus files: give %s\n", c->prog, hint);
        return 2;
    }
    return 0;
}

void fuzz_corpus_free(struct fuzz_corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->inputs[i].data);
    free(c->inputs);
    c->inputs = NULL;
    c->n = 0;
}
