/* DDS -> local: a reader whose listener decodes each sample into a loan and publishes it.
 *
 * One copy of the payload on the way in, the codec's decode into the loan: the listener takes
 * each sample serialized (dds_takecdr), reads the Bytes_ CDR where Cyclone keeps it (cdr.c) and
 * hands decode a pointer to the `data` octets there. No buffer of the bridge's own: the route's
 * `copies` stays 0 on this side.
 *
 * Why that pointer covers the whole sample: in Cyclone DDS 0.10 a sample of an idlc-generated
 * type is a serdata_default, which on arrival appends every fragment into one buffer of its own
 * (from_ser: the copy out of the receive buffers that Cyclone makes for any reader, dds_take's
 * too) and validates it (dds_stream_normalize, which also puts it in this host's byte order);
 * its to_ser_ref returns a pointer into that buffer, fragmented on the wire or not (checked by
 * tests/bridge/test-bridge-cdr-cyclone). The interface promises one contiguous reference from
 * any serdata: one that had to assemble it would copy inside Cyclone, not here. */
#include <errno.h>
#include <string.h>

#include <dds/ddsi/ddsi_serdata.h>

#include "cdr.h"
#include "dds.h"
#include "log.h"
#include "route.h"

/* Origins remembered per route for duplicate detection; past this the table starts over (a
 * duplicate may then get through once: at-least-once instead of exactly-once). */
#define ORIGINS_MAX 4096

/* 1 if this origin's sequence number was delivered already (a sender that restarted and sent
 * its publisher's retained history again); otherwise records it and returns 0. */
static int duplicate(struct route *r, const struct cdr_bytes *o)
{
    /* The key on the stack: an allocation per sample only for a host name too long for it. */
    char buf[256];
    g_autofree char *long_key = NULL;
    const char *key = buf;
    int n = g_snprintf(buf, sizeof(buf), "%s/%u/%u", o->host, o->publisher_pid, o->publisher_index);
    uint64_t *last;

    if (n < 0 || (size_t)n >= sizeof(buf))
        key = long_key = g_strdup_printf("%s/%u/%u", o->host, o->publisher_pid, o->publisher_index);
    last = g_hash_table_lookup(r->last_seq, key);
    if (last && o->sequence_number <= *last)
        return 1;
    if (last == NULL) {
        if (g_hash_table_size(r->last_seq) >= ORIGINS_MAX)
            g_hash_table_remove_all(r->last_seq);
        last = g_new(uint64_t, 1);
        g_hash_table_insert(r->last_seq, long_key ? g_steal_pointer(&long_key) : g_strdup(key),
                            last);
    }
    *last = o->sequence_number;
    return 0;
}

static void deliver(struct route *r, const struct cdr_bytes *s)
{
    const char *host = s->host;
    void *loan;
    int rc;

    if (strcmp(s->encoding, r->codec->name) != 0) {
        ROUTE_COUNT(r, decode_errors);
        if (route_first(r, ROUTE_LOGGED_ENCODING))
            log_warn("%s: a sample from %s is encoded as \"%s\", this bridge decodes \"%s\": set "
                     "the same type for the topic on both hosts",
                     r->cfg->topic, host, s->encoding, r->codec->name);
        return;
    }
    /* Our own host's messages coming back (through a third bridge): never publish them again. */
    if (strcmp(host, r->bridge->host) == 0) {
        ROUTE_COUNT(r, loops);
        return;
    }
    if (duplicate(r, s)) {
        ROUTE_COUNT(r, duplicates);
        return;
    }
    /* The one copy: the codec writes the octets, still in Cyclone's sample, into the loan. */
    rc = r->codec->decode(r->pub, s->data, s->data_length, &loan);
    if (rc == -EBADMSG) {
        ROUTE_COUNT(r, decode_errors);
        if (route_first(r, ROUTE_LOGGED_DECODE))
            log_warn("%s: codec %s refused a sample of %u bytes from %s (malformed); such "
                     "samples are counted as decode errors and dropped",
                     r->cfg->topic, r->codec->name, s->data_length, host);
        return;
    }
    if (rc == 0 && (rc = agnocast_publisher_publish(r->pub, loan)) == 0) {
        ROUTE_COUNT(r, published);
        return;
    }
    ROUTE_COUNT(r, dropped);
    if (route_first(r, ROUTE_LOGGED_PUBLISH))
        log_warn("%s: cannot publish a sample locally (%s: %s); such samples are counted as "
                 "dropped",
                 r->cfg->topic, agnocast_strerror(rc), agnocast_last_error());
}

