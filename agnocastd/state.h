/* The persisted range table, and the reservations a restarted broker keeps for live processes. */
#ifndef AGNOCASTD_STATE_H
#define AGNOCASTD_STATE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct broker;
struct state;

/* A range held for a process that registered with the previous broker. */
struct state_reservation {
    pid_t pid;
    uid_t uid;
    uint64_t starttime; /* /proc/PID/stat field 22; 0 if it could not be read */
    uint64_t base;
    uint64_t size;
};

/*
 * Where the table lives by default, derived from the broker's own socket so that a private
 * broker never touches the system broker's table: $RUNTIME_DIRECTORY/agnocastd.state (first
 * directory of the list) when systemd passed the socket and set it; else
 * "<dir>/agnocastd.state" for the built-in default socket (the system broker:
 * /run/agnocast/agnocastd.state); else "<socket_file>.state". NULL when there is no socket file
 * to derive it from (an abstract socket): then none is kept unless --state-file names one.
 * `socket_file` is the socket's path in the file system or NULL. Free with g_free.
 */
char *state_default_path(const char *socket_file, bool from_systemd);

/*
 * Opens the table at `path` ("" or NULL: none is kept). Reads what a previous broker left: each
 * entry whose process is still alive (kill(pid, 0) succeeds or fails with EPERM, and its start
 * time has not changed) has its range reserved in b->ranges for `grace` seconds, after which
 * the reservation expires (logged). Unreadable entries are logged and skipped; never fails.
 * A file this broker does not own (another uid, a symlink, not a regular file) is refused with
 * a warning: it is neither read nor ever rewritten or removed, and no table is kept.
 */
struct state *state_open(struct broker *b, const char *path, unsigned grace);
/* The file the table is kept in; NULL if none is kept (none asked for, or refused). */
const char *state_file(const struct state *s);
/* At an orderly shutdown: removes the file if nothing is registered or reserved. */
void state_shutdown(struct state *s);
void state_free(struct state *s);

/*
 * A REGISTER_PROCESS from `pid` (SO_PEERCRED) of `uid`. If pid holds a reservation and asks for
 * its base with the same uid and start time, the reservation is taken out (its range released
 * for the caller to allocate) and copied to *out: returns 1. A reservation of `pid` that is not
 * claimed that way belongs to a process that is gone or gave its range up: it is dropped and 0
 * returned, as when there is none.
 */
int state_claim(struct state *s, pid_t pid, uid_t uid, uint64_t want_base,
                struct state_reservation *out);
/* Puts a claimed reservation back (the allocation after state_claim failed). */
void state_restore(struct state *s, const struct state_reservation *r);
/* The pid whose reservation overlaps [base, base + size), or 0. */
pid_t state_reserved_by(const struct state *s, uint64_t base, uint64_t size);
guint state_reservations(const struct state *s);

/* Rewrites the file: every registered process and reservation, written to a new file of this
 * broker's user (mode 0600) in the same directory and renamed over it. */
void state_save(struct state *s);

/* Start time of `pid` from /proc (clock ticks since boot), 0 if unknown. */
uint64_t state_pid_starttime(pid_t pid);

#endif
