/* DDS -> local: a reader whose listener decodes each sample into a loan and publishes it. */
#include <errno.h>
#include <string.h>

#include "dds.h"
#include "log.h"
#include "route.h"

/* Origins remembered per route for duplicate detection; past this the table starts over (a
 * duplicate may then get through once: at-least-once instead of exactly-once). */
#define ORIGINS_MAX 4096

/* 1 if this origin's sequence number was delivered already (a sender that restarted and sent
 * its publisher's retained history again); otherwise records it and returns 0. */
static int duplicate(struct route *r, const agnocast_msgs_msg_dds__Origin_ *o)
{
    g_autofree char *key =
        g_strdup_printf("%s/%u/%u", o->host, o->publisher_pid, o->publisher_index);
    uint64_t *last = g_hash_table_lookup(r->last_seq, key);

    if (last && o->sequence_number <= *last)
        return 1;
    if (last == NULL) {
        if (g_hash_table_size(r->last_seq) >= ORIGINS_MAX)
            g_hash_table_remove_all(r->last_seq);
        last = g_new(uint64_t, 1);
        g_hash_table_insert(r->last_seq, g_steal_pointer(&key), last);
    }
    *last = o->sequence_number;
    return 0;
}

static void deliver(struct route *r, const agnocast_msgs_msg_dds__Bytes_ *s)
{
    const char *host = s->origin.host ? s->origin.host : "";
    void *loan;
    int rc;

    if (s->encoding == NULL || strcmp(s->encoding, r->codec->name) != 0) {
        ROUTE_COUNT(r, decode_errors);
        if (route_first(r, ROUTE_LOGGED_ENCODING))
            log_warn("%s: a sample from %s is encoded as \"%s\", this bridge decodes \"%s\": set "
                     "the same type for the topic on both hosts",
                     r->cfg->topic, host, s->encoding ? s->encoding : "", r->codec->name);
        return;
    }
    /* Our own host's messages coming back (through a third bridge): never publish them again. */
    if (strcmp(host, r->bridge->host) == 0) {
        ROUTE_COUNT(r, loops);
        return;
    }
    if (duplicate(r, &s->origin)) {
        ROUTE_COUNT(r, duplicates);
        return;
    }
    rc = r->codec->decode(r->pub, s->data._buffer, s->data._length, &loan);
    if (rc == -EBADMSG) {
        ROUTE_COUNT(r, decode_errors);
        if (route_first(r, ROUTE_LOGGED_DECODE))
            log_warn("%s: codec %s refused a sample of %u bytes from %s (malformed); such "
                     "samples are counted as decode errors and dropped",
                     r->cfg->topic, r->codec->name, s->data._length, host);
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

/* On a Cyclone thread. The lock orders this against route_in_stop and against another
 * delivery thread of the same reader, so the sample buffer and the table have one user. */
static void on_data(dds_entity_t reader, void *arg)
{
    struct route *r = arg;
    void *samples[1] = {&r->sample};
    dds_sample_info_t info;

    g_mutex_lock(&r->in_lock);
    while (dds_take(reader, samples, &info, 1, 1) == 1) {
        if (!info.valid_data)
            continue;
        ROUTE_COUNT(r, received);
        deliver(r, &r->sample);
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
     * delivery runs, so the publisher and the sample can go. */
    if (r->reader > 0)
        dds_delete(r->reader);
    r->reader = 0;
    r->pub = agnocast_publisher_free(r->pub);
    dds_sample_free(&r->sample, &agnocast_msgs_msg_dds__Bytes__desc, DDS_FREE_CONTENTS);
    memset(&r->sample, 0, sizeof(r->sample));
}
