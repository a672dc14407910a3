/* Measuring a topic's publishers over windows of time: messages (hz) and bytes (bw). */
#include "sampler.h"

#include <errno.h>
#include <stdio.h>

#include "client.h"
#include "endpoints.h"
#include "segcache.h"
#include "stop.h"

#define SAMPLER_POLL_MS 10

/* What is remembered about a publisher across polls and windows. */
struct sampler_state {
    uint64_t head;  /* at the last poll */
    uint64_t next;  /* next message whose size is to be read */
    uint64_t sized; /* messages of the window whose size was read */
    uint64_t sized_bytes;
    uint64_t lost; /* messages of the window overwritten before their size was read */
    uint64_t corrupt;
    uint64_t mean_size; /* of the previous window, for a window where nothing could be read */
    gboolean seen;      /* in the latest endpoint list */
};

struct sampler {
    struct client *c;
    struct segcache *sc;
    const char *topic;
    gboolean sizes;
    GArray *endpoints;    /* of struct ctl_endpoint */
    GHashTable *states;   /* endpoints_key -> struct sampler_state */
    GArray *window_start; /* head of each endpoint at the start of the window */
};

gboolean sampler_check_options(const struct sampler_options *opt, GError **error)
{
    if (!(opt->window_s >= 0.1 && opt->window_s <= 3600)) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                    "--window must be between 0.1 and 3600 seconds (for example --window 1)");
        return FALSE;
    }
    if (opt->count < 0) {
        g_set_error(error, CTL_ERROR, CLI_EXIT_USAGE,
                    "--count must be 0 (until interrupted) or a number of reports");
        return FALSE;
    }
    return TRUE;
}

static struct sampler_state *sampler_state(struct sampler *s, const struct ctl_endpoint *e)
{
    guint64 key = endpoints_key(e);
    struct sampler_state *st = g_hash_table_lookup(s->states, &key);

    if (st == NULL) {
        guint64 *k = g_new(guint64, 1);
        *k = key;
        st = g_new0(struct sampler_state, 1);
        /* A publisher first seen now is measured from now on. */
        st->head = e->published;
        st->next = e->published + 1;
        g_hash_table_insert(s->states, k, st);
    }
    return st;
}

static gboolean sampler_unseen(void *key, void *value, void *data)
{
    return !((struct sampler_state *)value)->seen;
}

/* Asks for the endpoints again; a topic that disappeared has no publishers. */
static gboolean sampler_refresh(struct sampler *s, gboolean first, GError **error)
{
    if (!endpoints_follow(s->c, s->sc, s->topic, first, &s->endpoints, error))
        return FALSE;

    GHashTableIter it;
    void *value;
    g_hash_table_iter_init(&it, s->states);
    while (g_hash_table_iter_next(&it, NULL, &value))
        ((struct sampler_state *)value)->seen = FALSE;
    g_array_set_size(s->window_start, s->endpoints->len);
    for (guint i = 0; i < s->endpoints->len; i++) {
        struct ctl_endpoint *e = &g_array_index(s->endpoints, struct ctl_endpoint, i);
        if (!e->entry.is_publisher || !e->ring_ok)
            continue;
        struct sampler_state *st = sampler_state(s, e);
        /* A smaller head: a new process with the same pid and slot. Start over. */
        if (e->published < st->head) {
            st->head = e->published;
            st->next = e->published + 1;
        }
        st->seen = TRUE;
        st->sized = st->sized_bytes = st->lost = st->corrupt = 0;
        g_array_index(s->window_start, uint64_t, i) = st->head;
    }
    g_hash_table_foreach_remove(s->states, sampler_unseen, NULL);
    return TRUE;
}

/* Reads the sizes of the entries published since the last poll. */
static void sampler_read_sizes(const struct ctl_endpoint *e, struct sampler_state *st,
                               uint64_t head)
{
    uint64_t oldest = head >= e->ring.depth ? head - e->ring.depth + 1 : 1;

    if (st->next < oldest) {
        st->lost += oldest - st->next;
        st->next = oldest;
    }
    for (; st->next <= head; st->next++) {
        struct segview_msg m;
        int r = segview_ring_read(e->seg, &e->ring, st->next, &m);

        if (r > 0) {
            st->sized++;
            st->sized_bytes += m.bytes > m.size ? m.bytes : m.size;
        } else if (r == -EBADMSG) {
            st->corrupt++;
        } else {
            st->lost++;
        }
    }
}

