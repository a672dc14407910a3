/*
 * Departure of a registered process: registry removal (which closes the descriptors of its pool
 * we held: the memory goes back once its peers unmap it), PROCESS_GONE notices, its ranges.
 * A process has no names to remove: its segments are memfds, known only by descriptor.
 */
#include "cleanup.h"

#include <errno.h>
#include <string.h>
#include <glib.h>

#include "agnocast-proto.h"
#include "broker.h"
#include "client.h"
#include "ranges.h"
#include "registry.h"
#include "state.h"

void cleanup_process_leave(struct broker *b, struct reg_process *proc, struct client *from)
{
    pid_t pid = proc->pid;
    uint64_t base = proc->base;
    guint npubs = g_hash_table_size(proc->pubs), nsubs = g_hash_table_size(proc->subs);
    GPtrArray *peers = registry_process_met(b->reg, proc);
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
    g_message("process %d left: removed %u publisher%s, %u subscription%s; told %u peer%s",
              (int)pid, npubs, npubs == 1 ? "" : "s", nsubs, nsubs == 1 ? "" : "s", peers->len,
              peers->len == 1 ? "" : "s");
    g_ptr_array_free(peers, TRUE);
}
