/* A stand-in broker on a temporary socket that answers the CLI's queries with canned replies. */
#ifndef FAKE_BROKER_H
#define FAKE_BROKER_H

#include <glib.h>
#include <stdint.h>

enum fake_broker_mode {
    FAKE_BROKER_NORMAL,
    FAKE_BROKER_OLD_HEADER_VERSION, /* answers HELLO with ERROR in a version-2 frame */
    FAKE_BROKER_ERROR_VERSION,      /* answers HELLO with ERROR -EPROTONOSUPPORT, version 7 */
    FAKE_BROKER_SILENT,             /* reads requests, never answers */
    FAKE_BROKER_HANG_UP,            /* closes the connection after HELLO_REPLY */
};

/* How GET_SEGMENT is answered. */
enum fake_broker_segments {
    FAKE_SEGMENTS_GONE,     /* ERROR -ENOENT "no process N is registered" */
    FAKE_SEGMENTS_SERVE,    /* sealed memfds with the counters below in their headers */
    FAKE_SEGMENTS_REFUSE,   /* ERROR -EACCES with a sentence of its own */
    FAKE_SEGMENTS_UNSEALED, /* memfds without seals */
    FAKE_SEGMENTS_NO_FD,    /* SEGMENT_REPLY without a descriptor */
};

#define FAKE_BROKER_PID 4242u

/* What the canned registry holds: topics named /topic_00, /topic_01, ...; topic /chatter has
 * one publisher (process 100, slot 3, last message 42) and one subscription (process 200, slot
 * 0: received 40, missed 2, corrupt 0, unreachable 1); two processes; three stats counters. */
struct fake_broker_config {
    enum fake_broker_mode mode;
    unsigned topics;    /* entries in LIST_TOPICS */
    unsigned page_size; /* entries per list frame; 0 = all in one */
    enum fake_broker_segments segments;
};

struct fake_broker_request {
    uint16_t kind;
    uint32_t start; /* of a query */
    uint32_t pid;   /* of GET_SEGMENT */
    uint32_t area;
};

struct fake_broker;

/* Listens on DIR/fake.sock and serves connections in a thread until fake_broker_stop(). */
struct fake_broker *fake_broker_start(const char *dir, const struct fake_broker_config *cfg);
const char *fake_broker_path(const struct fake_broker *fb);
/* Stops the thread, removes the socket; returns the requests seen (g_array_free() them). */
GArray *fake_broker_stop(struct fake_broker *fb, unsigned *connections);

#endif
