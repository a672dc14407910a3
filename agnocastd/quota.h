/* Per-user quotas: what the processes of one uid may make the broker hold for them. */
#ifndef AGNOCASTD_QUOTA_H
#define AGNOCASTD_QUOTA_H

#include <stdint.h>
#include <sys/types.h>

struct broker;

/*
 * Each check returns 0, or -EDQUOT with *why set (a sentence naming the limit and its option;
 * free with g_free) when the request would take `uid` past it.
 */

/* Registering one more process of `uid` with a range of `bytes` (--max-processes-per-uid,
 * --max-address-space-per-uid). */
int quota_check_process(struct broker *b, uid_t uid, uint64_t bytes, char **why);
/* `bytes` more address space for `uid`: a growth area, a relocation (the old range stays
 * quarantined), a reported occupied range (--max-address-space-per-uid). */
int quota_check_space(struct broker *b, uid_t uid, uint64_t bytes, char **why);
/* One more endpoint of `uid` on `topic` (--max-endpoints-per-uid, and --max-topics-per-uid if
 * no process of that uid has an endpoint there yet). */
int quota_check_endpoint(struct broker *b, uid_t uid, const char *topic, char **why);

/* Address space the processes of `uid` keep from others: their segments, growth areas,
 * quarantined ranges (RELOCATE) and the ranges they reported occupied. */
uint64_t quota_space_of(struct broker *b, uid_t uid);

#endif
