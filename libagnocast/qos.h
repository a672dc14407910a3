/* Topic names and QoS as the library takes them from its caller and puts them on the wire. */
#ifndef AGNOCAST_QOS_H
#define AGNOCAST_QOS_H

#include "agnocast-proto.h"

/* 0 if `topic` is a valid topic name, else -EINVAL with a sentence saying what one is. */
int agn_check_topic(const char *topic);
/* The wire QoS of a depth and AGNOCAST_* flags (those in `allowed`); -EINVAL with a sentence. */
int agn_qos_from(unsigned depth, unsigned flags, unsigned allowed, struct agnocast_wire_qos *qos);

#endif
