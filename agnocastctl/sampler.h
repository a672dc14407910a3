/* Measuring a topic's publishers over windows of time: messages (hz) and bytes (bw). */
#ifndef AGNOCASTCTL_SAMPLER_H
#define AGNOCASTCTL_SAMPLER_H

#include <glib.h>
#include <stdint.h>

#include "agnocastctl.h"

/* One publisher's figures for one window. */
struct sampler_pub {
    uint32_t pid;
    uint32_t index;
    const char *why;    /* non-NULL: its segment or ring cannot be read; figures are zero */
    uint64_t messages;  /* published in the window (head difference) */
    uint64_t bytes;     /* sizes read from ring entries, plus the estimate below */
    uint64_t estimated; /* messages overwritten before they were sampled, counted at the mean
                           size of the ones read */
    uint64_t corrupt;   /* entries whose address or size left the publisher's heap */
};

struct sampler_window {
    const char *topic;
    double seconds;  /* measured length of the window */
    unsigned number; /* 1, 2, ... */
    struct sampler_pub *pubs;
    guint npubs;
};

struct sampler_options {
    double window_s; /* --window */
    int count;       /* --count: windows to report, 0 = until interrupted */
    gboolean sizes;  /* read ring entries for their sizes (bw) */
};

/*
 * Samples the publishers of inv->argv[0] every 10 ms and calls `report` at the end of each
 * window (the topic's endpoints are asked again between windows, so publishers that come and go
 * are followed). Returns an enum cli_exit value: usage, broker errors, or CLI_EXIT_NO_SEGMENT when
 * the topic has publishers at the start and none of their segments can be read.
 */
int sampler_run(const struct ctl_invocation *inv, const struct sampler_options *opt,
                void (*report)(const struct sampler_window *w, gboolean json), GError **error);

/* Checks --window and --count; FALSE with a usage error naming the option. */
gboolean sampler_check_options(const struct sampler_options *opt, GError **error);

#endif
