/*
 * The broker test harness: one private agnocastd per test on a temporary socket, the processes
 * a test plays (forked roles, agents, raw protocol clients) and what it inspects from outside.
 * Each part has its own header; this one includes them all and adds the cmocka fixture that
 * ties a broker and the roles together. Tests link `harness_dep` (tests/harness/meson.build).
 *
 * The environment it reads: AGNOCAST_TEST_BROKER (agnocastd, set by meson),
 * AGNOCAST_TEST_WINDOW_BASE, AGNOCAST_TEST_VALGRIND (a command line the broker runs under),
 * AGNOCAST_TEST_VERBOSE (copy the broker's log to stderr), AGNOCAST_TEST_KEEP (keep its
 * directory), TMPDIR.
 */
#ifndef AGNOCAST_TEST_HARNESS_H
#define AGNOCAST_TEST_HARNESS_H

#include "harness-broker.h"
#include "harness-proc.h"
#include "harness-raw.h"
#include "harness-role.h"
#include "harness-util.h"

/*
 * A cmocka setup/teardown pair around one private broker per test (or group), harness_broker.
 * The setup also installs a SIGTERM handler (meson's timeout) that kills the roles and stops
 * the broker; the teardown kills any role a failed assertion left behind, reaps every child,
 * then stops the broker: it fails if the broker's exit was not clean.
 */
extern struct broker harness_broker;
int harness_broker_setup(void **state);
/* The same setup with extra broker options (NULL-terminated), for a setup function of a test's
 * own. */
int harness_broker_setup_with(void **state, const char *const *args);
int harness_broker_teardown(void **state);

#endif
