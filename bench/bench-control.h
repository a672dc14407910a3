/* The control-plane case: registration, publisher and subscription creation, broker memory. */
#ifndef AGNOCAST_BENCH_CONTROL_H
#define AGNOCAST_BENCH_CONTROL_H

#include <sys/types.h>

/* Starts `processes` client processes one after another, each registering and creating
 * `per_process` publishers (own topics) and as many subscriptions (the previous process's
 * topics), timing each call; with all of them alive, reads the broker's VmRSS. */
int bench_control(unsigned processes, unsigned per_process, pid_t broker_pid);

#endif
