/* Routing of received frames to their handlers, with the checks every request shares. */
#ifndef AGNOCASTD_DISPATCH_H
#define AGNOCASTD_DISPATCH_H

#include <stddef.h>

#include "agnocast-proto.h"

struct client;
struct reg_process;

/*
 * A request handler: sends its reply and returns 0, or returns a negative errno with *why set
 * (a sentence for the person reading the client's error; g_free'd by the caller), which becomes
 * the ERROR reply. A handler that keeps a descriptor sets its slot in `fds` to -1.
 */
typedef int (*dispatch_fn)(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                           char **why);

/* Decodes one frame and handles it. The caller closes the descriptors left in `fds`. */
void dispatch_frame(struct client *c, const void *buf, size_t len, int *fds, int nfds);

/* Handlers, by module. */
int session_hello(struct client *c, const struct agnocast_frame *f, int *fds, int nfds, char **why);
int session_register(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                     char **why);
int session_hand_wake(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                      char **why);
int session_attach(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                   char **why);
int query_get_segment(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                      char **why);
/* Sends `to` growth area `area` (1..) of `owner` with its descriptor (NOTICE_AREA_ADDED). */
void session_send_area(struct reg_process *to, struct reg_process *owner, unsigned area);
int session_report_occupied(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                            char **why);
int endpoint_add_publisher(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                           char **why);
int endpoint_add_subscription(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                              char **why);
int endpoint_remove_publisher(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                              char **why);
int endpoint_remove_subscription(struct client *c, const struct agnocast_frame *f, int *fds,
                                 int nfds, char **why);
int query_list_topics(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                      char **why);
int query_topic_info(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                     char **why);
int query_list_processes(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                         char **why);
int query_stats(struct client *c, const struct agnocast_frame *f, int *fds, int nfds, char **why);
int query_list_rules(struct client *c, const struct agnocast_frame *f, int *fds, int nfds,
                     char **why);

#endif
