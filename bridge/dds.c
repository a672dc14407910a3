/* Cyclone DDS entities for the bridge: the DDS type is the one idlc generated from msg/Bytes.idl.
 */
#include <errno.h>

#include "Bytes.h"
#include "dds.h"

/* How long a reliable write may wait for room in the history before it fails (keep-last
 * writers never wait; the bound is for Cyclone's resource limits). */
#define WRITE_BLOCK_MS 100

char *dds_topic_name(const char *topic)
{
    return g_strconcat("rt", topic, NULL);
}

static int fail(GError **error, dds_return_t rc, const char *what, const char *name)
{
    g_set_error(error, BRIDGE_ERROR, 0, "cannot create the DDS %s for %s: %s", what, name,
                dds_strretcode(rc));
    return rc;
}

dds_entity_t dds_participant_new(int domain, GError **error)
{
    dds_entity_t p = dds_create_participant((dds_domainid_t)domain, NULL, NULL);

    if (p < 0)
        g_set_error(error, BRIDGE_ERROR, 0,
                    "cannot join DDS domain %d: %s; check the Cyclone DDS configuration "
                    "($CYCLONEDDS_URI) names an interface this host has",
                    domain, dds_strretcode(p));
    return p;
}

static dds_qos_t *route_qos(const struct topic_config *t)
{
    dds_qos_t *q = dds_create_qos();

    if (t->reliable)
        dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(WRITE_BLOCK_MS));
    else
        dds_qset_reliability(q, DDS_RELIABILITY_BEST_EFFORT, 0);
    dds_qset_durability(q, t->transient_local ? DDS_DURABILITY_TRANSIENT_LOCAL
                                              : DDS_DURABILITY_VOLATILE);
    dds_qset_history(q, DDS_HISTORY_KEEP_LAST, (int32_t)t->depth);
    /* Cyclone keeps for late-joining readers what the durability-service history says, 1 by
     * default, not the writer's history: a reader matched after a restart got only the last of
     * the messages written before it. The same depth, as rmw_cyclonedds sets it for ROS 2. */
    if (t->transient_local)
        dds_qset_durability_service(q, 0, DDS_HISTORY_KEEP_LAST, (int32_t)t->depth,
                                    DDS_LENGTH_UNLIMITED, DDS_LENGTH_UNLIMITED,
                                    DDS_LENGTH_UNLIMITED);
    return q;
}

dds_entity_t dds_route_topic(dds_entity_t participant, const struct topic_config *t, GError **error)
{
    g_autofree char *name = dds_topic_name(t->topic);
    dds_qos_t *q = route_qos(t);
    dds_entity_t topic =
        dds_create_topic(participant, &agnocast_msgs_msg_dds__Bytes__desc, name, q, NULL);

    dds_delete_qos(q);
    if (topic < 0)
        fail(error, topic, "topic", name);
    return topic;
}

dds_entity_t dds_route_writer(dds_entity_t participant, dds_entity_t topic,
                              const struct topic_config *t, GError **error)
{
    dds_qos_t *q = route_qos(t);
    dds_entity_t w = dds_create_writer(participant, topic, q, NULL);

    dds_delete_qos(q);
    if (w < 0)
        fail(error, w, "writer", t->topic);
    return w;
}

dds_entity_t dds_route_reader(dds_entity_t participant, dds_entity_t topic,
                              const struct topic_config *t, dds_listener_t *listener,
                              GError **error)
{
    dds_qos_t *q = route_qos(t);
    dds_entity_t r;

    dds_qset_ignorelocal(q, DDS_IGNORELOCAL_PARTICIPANT);
    r = dds_create_reader(participant, topic, q, listener);
    dds_delete_qos(q);
    if (r < 0)
        fail(error, r, "reader", t->topic);
    return r;
}
