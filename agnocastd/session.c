/* Session requests: HELLO and REGISTER_PROCESS (a process's doorbell and address range). */
#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "client.h"
#include "dispatch.h"
#include "quota.h"
#include "ranges.h"
#include "registry.h"
#include "state.h"

int session_hello(struct client *c, const struct agnocast_frame *f, int *fds, int nfds, char **why)
{
    struct agnocast_wire_hello_reply r = {.broker_pid = (uint32_t)getpid()};

    if (c->said_hello) {
        *why = g_strdup("this connection already said HELLO; send it once per connection");
        return -EALREADY;
    }
    c->said_hello = true;
    client_send(c, AGNOCAST_MSG_HELLO_REPLY, f->request_id, &r, sizeof(r), NULL, 0);
    return 0;
}

/* A registered pid whose connection already hung up (its EOF not handled yet) is gone. */
static int connection_hung_up(const struct client *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};

    return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

/* Every range a live process reported occupied in its address space (REPORT_OCCUPIED). */
static void collect_occupied(struct reg_process *p, void *data)
{
    GArray *spans = data;

    for (unsigned i = 0; i < p->noccupied; i++) {
        struct ranges_span sp = {p->occupied[i].base, p->occupied[i].size};
        g_array_append_val(spans, sp);
    }
}

static int range_error(struct broker *b, int rc, uint64_t size, uint64_t want, guint noccupied,
                       char **why)
{
    uint64_t wb = ranges_window_base(b->ranges), ws = ranges_window_size(b->ranges);
    char *kept = noccupied == 0
                     ? g_strdup("")
                     : g_strdup_printf(", %u ranges reported occupied kept clear", noccupied);

    /* want_base 0 is what a process asks when it has no preference: never tell it to. */
    if (rc == -ENOMEM || (rc == -EADDRINUSE && want == 0))
        *why = g_strdup_printf("no free address range of %" G_GUINT64_FORMAT " bytes in the "
                               "window 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
                               "x (%u processes%s); retry once some leave, ask for a smaller "
                               "pool or raise --window-size",
                               size, wb, wb + ws, registry_process_count(b->reg), kept);
    else if (rc == -EADDRINUSE && state_reserved_by(b->state, want, size) != 0)
        *why = g_strdup_printf("the range at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
                               " bytes) overlaps one the broker keeps for process %d, which held "
                               "it before the broker restarted; register with want_base 0",
                               want, size, (int)state_reserved_by(b->state, want, size));
    else if (rc == -EADDRINUSE)
        *why = g_strdup_printf("the range at 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
                               " bytes) is taken, reported occupied by a live process, or outside "
                               "the broker's window (0x%" G_GINT64_MODIFIER
                               "x-0x%" G_GINT64_MODIFIER "x); register with want_base 0",
                               want, size, wb, wb + ws);
    else
        *why = g_strdup_printf("want_base 0x%" G_GINT64_MODIFIER "x is not 2 MiB aligned", want);
    g_free(kept);
    return rc;
}

/* ranges_alloc, but clear of every range a live process reported occupied in its address
 * space: a segment there could not be mapped by that process. */
static int alloc_clear(struct broker *b, uint64_t size, uint64_t want, uint64_t *base, char **why)
{
    GArray *spans = g_array_new(FALSE, FALSE, sizeof(struct ranges_span));
    int rc;

    registry_foreach_process(b->reg, collect_occupied, spans);
    rc = ranges_alloc_avoiding(b->ranges, size, want, (const struct ranges_span *)spans->data,
                               spans->len, base);
    if (rc < 0)
        range_error(b, rc, size, want, spans->len, why);
    g_array_free(spans, TRUE);
    return rc;
}

/* 1 if [base, base + size) is exactly the segment or a growth area of `p`. */
static bool is_range_of(const struct reg_process *p, uint64_t base, uint64_t size)
{
    if (p->base == base && p->size == size)
        return true;
    for (unsigned i = 0; i < p->nareas; i++)
        if (p->areas[i] == base && p->area_sizes[i] == size)
            return true;
    return false;
}

