/* One connection to the broker: identity, receiving, the outgoing queue, and closing. */
#ifndef AGNOCASTD_CLIENT_H
#define AGNOCASTD_CLIENT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct broker;
struct event;
struct reg_process;

#define CLIENT_QUEUE_MAX_FRAMES 4096        /* a peer that lets more pile up is dropped */
#define CLIENT_QUEUE_MAX_BYTES  (16u << 20) /* likewise in bytes (list replies are large) */

struct client {
    struct broker *broker;
    int fd;
    pid_t pid; /* SO_PEERCRED at accept: the kernel's word, never the client's */
    uid_t uid;
    gid_t gid;
    gid_t *groups; /* supplementary groups, SO_PEERGROUPS at accept (access rules); may be NULL */
    size_t ngroups;
    bool said_hello;
    bool closing;      /* no more reading; closes when the queue is flushed (or the timer fires) */
    bool dead;         /* dropped: nothing more is sent, closes on the next loop turn */
    bool check_sender; /* SO_PASSCRED is on: frame_pid is the kernel's word (not in the fuzzer) */
    bool frame_cred;   /* the frame being handled came with SCM_CREDENTIALS */
    pid_t frame_pid;   /* ...naming this sender */
    int refused;       /* a refused connection: answers its first frame with this, then closes */
    char *refused_why;
    struct reg_process *proc; /* set once REGISTER_PROCESS succeeded */
    struct event *ev_read;
    struct event *ev_write;
    struct event *ev_close;
    GQueue out;       /* struct outframe */
    size_t out_bytes; /* bytes `out` holds (frames and their bookkeeping); counted for its uid */
};

/* Called by the listener for each new connection: reads SO_PEERCRED, turns SO_PASSCRED on (so
 * that the sender of REGISTER_PROCESS can be checked), then client_attach. */
void client_accept(int fd, void *broker);
/*
 * Serves connection `fd` of process `pid`/`uid`/`gid` (the kernel's word: client_accept passes
 * SO_PEERCRED; the fuzz target passes its own). Refuses it past --max-clients or
 * --max-connections-per-uid: a refused connection is not counted, answers its first frame (the
 * client's HELLO) with an ERROR naming the option, then closes, so the client reads the reason
 * instead of failing to send. Returns the connection.
 */
struct client *client_attach(struct broker *b, int fd, pid_t pid, uid_t uid, gid_t gid);
/* Sets the supplementary groups the access rules see (client_accept: SO_PEERGROUPS); copied. */
void client_set_groups(struct client *c, const gid_t *groups, size_t n);

/* Queues or sends one frame; the fds stay the caller's (they are duplicated if queued). */
void client_send(struct client *c, uint16_t kind, uint32_t request_id, const void *payload,
                 size_t len, const int *fds, int nfds);
/* Sends ERROR {code, our version, message}. */
void client_send_error(struct client *c, uint32_t request_id, int code, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* Drops a misbehaving or broken peer: logs why, stops all I/O, closes on the next loop turn. */
void client_drop(struct client *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Stops reading; closes once what is queued has been sent. */
void client_close_after_flush(struct client *c);
/* Closes now, with the clean-up of a process that leaves. */
void client_close(struct client *c);
/* Frees a connection at broker shutdown: no clean-up, the processes live on. */
void client_free(struct client *c);
/* 1 if another open connection than `except` comes from process `pid`. */
bool client_pid_connected(struct broker *b, pid_t pid, const struct client *except);

#endif
