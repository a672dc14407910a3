/* Example publisher for the heap hook: builds each message with code that knows nothing of
 * agnocast (malloc, strdup, realloc, free) between loan and publish. Run it with
 * LD_PRELOAD=libagnocast_heaphook.so, or every node lands in the private heap. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <agnocast.h>

#include "example-args.h"
#include "tree-message.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* ---- ordinary heap code: a binary search tree of named keys ---- */

/* Builds "n<seq>-<key>" by growing a buffer with realloc, the way string code often does,
 * then keeps a right-sized strdup copy and frees the scratch buffer. */
static char *make_name(unsigned long long seq, unsigned long long key)
{
    char *buf = NULL, *name;
    size_t cap = 4;
    int n;

    for (;;) {
        char *bigger = realloc(buf, cap);
        if (!bigger) {
            free(buf);
            return NULL;
        }
        buf = bigger;
        n = snprintf(buf, cap, "n%llu-%llu", seq, key);
        if (n >= 0 && (size_t)n < cap)
            break;
        cap *= 2;
    }
    name = strdup(buf);
    free(buf);
    return name;
}

/* Inserts key; returns the (new) subtree root, or NULL with *failed set when out of memory. */
static struct tree_node *insert(struct tree_node *t, unsigned long long seq, uint64_t key,
                                int depth, int *failed)
{
    if (!t) {
        struct tree_node *n = calloc(1, sizeof(*n));
        if (!n || !(n->name = make_name(seq, key))) {
            free(n);
            *failed = 1;
            return NULL;
        }
        n->key = key;
        return n;
    }
    if (depth >= TREE_MAX_DEPTH - 1 || key == t->key)
        return t;
    if (key < t->key)
        t->left = insert(t->left, seq, key, depth + 1, failed);
    else
        t->right = insert(t->right, seq, key, depth + 1, failed);
    return t;
}

static uint64_t fold(const struct tree_node *t, uint64_t h, uint64_t *count)
{
    if (!t)
        return h;
    h = fold(t->left, h, count);
    h = tree_fold(h, t);
    (*count)++;
    return fold(t->right, h, count);
}

/* ---- the agnocast part ---- */

static int publish_one(struct agnocast_publisher *pub, unsigned long long seq, unsigned nodes)
{
    struct tree_message *m;
    uint64_t x = seq * 0x9e3779b97f4a7c15ull + 1;
    int failed = 0, r;

    if ((r = agnocast_publisher_loan(pub, sizeof(*m), (void **)&m)) < 0)
        return r;
    /* From here to publish, malloc on this thread allocates inside the message. */
    memset(m, 0, sizeof(*m));
    m->sequence = seq;
    m->self = (uint64_t)(uintptr_t)m;
    for (unsigned i = 0; i < nodes && !failed; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        m->root = insert(m->root, seq, x % 1000000, 0, &failed);
    }
    if (failed) {
        agnocast_publisher_drop(pub, m); /* frees what was built with it */
        return -ENOMEM;
    }
    m->checksum = fold(m->root, TREE_FNV_SEED, &m->nodes);
    return agnocast_publisher_publish(pub, m);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tree_talker [--topic T] [--count N] [--nodes K] [--rate HZ] [--depth D]\n"
                 "                   [--linger MS]\n"
                 "Publishes N messages (default 10, 0: until SIGINT) on T (default /tree), each a\n"
                 "search tree of up to K named nodes (1 to 1000000, default 100) built with plain\n"
                 "malloc, HZ per second (default 100, 0: as fast as possible), keep-last depth D\n"
                 "(1 to 1024, default 10); preload libagnocast_heaphook.so. Exit status 2: a bad\n"
                 "command line; 1: a failure.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'}, {"count", required_argument, NULL, 'n'},
        {"nodes", required_argument, NULL, 'k'}, {"rate", required_argument, NULL, 'r'},
        {"depth", required_argument, NULL, 'd'}, {"linger", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const char *topic = "/tree";
    unsigned long long seq = 0;
    uint64_t count = 10, nodes = 100, depth = 10, linger_ms = 500;
    double rate = 100;
    int c, r = 0;
    struct agnocast_context *ctx;
    struct agnocast_publisher *pub;
    struct timespec pause;

    while ((c = getopt_long(argc, argv, "t:n:k:r:d:L:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'n':
            r = example_arg_u64("tree_talker", "count", optarg, 0, UINT64_MAX, &count);
            break;
        case 'k':
            r = example_arg_u64("tree_talker", "nodes", optarg, 1, 1000000, &nodes);
            break;
        case 'r':
            r = example_arg_double("tree_talker", "rate", optarg, 0, 1e9, &rate);
            break;
        case 'd':
            r = example_arg_u64("tree_talker", "depth", optarg, 1, 1024, &depth);
            break;
        case 'L':
            r = example_arg_u64("tree_talker", "linger", optarg, 0, 3600000, &linger_ms);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXAMPLE_EXIT_USAGE;
        }
        if (r < 0)
            return EXAMPLE_EXIT_USAGE;
    }
    /* stdio allocates its buffer on first use: let that happen outside any loan window, or the
     * buffer would belong to a message and vanish with it. */
    printf("tree_talker: publishing on %s\n", topic);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (agnocast_context_new(&ctx) < 0) {
        fprintf(stderr, "tree_talker: %s\n", agnocast_last_error());
        return 1;
    }
    if (agnocast_publisher_new(ctx, topic, (unsigned)depth, 0, &pub) < 0) {
        fprintf(stderr, "tree_talker: %s\n", agnocast_last_error());
        agnocast_context_free(ctx);
        return 1;
    }
    pause.tv_sec = rate > 0 ? (time_t)(1 / rate) : 0;
    pause.tv_nsec = rate > 0 ? (long)(1e9 / rate) % 1000000000 : 0;
    while (!stop && (count == 0 || seq < count)) {
        r = publish_one(pub, ++seq, (unsigned)nodes);
        if (r == -ENOMEM) {
            seq--; /* subscribers hold the pool: wait for releases */
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            continue;
        }
        if (r < 0) {
            fprintf(stderr, "tree_talker: publish failed: %s\n", agnocast_last_error());
            break;
        }
        if (rate > 0)
            nanosleep(&pause, NULL);
    }
    for (uint64_t i = 0; i < linger_ms / 10 && !stop; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    printf("tree_talker: published %llu messages\n",
           (unsigned long long)agnocast_publisher_published(pub));
    agnocast_publisher_free(pub);
    agnocast_context_free(ctx);
    return r < 0 && r != -ENOMEM ? 1 : 0;
}