/*
 * A process could not map a peer's range: new ranges avoid it while the reporter lives. Only a
 * range the broker gave a live process can be reported, and it counts against the reporter's
 * address-space quota, so a report keeps from others no more than that process could hold.
 */
int session_report_occupied(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                            char **why)
{
    const struct agnocast_wire_range *req = f->payload;
    struct reg_process *proc = c->proc;
    struct reg_process *owner = registry_process_find(c->broker->reg, (pid_t)req->owner_pid);
    struct agnocast_wire_ok ok = {0};
    unsigned i = proc->noccupied;
    uint64_t dropped = 0;
    int rc;

    if (owner == NULL || owner == proc || connection_hung_up(owner->owner)) {
        *why = g_strdup_printf("process %u is not another live registered process: "
                               "REPORT_OCCUPIED names the peer whose range could not be mapped",
                               req->owner_pid);
        return -EINVAL;
    }
    if (!is_range_of(owner, req->base, req->size)) {
        *why = g_strdup_printf("0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT " bytes) is not "
                               "the segment or a growth area of process %u; REPORT_OCCUPIED names "
                               "exactly one range the broker gave that process",
                               req->base, req->size, req->owner_pid);
        return -EINVAL;
    }
    for (unsigned j = 0; j < proc->noccupied; j++) {
        if (proc->occupied[j].base == req->base && proc->occupied[j].size == req->size) {
            /* Already kept clear: a repeat must not push older reports out. */
            client_send(c, AGNOCAST_MSG_OK, f->request_id, &ok, sizeof(ok), NULL, 0);
            return 0;
        }
    }
    if (i == G_N_ELEMENTS(proc->occupied))
        dropped = proc->occupied[0].size;
    if (req->size > dropped &&
        (rc = quota_check_space(c->broker, c->uid, req->size - dropped, why)) < 0)
        return rc;
    if (i == G_N_ELEMENTS(proc->occupied)) {
        memmove(&proc->occupied[0], &proc->occupied[1], sizeof(proc->occupied[0]) * (i - 1));
        i--;
    }
    proc->occupied[i].base = req->base;
    proc->occupied[i].size = req->size;
    proc->noccupied = i + 1;
    g_warning("process %d cannot map the pool of process %u at 0x%" G_GINT64_MODIFIER
              "x-0x%" G_GINT64_MODIFIER "x: that range is occupied in its address space; the "
              "two cannot exchange messages, and new ranges will avoid it",
              (int)c->pid, req->owner_pid, req->base, req->base + req->size);
    client_send(c, AGNOCAST_MSG_OK, f->request_id, &ok, sizeof(ok), NULL, 0);
    return 0;
}

/* A registered process's pool is full: one more range for a growth area. */
static int grow(struct client *c, const struct agnocast_wire_register *req, uint32_t request_id,
                char **why)
{
    struct reg_process *proc = c->proc;
    struct broker *b = c->broker;
    struct agnocast_wire_register_reply r;
    uint64_t size, base;
    int rc;

    if (proc->nareas == G_N_ELEMENTS(proc->areas)) {
        *why = g_strdup_printf("process %d already has %u growth areas, the most a pool may have",
                               (int)c->pid, proc->nareas);
        return -ENOSPC;
    }
    if (req->pool_size == 0 ||
        ranges_pool_size(req->pool_size, b->cfg.pool_size, b->cfg.max_pool_size, &size) < 0) {
        *why = g_strdup_printf("a growth area of %" G_GUINT64_FORMAT " bytes is not between 1 and "
                               "the broker's maximum of %" G_GUINT64_FORMAT " (--max-pool-size)",
                               req->pool_size, b->cfg.max_pool_size);
        return -EINVAL;
    }
    if ((rc = quota_check_space(b, c->uid, size, why)) < 0)
        return rc;
    if ((rc = alloc_clear(b, size, req->want_base, &base, why)) < 0)
        return rc;
    proc->areas[proc->nareas] = base;
    proc->area_sizes[proc->nareas++] = size;
    g_message("process %d: pool grew by 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
              "x (area %u)",
              (int)c->pid, base, base + size, proc->nareas);
    memset(&r, 0, sizeof(r));
    r.base = base;
    r.size = size;
    r.pid = (uint32_t)c->pid;
    client_send(c, AGNOCAST_MSG_REGISTER_REPLY, request_id, &r, sizeof(r), NULL, 0);
    return 0;
}

