/* The segments of a topic's processes: had from the broker, mapped on first use. */
#include "segcache.h"

#include <errno.h>
#include <stdio.h>

#include "agnocast-proto.h"

struct segcache_proc {
    uint64_t base;
    uint64_t size;
    gboolean tried;
    gboolean seen; /* in the latest process list */
    struct segview sv;
    char *why; /* set when the segment cannot be read */
};

struct segcache {
    struct client *c;
    gboolean warn;
    GHashTable *procs; /* pid -> struct segcache_proc */
};

static void segcache_proc_free(void *p)
{
    struct segcache_proc *proc = p;

    segview_close(&proc->sv);
    g_free(proc->why);
    g_free(proc);
}

struct segcache *segcache_new(struct client *c, gboolean warn)
{
    struct segcache *sc = g_new0(struct segcache, 1);

    sc->c = c;
    sc->warn = warn;
    sc->procs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, segcache_proc_free);
    return sc;
}

void segcache_free(struct segcache *sc)
{
    if (sc == NULL)
        return;
    g_hash_table_destroy(sc->procs);
    g_free(sc);
}

static gboolean segcache_unseen(void *key, void *value, void *data)
{
    return !((struct segcache_proc *)value)->seen;
}

gboolean segcache_refresh(struct segcache *sc, GError **error)
{
    GArray *list = client_query_list(sc->c, AGNOCAST_MSG_LIST_PROCESSES, NULL, error);
    GHashTableIter it;
    void *value;

    if (list == NULL)
        return FALSE;
    g_hash_table_iter_init(&it, sc->procs);
    while (g_hash_table_iter_next(&it, NULL, &value))
        ((struct segcache_proc *)value)->seen = FALSE;
    for (guint i = 0; i < list->len; i++) {
        const struct agnocast_wire_process_entry *e =
            &g_array_index(list, struct agnocast_wire_process_entry, i);
        void *key = GUINT_TO_POINTER(e->pid);
        struct segcache_proc *proc = g_hash_table_lookup(sc->procs, key);

        /* Same pid, other range: a new process took the pid of one that exited. */
        if (proc != NULL && (proc->base != e->base || proc->size != e->size)) {
            g_hash_table_remove(sc->procs, key);
            proc = NULL;
        }
        if (proc == NULL) {
            proc = g_new0(struct segcache_proc, 1);
            proc->base = e->base;
            proc->size = e->size;
            g_hash_table_insert(sc->procs, key, proc);
        }
        proc->seen = TRUE;
        /* A segment that could not be read is tried again: the broker may have had a moment's
         * trouble, or the process may have been replaced by another with the same pid. */
        if (proc->sv.view.map == NULL)
            proc->tried = FALSE;
    }
    g_hash_table_foreach_remove(sc->procs, segcache_unseen, NULL);
    g_array_free(list, TRUE);
    return TRUE;
}

/* The views' source of descriptors: the broker (segview_fetch_fn). */
static int segcache_fetch(void *arg, uint32_t pid, uint32_t area, uint64_t *base, uint64_t *size,
                          GError **error)
{
    struct segcache *sc = arg;
    int fd = client_get_segment(sc->c, pid, area, base, size, error);

    return fd >= 0 ? fd : -ENOENT;
}

const struct segview *segcache_get(struct segcache *sc, uint32_t pid, const char **why)
{
    struct segcache_proc *proc = g_hash_table_lookup(sc->procs, GUINT_TO_POINTER(pid));

    if (proc == NULL) {
        *why = "the broker lists no such process";
        return NULL;
    }
    if (!proc->tried) {
        GError *error = NULL;
        char *old = proc->why;

        proc->tried = TRUE;
        proc->why = NULL;
        if (segview_open(&proc->sv, pid, proc->base, proc->size, segcache_fetch, sc, &error) < 0) {
            proc->why = g_strdup(error->message);
            /* Warn once per reason, not on every refresh. */
            if (sc->warn && g_strcmp0(old, proc->why) != 0)
                fprintf(stderr, "agnocastctl: %s\n", proc->why);
            g_error_free(error);
        }
        g_free(old);
    }
    if (proc->sv.view.map == NULL) {
        *why = proc->why;
        return NULL;
    }
    return &proc->sv;
}
