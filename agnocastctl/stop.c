/* Ending the long-running commands (hz, bw, echo, watch) cleanly on SIGINT or SIGTERM. */
#include "stop.h"

#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_flag;

static void stop_handler(int sig)
{
    stop_flag = 1;
}

void stop_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a sleep returns at once and the loop sees the flag. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

gboolean stop_requested(void)
{
    return stop_flag != 0;
}

gboolean stop_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    if (!stop_flag)
        nanosleep(&ts, NULL);
    return !stop_flag;
}

double stop_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
