/* The CLI's connection to the broker: connect, HELLO, one request at a time, paged lists,
 * segment descriptors. */
#ifndef AGNOCASTCTL_CLIENT_H
#define AGNOCASTCTL_CLIENT_H

#include <glib.h>
#include <stdint.h>

struct client;

/*
 * Connects to the broker socket at `path` and exchanges HELLO; each reply is awaited at most
 * `timeout_s` seconds. On failure returns NULL and sets *error in CTL_ERROR with the exit
 * status as code and a message that names the socket and the remedy.
 */
struct client *client_connect(const char *path, int timeout_s, GError **error);

/* The broker's pid from its HELLO_REPLY. */
uint32_t client_broker_pid(const struct client *c);

/* Closes the connection; takes NULL. */
void client_free(struct client *c);

/*
 * Sends the list query `kind` (LIST_TOPICS, TOPIC_INFO with `topic`, LIST_PROCESSES,
 * LIST_RULES) and asks again with `start` = entries received so far until the list's total is
 * reached. Returns an array of the reply's entry structs, or NULL with *error set (an ERROR
 * reply: code CLI_EXIT_REFUSED and the broker's message).
 */
GArray *client_query_list(struct client *c, uint16_t kind, const char *topic, GError **error);

/*
 * Asks the broker for area `area` (0: the segment, 1 to 15: its growth areas) of process `pid`
 * (GET_SEGMENT). Returns the descriptor that came with the answer (close-on-exec, read-only in
 * effect: sealed against writes, shrinking and growing; the caller closes it), with the area's
 * address and size as the broker knows them. On failure returns -1 with *error set: code
 * CLI_EXIT_NO_SEGMENT when the broker refused ("process N is gone", "the broker refused the
 * segment of process N: ..."), CLI_EXIT_PROTOCOL when the answer could not be understood.
 */
int client_get_segment(struct client *c, uint32_t pid, uint32_t area, uint64_t *base,
                       uint64_t *size, GError **error);

/* Sends STATS; returns its entries (struct agnocast_wire_stats_entry) or NULL with *error set. */
GArray *client_query_stats(struct client *c, GError **error);

#endif
