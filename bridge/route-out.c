/* Local -> DDS: a callback subscription whose callback turns each message into one sample. */
#include <errno.h>
#include <time.h>

#include "dds.h"
#include "log.h"
#include "route.h"

/* DDS sequences count in 32 bits. */
#define SAMPLE_MAX UINT32_MAX

/* The publish time on CLOCK_REALTIME: the message carries CLOCK_MONOTONIC, which means nothing
 * on another host. */
static void stamp(const struct agnocast_message *msg, builtin_interfaces_msg_dds__Time_ *t)
{
    struct timespec mono, real;
    int64_t ns;

    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    ns = (int64_t)real.tv_sec * 1000000000 + real.tv_nsec -
         ((int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec -
          (int64_t)agnocast_message_timestamp_ns(msg));
    t->sec = (int32_t)(ns / 1000000000);
    t->nanosec = (uint32_t)(ns % 1000000000);
}

/* The message's bytes: where they lie (in_place), or encoded into the route's buffer. */
static ssize_t encode(struct route *r, const struct agnocast_message *msg, const void **bytes)
{
    ssize_t n;
    int rc;

    if (r->codec->in_place)
        return r->codec->in_place(msg, bytes);
    if ((n = r->codec->encoded_size(msg)) < 0)
        return n;
    if (n > SAMPLE_MAX)
        return -EMSGSIZE;
    if ((size_t)n > r->scratch_size) {
        g_free(r->scratch);
        r->scratch_size = (size_t)n;
        r->scratch = g_malloc(r->scratch_size);
    }
    if ((rc = r->codec->encode(msg, r->scratch, (size_t)n)) < 0)
        return rc;
    /* A copy of ours before Cyclone's own serialization (in_place messages have none). */
    ROUTE_COUNT(r, copies);
    *bytes = r->scratch;
    return n;
}

static void on_message(struct agnocast_subscription *sub, struct agnocast_message *msg, void *ud)
{
    struct route *r = ud;
    agnocast_msgs_msg_dds__Bytes_ s = {0};
    const void *bytes = NULL;
    ssize_t n = encode(r, msg, &bytes);
    dds_return_t rc;

    (void)sub;
    if (n < 0 || n > SAMPLE_MAX) {
        ROUTE_COUNT(r, encode_errors);
        if (route_first(r, ROUTE_LOGGED_ENCODE))
            log_warn("%s: codec %s cannot encode a message of %zu bytes from pid %d (%s); such "
                     "messages are counted as encode errors and not sent",
                     r->cfg->topic, r->codec->name, agnocast_message_size(msg),
                     (int)agnocast_message_publisher_pid(msg), g_strerror((int)-n));
        return;
    }
    s.origin.host = r->bridge->host;
    s.origin.publisher_pid = (uint32_t)agnocast_message_publisher_pid(msg);
    s.origin.publisher_index = agnocast_message_publisher_index(msg);
    s.origin.sequence_number = agnocast_message_sequence(msg);
    stamp(msg, &s.origin.stamp);
    s.encoding = (char *)r->codec->name;
    /* Cyclone serializes from the message where it lies: no copy of ours. */
    s.data._buffer = (uint8_t *)bytes;
    s.data._length = s.data._maximum = (uint32_t)n;
    s.data._release = false;
    if ((rc = dds_write(r->writer, &s)) < 0) {
        ROUTE_COUNT(r, dropped);
        if (route_first(r, ROUTE_LOGGED_WRITE))
            log_warn("%s: DDS write failed (%s); failed writes are counted as dropped",
                     r->cfg->topic, dds_strretcode(rc));
        return;
    }
    ROUTE_COUNT(r, sent);
}

int route_out_start(struct route *r, GError **error)
{
    const struct topic_config *t = r->cfg;
    unsigned flags = AGNOCAST_IGNORE_LOCAL;
    int rc;

    if ((r->writer = dds_route_writer(r->bridge->participant, r->topic, t, error)) < 0)
        return -1;
    if (t->reliable)
        flags |= AGNOCAST_RELIABLE;
    if (t->transient_local)
        flags |= AGNOCAST_TRANSIENT_LOCAL;
    /* AGNOCAST_IGNORE_LOCAL: what this process publishes came in over DDS; sending it back out
     * would make a loop with the bridge on the other side. */
    rc = agnocast_subscription_new(r->bridge->ctx, t->topic, t->depth, flags, on_message, r,
                                   &r->sub);
    if (rc < 0) {
        g_set_error(error, BRIDGE_ERROR, 0, "cannot subscribe to %s: %s", t->topic,
                    agnocast_last_error());
        return -1;
    }
    return 0;
}

void route_out_stop(struct route *r)
{
    r->sub = agnocast_subscription_free(r->sub);
    if (r->writer > 0)
        dds_delete(r->writer);
    r->writer = 0;
}
