/* The segment layout as a table, for the golden test and its generator. */
#ifndef TESTS_SHM_LAYOUT_TABLE_H
#define TESTS_SHM_LAYOUT_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct layout_line {
    const char *type;
    const char *field; /* "" for the whole struct */
    size_t offset;
    size_t size;
};

struct layout_constants {
    uint64_t magic;
    unsigned layout, max_pubs, max_subs, max_peers, max_holds, max_areas, seals;
};

const struct layout_line *layout_lines(size_t *n);
void layout_constants(struct layout_constants *c);

#endif