/* The range given to a registered process is occupied in its address space: give it another,
 * keeping the bad one from everyone (it is only bad there) until the process leaves. */
static int relocate(struct client *c, uint32_t request_id, char **why)
{
    struct reg_process *proc = c->proc;
    struct broker *b = c->broker;
    struct agnocast_wire_register_reply r;
    uint64_t base;
    int rc;

    if (g_hash_table_size(proc->pubs) + g_hash_table_size(proc->subs) > 0 ||
        proc->area_fd[0] >= 0) {
        *why = g_strdup_printf("process %d has attached its segment: its pool cannot move any "
                               "more",
                               (int)c->pid);
        return -EBUSY;
    }
    if (proc->nquarantine == G_N_ELEMENTS(proc->quarantine)) {
        *why = g_strdup_printf("%u ranges in a row were occupied in process %d: start agnocastd "
                               "with another --window-base",
                               proc->nquarantine + 1, (int)c->pid);
        return -ENOMEM;
    }
    /* The old range stays quarantined: the process holds both until it leaves. */
    if ((rc = quota_check_space(b, c->uid, proc->size, why)) < 0)
        return rc;
    if ((rc = alloc_clear(b, proc->size, 0, &base, why)) < 0)
        return rc;
    g_message("process %d: range 0x%" G_GINT64_MODIFIER "x is occupied in its address space; "
              "moved it to 0x%" G_GINT64_MODIFIER "x",
              (int)c->pid, proc->base, base);
    proc->quarantine[proc->nquarantine++] = proc->base;
    proc->base = base;
    state_save(b->state);
    memset(&r, 0, sizeof(r));
    r.base = base;
    r.size = proc->size;
    r.pid = (uint32_t)c->pid;
    client_send(c, AGNOCAST_MSG_REGISTER_REPLY, request_id, &r, sizeof(r), NULL, 0);
    return 0;
}

