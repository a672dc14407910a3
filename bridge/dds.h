/* What the bridge asks of Cyclone DDS: a participant, ROS 2 topic names, QoS from the config. */
#ifndef AGNOCAST_BRIDGE_DDS_H
#define AGNOCAST_BRIDGE_DDS_H

#include <dds/dds.h>
#include <glib.h>

#include "bridge.h"

/* ROS 2's name for an agnocast topic: "/chatter" -> "rt/chatter". Free with g_free. */
char *dds_topic_name(const char *topic);

/* A participant in `domain`; Cyclone reads its own configuration from $CYCLONEDDS_URI. */
dds_entity_t dds_participant_new(int domain, GError **error);

/* The topic, writer and reader of one route, with the route's QoS. A reader never matches a
 * writer of its own participant: the bridge's own samples do not come back to it. */
dds_entity_t dds_route_topic(dds_entity_t participant, const struct topic_config *t,
                             GError **error);
dds_entity_t dds_route_writer(dds_entity_t participant, dds_entity_t topic,
                              const struct topic_config *t, GError **error);
dds_entity_t dds_route_reader(dds_entity_t participant, dds_entity_t topic,
                              const struct topic_config *t, dds_listener_t *listener,
                              GError **error);

#endif
