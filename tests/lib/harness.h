/* Multi-process test harness: a private broker on a temporary socket, forked roles, pipes. */
#ifndef AGNOCAST_TEST_HARNESS_H
#define AGNOCAST_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct broker {
    pid_t pid;
    char dir[256];
    char socket[300];
};

/* Starts agnocastd ($AGNOCAST_TEST_BROKER) on a socket in a fresh temporary directory, with
 * --window-base $AGNOCAST_TEST_WINDOW_BASE and --max-pool-size $AGNOCAST_TEST_BROKER_MAX_POOL
 * when set, waits until it accepts, and points
 * AGNOCAST_SOCKET at it. Returns 0 or -1. */
int broker_start(struct broker *b);
/* A cmocka setup/teardown pair around one private broker per test (or group): teardown reaps
 * any role left behind by a failed assertion, then stops the broker. */
extern struct broker harness_broker;
int harness_broker_setup(void **state);
int harness_broker_teardown(void **state);

/* SIGKILL the broker, keeping its directory (and stale socket file). */
void broker_kill(struct broker *b);
/* Starts the broker again on the same socket; 0 or -1. */
int broker_restart(struct broker *b);
/* SIGTERM, wait, remove the directory. Returns the broker's exit status (0 = clean). */
int broker_stop(struct broker *b);

/* A forked role: runs fn(arg, to_parent_fd, from_parent_fd) in a child, exit code = its return. */
struct role {
    pid_t pid;
    int to_child;   /* parent writes */
    int from_child; /* parent reads */
};
int role_start(struct role *r, int (*fn)(void *arg, int out, int in), void *arg);
/* Waits for the child; returns its exit code, or 128+signal. */
int role_wait(struct role *r);

/* Line-based messages over pipes (each call one line, without the newline). */
int send_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads one line with a timeout; returns its length, or -1 on timeout/EOF. */
int recv_line(int fd, char *buf, size_t cap, int timeout_ms);

/* Runs a program with argv, capturing stdout into out; returns its exit status or -1. */
int run_capture(char *const argv[], char *out, size_t cap);

/* Whether `pid` still has a shared-memory segment or mqueue name. */
bool shm_name_exists(pid_t pid);
bool mq_name_exists(pid_t pid);

/* The mapping of `addr` in /proc/PID/maps: its permission string ("r--s") and path. */
int find_mapping(pid_t pid, uintptr_t addr, char perms[8], char *path, size_t cap);

/* Milliseconds since an arbitrary start. */
uint64_t now_ms(void);

#endif