int session_register(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                     char **why)
{
    const struct agnocast_wire_register *req = f->payload;
    struct broker *b = c->broker;
    struct agnocast_wire_register_reply r;
    struct reg_process *old, *proc = NULL;
    struct state_reservation res;
    uint64_t size, base;
    int rc, claimed;

    /* SO_PEERCRED names who connected; the kernel's SCM_CREDENTIALS, who sends this frame. A
     * socket handed to another process must not register (or grow) under the first one's pid. */
    if (c->check_sender && (!c->frame_cred || c->frame_pid != c->pid)) {
        if (c->frame_cred)
            *why = g_strdup_printf("this connection was opened by process %d but "
                                   "REGISTER_PROCESS comes from %d; each process connects itself",
                                   (int)c->pid, (int)c->frame_pid);
        else
            *why = g_strdup_printf("REGISTER_PROCESS came without the sender's credentials, so "
                                   "the broker cannot tell that process %d sent it",
                                   (int)c->pid);
        return -EPERM;
    }
    if (c->proc != NULL && (req->flags & AGNOCAST_REGISTER_RELOCATE))
        return relocate(c, f->request_id, why);
    if (c->proc != NULL && (req->flags & AGNOCAST_REGISTER_GROW))
        return grow(c, req, f->request_id, why);
    if (c->proc != NULL) {
        *why = g_strdup_printf("this connection already registered process %d", (int)c->pid);
        return -EALREADY;
    }
    if (nfds != 0) {
        *why = g_strdup_printf("REGISTER_PROCESS carries no descriptor since protocol version 3 "
                               "(wake channels are made per publisher and subscriber); it came "
                               "with %d",
                               nfds);
        return -EINVAL;
    }
    old = registry_process_find(b->reg, c->pid);
    if (old != NULL && connection_hung_up(old->owner))
        client_close(old->owner);
    else if (old != NULL) {
        *why = g_strdup_printf("process %d is already registered on another connection; a "
                               "process registers once",
                               (int)c->pid);
        return -EEXIST;
    }
    if (ranges_pool_size(req->pool_size, b->cfg.pool_size, b->cfg.max_pool_size, &size) < 0) {
        *why = g_strdup_printf("a pool of %" G_GUINT64_FORMAT " bytes is over the broker's "
                               "maximum of %" G_GUINT64_FORMAT " bytes (--max-pool-size); ask for "
                               "less (MEMPOOL_SIZE) or raise the maximum",
                               req->pool_size, b->cfg.max_pool_size);
        return -EINVAL;
    }
    if ((rc = quota_check_process(b, c->uid, size, why)) < 0)
        return rc;
    /* A process that held want_base before a broker restart gets it back, and only it. */
    claimed = state_claim(b->state, c->pid, c->uid, req->want_base, &res);
    rc = alloc_clear(b, size, req->want_base, &base, why);
    if (rc < 0) {
        if (claimed)
            state_restore(b->state, &res);
        return rc;
    }
    rc = registry_process_add(b->reg, c->pid, c->uid, base, size, 0, c, &proc);
    if (rc < 0) {
        ranges_release(b->ranges, base);
        if (claimed)
            state_restore(b->state, &res);
        *why = g_strdup_printf("process %d cannot be registered: %s", (int)c->pid, g_strerror(-rc));
        return rc;
    }
    c->proc = proc;
    proc->starttime = claimed ? res.starttime : state_pid_starttime(c->pid);
    state_save(b->state);
    g_message("process %d (uid %u) %s: range 0x%" G_GINT64_MODIFIER "x-0x%" G_GINT64_MODIFIER
              "x (%.1f MiB)%s",
              (int)c->pid, (unsigned)c->uid, claimed ? "re-registered its range" : "registered",
              base, base + size, (double)size / (1024.0 * 1024.0), "");
    memset(&r, 0, sizeof(r));
    r.base = base;
    r.size = size;
    r.pid = (uint32_t)c->pid;
    client_send(c, AGNOCAST_MSG_REGISTER_REPLY, f->request_id, &r, sizeof(r), NULL, 0);
    return 0;
}

/*
 * A pool area's descriptor must be a memfd the client cannot shrink, grow or write through
 * any new mapping (AGNOCAST_SEGMENT_SEALS), exactly the size of its range: then handing it to
 * a peer gives that peer a read-only view nobody can pull out from under its mapping.
 */
static int check_area_fd(int fd, uint64_t size, char **why)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals < 0 || (seals & AGNOCAST_SEGMENT_SEALS) != AGNOCAST_SEGMENT_SEALS) {
        *why = g_strdup_printf("the descriptor is not a memfd sealed with F_SEAL_SEAL, "
                               "F_SEAL_SHRINK, F_SEAL_GROW and F_SEAL_FUTURE_WRITE (seals 0x%x); "
                               "peers could not trust it",
                               seals < 0 ? 0 : seals);
        return -EINVAL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
        *why = g_strdup_printf("the memfd has %lld bytes, its range %" G_GUINT64_FORMAT,
                               (long long)st.st_size, size);
        return -EINVAL;
    }
    return 0;
}

/* Sends `to` one growth area of `owner` with its descriptor. */
void session_send_area(struct reg_process *to, struct reg_process *owner, unsigned area)
{
    struct agnocast_wire_segment n = {
        .pid = (uint32_t)owner->pid,
        .area = area,
        .base = owner->areas[area - 1],
        .size = owner->area_sizes[area - 1],
    };

    client_send(to->owner, AGNOCAST_MSG_NOTICE_AREA_ADDED, 0, &n, sizeof(n), &owner->area_fd[area],
                1);
}

