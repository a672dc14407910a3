/* What a test sees of other processes from outside: programs' output, /proc, names in
 * /dev/shm and the message-queue file system. */
#ifndef AGNOCAST_TEST_HARNESS_PROC_H
#define AGNOCAST_TEST_HARNESS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Runs argv[0] (a path) with argv, its stdout into out (NUL-terminated, cut at cap - 1; the
 * rest is read and dropped). Returns its exit status, or -1 if it did not exit normally. */
int run_capture(char *const argv[], char *out, size_t cap);

/* Whether `pid` still has a shared-memory segment or mqueue name. */
bool shm_name_exists(pid_t pid);
bool mq_name_exists(pid_t pid);

/* The mapping of `addr` in /proc/PID/maps: its permission string ("r--s") and path. 0 or -1. */
int find_mapping(pid_t pid, uintptr_t addr, char perms[8], char *path, size_t cap);

/* A process's resident memory (kB) and CPU time, user and system (ms), from /proc; -1 if
 * unknown. */
long proc_rss_kb(pid_t pid);
long proc_cpu_ms(pid_t pid);

#endif
