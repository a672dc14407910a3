/* Departure of a registered process: registry removal, PROCESS_GONE notices, range, names. */
#include "cleanup.h"

#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <glib.h>
#include <mqueue.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "agnocast-proto.h"
#include "broker.h"
#include "client.h"
#include "ranges.h"
#include "registry.h"
#include "state.h"

/*
 * A name left behind by a process of another uid cannot be removed by us: /dev/shm is sticky
 * and mqueue names belong to their creator. Say so once per uid, not once per process.
 */
static void remove_name(struct broker *b, const char *name, int rc, int err, uid_t uid)
{
    if (rc == 0) {
        g_info("removed %s, left behind by its process", name);
        return;
    }
    if (err == ENOENT)
        return;
    if ((err == EACCES || err == EPERM) && uid != geteuid()) {
        if (g_hash_table_add(b->warned_uids, GUINT_TO_POINTER(uid)))
            g_warning("cannot remove %s of uid %u: the broker runs as uid %u and cannot remove "
                      "another user's names; they stay until their process removes them or "
                      "someone with the right removes them (see docs/broker.md)",
                      name, (unsigned)uid, (unsigned)geteuid());
        return;
    }
    g_warning("cannot remove %s: %s", name, g_strerror(err));
}

static void remove_names(struct broker *b, pid_t pid, uid_t uid, unsigned nareas)
{
    char name[64];
    int rc;

    for (unsigned i = 1; i <= nareas; i++) {
        snprintf(name, sizeof(name), "/agnocast@%d.%u", (int)pid, i);
        rc = shm_unlink(name);
        remove_name(b, name, rc, errno, uid);
    }
    snprintf(name, sizeof(name), "/agnocast@%d", (int)pid);
    rc = shm_unlink(name);
    remove_name(b, name, rc, errno, uid);
    snprintf(name, sizeof(name), "/new_publisher@%d", (int)pid);
    rc = mq_unlink(name);
    remove_name(b, name, rc, errno, uid);
}

void cleanup_process_leave(struct broker *b, struct reg_process *proc, struct client *from)
{
    pid_t pid = proc->pid;
    uid_t uid = proc->uid;
    uint64_t base = proc->base;
    guint npubs = g_hash_table_size(proc->pubs), nsubs = g_hash_table_size(proc->subs);
    GPtrArray *peers = registry_process_peers(b->reg, proc);
    struct agnocast_wire_notice_process gone = {.pid = (uint32_t)pid};
    uint64_t quarantine[G_N_ELEMENTS(proc->quarantine)], areas[G_N_ELEMENTS(proc->areas)];
    unsigned nquarantine = proc->nquarantine, nareas = proc->nareas;

    memcpy(quarantine, proc->quarantine, sizeof(quarantine));
    memcpy(areas, proc->areas, sizeof(areas));
    registry_process_remove(b->reg, proc); /* also closes its eventfd */
    for (guint i = 0; i < peers->len; i++) {
        struct reg_process *peer = peers->pdata[i];
        client_send(peer->owner, AGNOCAST_MSG_NOTICE_PROCESS_GONE, 0, &gone, sizeof(gone), NULL, 0);
    }
    ranges_release(b->ranges, base);
    for (unsigned i = 0; i < nquarantine; i++)
        ranges_release(b->ranges, quarantine[i]);
    for (unsigned i = 0; i < nareas; i++)
        ranges_release(b->ranges, areas[i]);
    state_save(b->state);
    /* A new process with the same pid owns those names now. */
    if (!client_pid_connected(b, pid, from))
        remove_names(b, pid, uid, nareas);
    g_message("process %d left: removed %u publisher%s, %u subscription%s; told %u peer%s",
              (int)pid, npubs, npubs == 1 ? "" : "s", nsubs, nsubs == 1 ? "" : "s", peers->len,
              peers->len == 1 ? "" : "s");
    g_ptr_array_free(peers, TRUE);
}
