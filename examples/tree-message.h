/* The message tree_talker publishes: a search tree built with plain malloc under the heap hook. */
#ifndef AGNOCAST_TREE_MESSAGE_H
#define AGNOCAST_TREE_MESSAGE_H

#include <stdint.h>
#include <string.h>

/* Loaned from the publisher's segment; every node and name hangs off it through pointers that
 * the heap hook placed in the same message, so they hold in every subscriber. */
struct tree_node {
    struct tree_node *left, *right;
    uint64_t key;
    char *name; /* "n<sequence>-<key>", strdup'ed */
};

struct tree_message {
    uint64_t sequence;
    uint64_t self; /* the address at which the talker wrote this message */
    uint64_t nodes;
    struct tree_node *root;
    uint64_t checksum; /* tree_fold() over every node, in order */
};

static inline uint64_t tree_fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* One node's contribution to the checksum. */
static inline uint64_t tree_fold(uint64_t h, const struct tree_node *n)
{
    h = tree_fnv(h, &n->key, sizeof(n->key));
    return tree_fnv(h, n->name, strlen(n->name) + 1);
}

#define TREE_FNV_SEED  0xcbf29ce484222325ull
#define TREE_MAX_DEPTH 256

#endif
