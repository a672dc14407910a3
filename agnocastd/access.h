/* Per-topic access rules (--access-rules): who may publish and subscribe under which prefix. */
#ifndef AGNOCASTD_ACCESS_H
#define AGNOCASTD_ACCESS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "agnocast-proto.h"

struct access_rules;
struct client;
struct reg_process;

enum access_action {
    ACCESS_PUBLISH = 0,
    ACCESS_SUBSCRIBE = 1,
};

/* Who asks: always the kernel's word about the peer (SO_PEERCRED, SO_PEERGROUPS at accept). */
struct access_peer {
    uid_t uid;
    gid_t gid;
    const gid_t *groups; /* supplementary groups; may be NULL when ngroups is 0 */
    size_t ngroups;
};

/*
 * Reads the rules file at `path` (docs/broker.md, "Access rules") and resolves every user and
 * group name with getpwnam/getgrnam now. Returns the rules, or NULL with *why set (g_free) to a
 * sentence "PATH:LINE: [prefix] ...: problem; remedy" for a file that cannot be read, a syntax
 * error, a bad prefix, a missing or unknown key, or an unknown user or group.
 */
struct access_rules *access_rules_load(const char *path, char **why);
/* Takes NULL. */
void access_rules_free(struct access_rules *rules);
guint access_rules_count(const struct access_rules *rules);
const char *access_rules_path(const struct access_rules *rules);

/*
 * May `who` do `action` on `topic`? The rule with the longest prefix matching the topic decides
 * (prefix "/camera" matches "/camera" and "/camera/left", not "/cameras"; "/" matches every
 * topic); a topic no rule matches is open to everyone, and so is everything when `rules` is
 * NULL. Returns 0, or -EACCES with *why set (g_free) to a sentence naming the requester (uid
 * and user name), the action, the topic, the rule's prefix and file, and who it allows.
 */
int access_check(const struct access_rules *rules, const char *topic, enum access_action action,
                 const struct access_peer *who, char **why);

/*
 * The check ADD_PUBLISHER and ADD_SUBSCRIPTION make (endpoint.c, add_endpoint(), right after
 * the topic name and QoS are found valid): connection `c`'s identity against its broker's
 * rules. 0 or -EACCES with *why set, as access_check().
 */
int access_check_endpoint(struct client *c, const char *topic, bool is_publisher, char **why);

/*
 * The check GET_SEGMENT makes: with rules loaded, `c` may read `owner`'s pool only if it could
 * be handed it by an endpoint of its own: the same uid (or root), or `owner` publishes on a
 * topic `c` may subscribe to, or subscribes to a topic `c` may publish on. 0 or -EACCES with
 * *why set.
 */
int access_check_segment(struct client *c, struct reg_process *owner, char **why);

/*
 * LIST_RULES: fills at most `max` entries from entry `start` of the rules sorted by prefix and
 * returns how many; *total is the number of rules (0 when `rules` is NULL).
 */
guint access_rules_list(const struct access_rules *rules, guint start,
                        struct agnocast_wire_rule_entry *out, guint max, guint *total);

/* The peer's identity of connection `c`, for access_check(). */
void access_peer_of(const struct client *c, struct access_peer *out);

#endif
