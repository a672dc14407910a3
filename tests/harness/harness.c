/* The cmocka fixture of the harness: one private broker, and no role left when a test ends. */
#include "harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

struct broker harness_broker;

/* Meson ends a test that ran out of time with SIGTERM: leave no roles, segments or broker
 * behind for the next run. Only async-signal-safe calls here. */
static void on_sigterm(int sig)
{
    (void)sig;
    role_kill_leftovers();
    if (harness_broker.pid > 0) {
        kill(harness_broker.pid, SIGTERM);
        waitpid(harness_broker.pid, NULL, 0);
    }
    _exit(128 + SIGTERM);
}

int harness_broker_setup_with(void **state, const char *const *args)
{
    struct sigaction sa = {.sa_handler = on_sigterm};

    (void)state;
    sigaction(SIGTERM, &sa, NULL);
    return broker_start(&harness_broker, args);
}

int harness_broker_setup(void **state)
{
    return harness_broker_setup_with(state, NULL);
}

int harness_broker_teardown(void **state)
{
    (void)state;
    role_kill_leftovers();
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    return broker_stop(&harness_broker);
}
