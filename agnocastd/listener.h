/* The broker's listening socket: path choice, systemd hand-over, stale sockets, accepting. */
#ifndef AGNOCASTD_LISTENER_H
#define AGNOCASTD_LISTENER_H

#include <stdbool.h>

struct event_base;
struct listener;

typedef void (*listener_accept_fn)(int fd, void *arg);

/*
 * Takes fd 3 from systemd (LISTEN_PID/LISTEN_FDS) if handed one, else binds `path` (NULL:
 * $AGNOCAST_SOCKET, else the built-in default) with file mode `mode`, after making sure no
 * broker answers there. 0 and *ret, or a negative errno and *err (a sentence naming the socket
 * and the remedy): -EADDRINUSE another broker listens there or a file that is not a socket is
 * in the way, -ENAMETOOLONG a path that does not fit, -ENOTSOCK systemd passed something else,
 * -EACCES/-EPERM no permission; others from the system.
 */
int listener_open(const char *path, unsigned mode, struct listener **ret, char **err);
/* Starts accepting: `fn` gets each new non-blocking, close-on-exec connection. */
void listener_start(struct listener *l, struct event_base *base, listener_accept_fn fn, void *arg);
const char *listener_path(const struct listener *l);
bool listener_from_systemd(const struct listener *l);
/* The socket's path in the file system, bound here or by systemd; NULL for an abstract one. */
const char *listener_socket_file(const struct listener *l);
/* Stops listening; removes the socket file if this process bound it and it is still ours. */
void listener_close(struct listener *l);

#endif