int session_attach(struct client *c, const struct agnocast_frame *f, int *fds, int nfds, char **why)
{
    const struct agnocast_wire_segment *req = f->payload;
    struct reg_process *proc = c->proc;
    struct agnocast_wire_ok ok = {0};
    uint64_t base = req->area == 0 ? proc->base : 0, size = req->area == 0 ? proc->size : 0;
    int rc;

    if (req->area > proc->nareas) {
        *why = g_strdup_printf("process %d has no growth area %u (it has %u)", (int)c->pid,
                               req->area, proc->nareas);
        return -EINVAL;
    }
    if (req->area > 0) {
        base = proc->areas[req->area - 1];
        size = proc->area_sizes[req->area - 1];
    }
    if (req->base != base || req->size != size) {
        *why =
            g_strdup_printf("area %u of process %d is 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT
                            " bytes), not 0x%" G_GINT64_MODIFIER "x (%" G_GUINT64_FORMAT " bytes)",
                            req->area, (int)c->pid, base, size, req->base, req->size);
        return -EINVAL;
    }
    if (proc->area_fd[req->area] >= 0) {
        *why = g_strdup_printf("area %u of process %d is already attached", req->area, (int)c->pid);
        return -EALREADY;
    }
    if (nfds != 1) {
        *why = g_strdup_printf("ATTACH_SEGMENT carries exactly one descriptor, the area's memfd; "
                               "it came with %d",
                               nfds);
        return -EINVAL;
    }
    if ((rc = check_area_fd(fds[0], size, why)) < 0)
        return rc;
    proc->area_fd[req->area] = fds[0];
    fds[0] = -1;
    g_debug("process %d attached area %u", (int)c->pid, req->area);
    /* Subscribers that already read this process learn of the new area now; a message in it
     * waits for them until then (docs/design.md, pool growth). */
    if (req->area > 0) {
        GPtrArray *peers = registry_process_peers(c->broker->reg, proc);
        for (guint i = 0; i < peers->len; i++)
            session_send_area(peers->pdata[i], proc, req->area);
        g_ptr_array_free(peers, TRUE);
    }
    client_send(c, AGNOCAST_MSG_OK, f->request_id, &ok, sizeof(ok), NULL, 0);
    return 0;
}

/* 1 if `fd` is the read end of a pipe: all a subscriber's library will drain. */
static int is_pipe_read_end(int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);

    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fl >= 0 && (fl & O_ACCMODE) == O_RDONLY;
}

/*
 * A publisher process hands over the receiving end of its wake channel to one subscriber
 * process; the broker passes it on (NOTICE_WAKE_ADDED). Only to a process it shares a topic
 * with: the channel lets the sender wake the receiver, nothing more.
 */
int session_hand_wake(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                      char **why)
{
    const struct agnocast_wire_notice_process *req = f->payload;
    struct agnocast_wire_notice_process n = {.pid = (uint32_t)c->pid};
    struct agnocast_wire_ok ok = {0};
    struct reg_process *to = registry_process_find(c->broker->reg, (pid_t)req->pid);
    GPtrArray *peers;
    gboolean shared = FALSE;

    if (nfds != 1 || !is_pipe_read_end(fds[0])) {
        *why = g_strdup("HAND_WAKE carries exactly one descriptor, the read end of a pipe");
        return -EINVAL;
    }
    if (to == NULL || to == c->proc) {
        *why = g_strdup_printf("no other process %u is registered", req->pid);
        return -ENOENT;
    }
    peers = registry_process_peers(c->broker->reg, c->proc);
    for (guint i = 0; i < peers->len && !shared; i++)
        shared = peers->pdata[i] == to;
    g_ptr_array_free(peers, TRUE);
    if (!shared) {
        *why = g_strdup_printf("process %d shares no topic with process %u", (int)c->pid, req->pid);
        return -EPERM;
    }
    client_send(to->owner, AGNOCAST_MSG_NOTICE_WAKE_ADDED, 0, &n, sizeof(n), &fds[0], 1);
    client_send(c, AGNOCAST_MSG_OK, f->request_id, &ok, sizeof(ok), NULL, 0);
    return 0;
}