static void sampler_poll(struct sampler *s)
{
    for (guint i = 0; i < s->endpoints->len; i++) {
        const struct ctl_endpoint *e = &g_array_index(s->endpoints, struct ctl_endpoint, i);
        if (!e->entry.is_publisher || !e->ring_ok)
            continue;
        struct sampler_state *st = sampler_state(s, e);
        uint64_t head = agn_shm_ring_head(&e->ring);

        if (head < st->head)
            continue; /* not monotonic: a corrupt slot; the next refresh starts over */
        if (s->sizes)
            sampler_read_sizes(e, st, head);
        st->head = head;
    }
}

static void sampler_fill(struct sampler *s, struct sampler_window *w)
{
    w->npubs = 0;
    for (guint i = 0; i < s->endpoints->len; i++) {
        const struct ctl_endpoint *e = &g_array_index(s->endpoints, struct ctl_endpoint, i);
        if (!e->entry.is_publisher)
            continue;
        struct sampler_pub *p = &w->pubs[w->npubs++];
        *p = (struct sampler_pub){.pid = e->entry.pid, .index = e->entry.index};
        if (!e->ring_ok) {
            p->why = e->seg == NULL ? e->why : "its ring in the segment is invalid";
            continue;
        }
        struct sampler_state *st = sampler_state(s, e);
        p->messages = st->head - g_array_index(s->window_start, uint64_t, i);
        p->corrupt = st->corrupt;
        if (st->sized > 0)
            st->mean_size = st->sized_bytes / st->sized;
        p->estimated = st->lost;
        p->bytes = st->sized_bytes + st->lost * st->mean_size;
    }
}

static int sampler_loop(struct sampler *s, const struct ctl_invocation *inv,
                        const struct sampler_options *opt,
                        void (*report)(const struct sampler_window *w, gboolean json),
                        GError **error)
{
    if (!sampler_refresh(s, TRUE, error))
        return (*error)->code;

    if (!endpoints_some_ring_readable(s->endpoints, s->topic, error))
        return CLI_EXIT_NO_SEGMENT;

    for (unsigned n = 1; opt->count == 0 || n <= (unsigned)opt->count; n++) {
        double start = stop_now();
        while (stop_now() - start < opt->window_s) {
            if (!stop_sleep_ms(SAMPLER_POLL_MS))
                return CLI_EXIT_OK;
            sampler_poll(s);
        }
        g_autofree struct sampler_pub *out = g_new0(struct sampler_pub, s->endpoints->len + 1);
        struct sampler_window w = {
            .topic = s->topic, .seconds = stop_now() - start, .number = n, .pubs = out};
        sampler_fill(s, &w);
        report(&w, inv->json);
        fflush(stdout);
        if (opt->count != 0 && n == (unsigned)opt->count)
            break;
        if (!sampler_refresh(s, FALSE, error))
            return (*error)->code;
    }
    return CLI_EXIT_OK;
}

int sampler_run(const struct ctl_invocation *inv, const struct sampler_options *opt,
                void (*report)(const struct sampler_window *w, gboolean json), GError **error)
{
    if (!sampler_check_options(opt, error) || !ctl_check_topic(inv->argv[0], error))
        return CLI_EXIT_USAGE;

    struct sampler s = {.topic = inv->argv[0], .sizes = opt->sizes};
    s.c = client_connect(inv->socket_path, inv->timeout_s, error);
    if (s.c == NULL)
        return (*error)->code;
    s.sc = segcache_new(s.c, TRUE);
    s.states = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    s.window_start = g_array_new(FALSE, TRUE, sizeof(uint64_t));
    stop_install();

    int rc = sampler_loop(&s, inv, opt, report, error);

    if (s.endpoints != NULL)
        g_array_free(s.endpoints, TRUE);
    g_array_free(s.window_start, TRUE);
    g_hash_table_destroy(s.states);
    segcache_free(s.sc);
    client_free(s.c);
    return rc;
}
