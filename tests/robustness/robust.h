/* Helpers of the robustness tests: a private broker with options, live agents, raw clients. */
#ifndef ROBUST_H
#define ROBUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agnocast-proto.h"

#define RB_TIMEOUT_MS 5000

struct rb_broker {
    pid_t pid;
    char dir[256];
    char socket[300];
    char log[300]; /* the broker's stderr */
};

/*
 * Starts agnocastd ($AGNOCAST_TEST_BROKER) in a fresh temporary directory (mode 0755) with
 * --socket, --window-base $AGNOCAST_TEST_WINDOW_BASE when set, and `args` (NULL-terminated,
 * may be NULL); under $AGNOCAST_TEST_VALGRIND (a command line) when set. Waits until it
 * accepts. Returns 0 or -1.
 */
int rb_broker_start(struct rb_broker *b, const char *const *args);
/* Starts another broker on the same socket and directory (after a kill). */
int rb_broker_restart(struct rb_broker *b, const char *const *args);
/* Sends `sig` and waits; returns the exit status (128+signal if killed). */
int rb_broker_signal(struct rb_broker *b, int sig);
/* Removes the directory. */
void rb_broker_cleanup(struct rb_broker *b);
/* 1 if the broker's log holds `text`. */
bool rb_broker_log_has(const struct rb_broker *b, const char *text);
/* The broker's resident memory (kB) and CPU time (ms), from /proc. */
long rb_proc_rss_kb(pid_t pid);
long rb_proc_cpu_ms(pid_t pid);

/* A living process that opens connections on demand and relays each (tests/common/relay.h), so
 * they carry its pid and every frame on them comes from it. */
struct rb_agent {
    pid_t pid;
    int ctl;
};
int rb_agent_start(struct rb_agent *a);
/* A connection to `path` made by the agent (SO_PEERCRED: the agent), relayed to the socket
 * returned, or -1. */
int rb_agent_connect(struct rb_agent *a, const char *path);
void rb_agent_stop(struct rb_agent *a);

/* A connection from this process. */
int rb_connect(const char *path);

/* A raw protocol client. */
struct rb_peer {
    int fd;
    int efd;
    int mfd; /* its segment, a sealed memfd, once registered */
    uint32_t next_id;
    struct agnocast_wire_register_reply range;
};

struct rb_reply {
    union agnocast_frame_buffer buf;
    struct agnocast_frame f;
    ssize_t len; /* > 0 a frame, 0 end of file, < 0 -errno (-ETIMEDOUT) */
};

void rb_peer_init(struct rb_peer *p, int fd);
void rb_peer_close(struct rb_peer *p);
/* Sends a request; returns its id, or 0 if sending failed. */
uint32_t rb_request(struct rb_peer *p, uint16_t kind, const void *payload, size_t len,
                    const int *fds, int nfds);
/* Receives one frame (descriptors closed); notices are skipped when skip_notices. */
ssize_t rb_recv(struct rb_peer *p, struct rb_reply *r, bool skip_notices);
/* HELLO and its reply: 0 or -1. */
int rb_hello(struct rb_peer *p);
/* REGISTER_PROCESS with a fresh eventfd: 0 and p->range, or the ERROR code (negative) with the
 * message copied to `why` (may be NULL). */
int rb_register(struct rb_peer *p, uint64_t pool, uint64_t want_base, char *why, size_t cap);
/* ADD_PUBLISHER or ADD_SUBSCRIPTION: 0 on OK, else the ERROR code and message. */
int rb_add(struct rb_peer *p, bool publisher, uint32_t index, const char *topic, char *why,
           size_t cap);
/* LIST_PROCESSES / LIST_TOPICS: the list's total, or -1. */
long rb_list_total(struct rb_peer *p, uint16_t kind);

/* Raises the soft descriptor limit to the hard one. */
void rb_raise_nofile(void);

#endif
