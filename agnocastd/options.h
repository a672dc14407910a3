/* Command-line options of agnocastd: defaults, parsing, size suffixes. */
#ifndef AGNOCASTD_OPTIONS_H
#define AGNOCASTD_OPTIONS_H

#include <stdint.h>

#include "broker.h"

#define OPTIONS_DEFAULT_POOL_SIZE               (64ull << 20)
#define OPTIONS_DEFAULT_MAX_POOL_SIZE           (4ull << 30)
#define OPTIONS_DEFAULT_SOCKET_MODE             0660
#define OPTIONS_DEFAULT_MAX_CLIENTS             1024
#define OPTIONS_DEFAULT_MAX_CONNECTIONS_PER_UID 256
#define OPTIONS_DEFAULT_MAX_ENDPOINTS           256
#define OPTIONS_DEFAULT_MAX_TOPICS              10000
#define OPTIONS_DEFAULT_RESTART_GRACE           10
/*
 * Per-user quotas. Those on a shared, bounded resource default to a quarter of it, so that one
 * user (root included) cannot take it all: --max-processes-per-uid a quarter of --max-clients,
 * --max-address-space-per-uid a quarter of --window-size (at least one --pool-size),
 * --max-topics-per-uid a quarter of --max-topics. The others are fixed: endpoints (no global
 * limit exists) and the bytes queued for a user's connections.
 */
#define OPTIONS_DEFAULT_QUOTA_SHARE           4
#define OPTIONS_DEFAULT_MAX_ENDPOINTS_PER_UID 8192
#define OPTIONS_DEFAULT_MAX_QUEUED_PER_UID    (64ull << 20)

/* Parses "123", "0x1000", "64M", "4G", "16T" (binary suffixes K M G T). -EINVAL if malformed or
 * if it overflows 64 bits. */
int options_parse_size(const char *text, uint64_t *out);

/*
 * Fills `cfg` from the command line. Returns 0 to run, 1 when the program should exit 0
 * (--version printed), or -1 with *err set (a sentence; free with g_free).
 */
int options_parse(int argc, char **argv, struct broker_config *cfg, char **err);
void options_clear(struct broker_config *cfg);

#endif
