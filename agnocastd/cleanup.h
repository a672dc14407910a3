/* What happens when a registered process leaves (exit or crash): the broker's clean-up. */
#ifndef AGNOCASTD_CLEANUP_H
#define AGNOCASTD_CLEANUP_H

struct broker;
struct client;
struct reg_process;

/* Removes `proc` and everything it owned, tells its peers, frees its range, and removes its
 * shared-memory and mqueue names unless another connection now comes from the same pid. */
void cleanup_process_leave(struct broker *b, struct reg_process *proc, struct client *from);

#endif