/* Reads one taken sample where Cyclone keeps it and delivers it. A sample that is not the CDR
 * of a Bytes_ (Cyclone validated it against the type, so only a disagreement between the two
 * readers gets here) is a decode error. */
static void take_one(struct route *r, struct ddsi_serdata *sd)
{
    uint32_t size = ddsi_serdata_size(sd);
    ddsrt_iovec_t ref;
    struct ddsi_serdata *held = ddsi_serdata_to_ser_ref(sd, 0, size, &ref);
    struct cdr_bytes s;

    if (cdr_bytes_parse(ref.iov_base, ref.iov_len, &s) == 0) {
        deliver(r, &s);
    } else {
        ROUTE_COUNT(r, decode_errors);
        if (route_first(r, ROUTE_LOGGED_CDR))
            log_warn("%s: a sample of %u bytes is not the CDR of %s; such samples are counted "
                     "as decode errors and dropped: check that every writer of %s on the other "
                     "hosts is an agnocast-bridge or declares that type",
                     r->cfg->topic, size, agnocast_msgs_msg_dds__Bytes__desc.m_typename,
                     r->dds_name);
    }
    ddsi_serdata_to_ser_unref(held, &ref);
}

/* On a Cyclone thread. The lock orders this against route_in_stop and against another
 * delivery thread of the same reader, so the table has one user. */
static void on_data(dds_entity_t reader, void *arg)
{
    struct route *r = arg;
    struct ddsi_serdata *sd = NULL;
    dds_sample_info_t info;

    g_mutex_lock(&r->in_lock);
    /* Each sample taken is a reference of ours, valid data or not: released here. */
    while (dds_takecdr(reader, &sd, 1, &info, DDS_ANY_STATE) == 1) {
        if (info.valid_data) {
            ROUTE_COUNT(r, received);
            take_one(r, sd);
        }
        ddsi_serdata_unref(sd);
        sd = NULL;
    }
    g_mutex_unlock(&r->in_lock);
}

int route_in_start(struct route *r, GError **error)
{
    const struct topic_config *t = r->cfg;
    unsigned flags = 0;
    dds_listener_t *l;
    int rc;

    if (t->reliable)
        flags |= AGNOCAST_RELIABLE;
    if (t->transient_local)
        flags |= AGNOCAST_TRANSIENT_LOCAL;
    rc = agnocast_publisher_new(r->bridge->ctx, t->topic, t->depth, flags, &r->pub);
    if (rc < 0) {
        g_set_error(error, BRIDGE_ERROR, 0, "cannot publish on %s: %s", t->topic,
                    agnocast_last_error());
        return -1;
    }
    l = dds_create_listener(r);
    dds_lset_data_available(l, on_data);
    r->reader = dds_route_reader(r->bridge->participant, r->topic, t, l, error);
    dds_delete_listener(l);
    return r->reader < 0 ? -1 : 0;
}

void route_in_stop(struct route *r)
{
    /* Cyclone waits for a listener call in progress before the reader is gone: after this no
     * delivery runs, so the publisher can go. */
    if (r->reader > 0)
        dds_delete(r->reader);
    r->reader = 0;
    r->pub = agnocast_publisher_free(r->pub);
}
