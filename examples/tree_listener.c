/* Example subscriber for tree_talker: walks each tree in place, checking every pointer against
 * the message before following it, and verifies names, order and the checksum. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agnocast.h>

#include "example-args.h"
#include "tree-message.h"

struct listener {
    struct agnocast_context *ctx;
    unsigned long long want, received, corrupt, nodes;
    int verbose;
};

static struct agnocast_context *signal_ctx;

static void on_signal(int sig)
{
    (void)sig;
    if (signal_ctx)
        agnocast_context_stop(signal_ctx);
}

struct walk {
    const struct agnocast_message *msg;
    uint64_t sequence, hash, count, limit;
    int64_t last_key; /* in-order keys must increase */
    int bad;
};

/* A name must lie in the message, end within it, and read "n<sequence>-<key>". */
static int name_ok(struct walk *w, const struct tree_node *n)
{
    char want[48];
    size_t len;

    if (!agnocast_message_contains(w->msg, n->name, 1))
        return 0;
    snprintf(want, sizeof(want), "n%" PRIu64 "-%" PRIu64, w->sequence, n->key);
    len = strlen(want) + 1;
    return agnocast_message_contains(w->msg, n->name, len) && memcmp(n->name, want, len) == 0;
}

static void walk(struct walk *w, const struct tree_node *n, int depth)
{
    if (!n || w->bad)
        return;
    if (depth >= TREE_MAX_DEPTH || !agnocast_message_contains(w->msg, n, sizeof(*n)) ||
        ++w->count > w->limit) {
        w->bad = 1;
        return;
    }
    walk(w, n->left, depth + 1);
    if (w->bad)
        return;
    if ((int64_t)n->key <= w->last_key || !name_ok(w, n)) {
        w->bad = 1;
        return;
    }
    w->last_key = (int64_t)n->key;
    w->hash = tree_fold(w->hash, n);
    walk(w, n->right, depth + 1);
}

static int verify(const struct agnocast_message *msg, uint64_t *nodes)
{
    const struct tree_message *m = agnocast_message_data(msg);
    struct walk w = {.msg = msg, .hash = TREE_FNV_SEED, .last_key = -1};

    if (agnocast_message_size(msg) < sizeof(*m) || m->self != (uint64_t)(uintptr_t)m ||
        m->sequence != agnocast_message_sequence(msg) || m->nodes == 0)
        return 0;
    w.sequence = m->sequence;
    w.limit = m->nodes;
    walk(&w, m->root, 0);
    *nodes = w.count;
    return !w.bad && w.count == m->nodes && w.hash == m->checksum;
}

static void on_message(struct agnocast_subscription *sub, struct agnocast_message *msg, void *ud)
{
    struct listener *l = ud;
    uint64_t nodes = 0;
    int ok = verify(msg, &nodes);

    (void)sub;
    l->received++;
    l->nodes += nodes;
    if (!ok)
        l->corrupt++;
    if (l->verbose)
        printf("received %" PRIu64 ": %" PRIu64 " nodes%s\n", agnocast_message_sequence(msg), nodes,
               ok ? "" : " CORRUPT");
    if (l->want && l->received >= l->want)
        agnocast_context_stop(l->ctx);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: tree_listener [--topic T] [--count N] [--depth D] [--timeout SEC]\n"
                 "                     [--json] [--verbose]\n"
                 "Receives tree_talker's messages on T (default /tree) with keep-last depth D\n"
                 "(1 to 1024, default 10), walks and verifies each, and prints received and\n"
                 "corrupt counts at exit (after N messages, SEC seconds or SIGINT). Exit status\n"
                 "2: a bad command line; 1: a failure, or a corrupt message.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'}, {"count", required_argument, NULL, 'n'},
        {"depth", required_argument, NULL, 'd'}, {"timeout", required_argument, NULL, 'w'},
        {"json", no_argument, NULL, 'j'},        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    struct listener l = {0};
    const char *topic = "/tree";
    uint64_t want = 0, depth = 10;
    double timeout = -1;
    int json = 0, c, r = 0;
    struct agnocast_subscription *sub;
    uint64_t missed;

    while ((c = getopt_long(argc, argv, "t:n:d:w:jvh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'n':
            r = example_arg_u64("tree_listener", "count", optarg, 0, UINT64_MAX, &want);
            break;
        case 'd':
            r = example_arg_u64("tree_listener", "depth", optarg, 1, 1024, &depth);
            break;
        case 'w':
            r = example_arg_double("tree_listener", "timeout", optarg, 0, 1e6, &timeout);
            break;
        case 'j':
            json = 1;
            break;
        case 'v':
            l.verbose = 1;
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
    l.want = want;
    if (agnocast_context_new(&l.ctx) < 0) {
        fprintf(stderr, "tree_listener: %s\n", agnocast_last_error());
        return 1;
    }
    signal_ctx = l.ctx;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (agnocast_subscription_new(l.ctx, topic, (unsigned)depth, 0, on_message, &l, &sub) < 0) {
        fprintf(stderr, "tree_listener: %s\n", agnocast_last_error());
        agnocast_context_free(l.ctx);
        return 1;
    }
    r = agnocast_context_spin(l.ctx, timeout >= 0 ? (int)(timeout * 1000) : -1);
    if (r < 0)
        fprintf(stderr, "tree_listener: %s\n", agnocast_last_error());
    missed = agnocast_subscription_missed(sub);
    if (json)
        printf("{\"received\": %llu, \"missed\": %" PRIu64 ", \"corrupt\": %llu, "
               "\"nodes\": %llu}\n",
               l.received, missed, l.corrupt, l.nodes);
    else
        printf("tree_listener: received %llu, missed %" PRIu64 ", corrupt %llu, %llu nodes\n",
               l.received, missed, l.corrupt, l.nodes);
    agnocast_subscription_free(sub);
    agnocast_context_free(l.ctx);
    return l.corrupt ? 1 : 0;
}
