/* Readiness notification to the service manager ($NOTIFY_SOCKET), without libsystemd. */
#ifndef AGNOCASTD_NOTIFY_H
#define AGNOCASTD_NOTIFY_H

/* Sends `state` ("READY=1", "STOPPING=1") if $NOTIFY_SOCKET is set; 0, or -errno on failure
 * (which the caller only logs: the broker works without a service manager). */
int notify_send(const char *state);

#endif
