/* Topic names and QoS as the library takes them from its caller and puts them on the wire. */
#include "qos.h"

#include <errno.h>

#include "log.h"

int agn_check_topic(const char *topic)
{
    if (!topic || !agnocast_topic_name_valid(topic))
        return agn_fail(-EINVAL,
                        "invalid topic name \"%s\": a topic is \"/\" followed by segments of "
                        "letters, digits and \"_\" joined by \"/\" (e.g. /sensors/lidar)",
                        topic ? topic : "(null)");
    return 0;
}

int agn_qos_from(unsigned depth, unsigned flags, unsigned allowed, struct agnocast_wire_qos *qos)
{
    if (depth < 1 || depth > AGNOCAST_DEPTH_MAX)
        return agn_fail(-EINVAL, "depth %u is out of range: keep-last depth is 1 to %d", depth,
                        AGNOCAST_DEPTH_MAX);
    if (flags & ~allowed)
        return agn_fail(-EINVAL, "unknown or unsupported flags 0x%x", flags & ~allowed);
    *qos = (struct agnocast_wire_qos){
        .depth = depth,
        .durability = (flags & AGNOCAST_TRANSIENT_LOCAL) ? AGNOCAST_DURABILITY_TRANSIENT_LOCAL
                                                         : AGNOCAST_DURABILITY_VOLATILE,
        .reliability = (flags & AGNOCAST_RELIABLE) ? AGNOCAST_RELIABILITY_RELIABLE
                                                   : AGNOCAST_RELIABILITY_BEST_EFFORT,
        .ignore_local = (flags & AGNOCAST_IGNORE_LOCAL) ? 1 : 0,
    };
    return 0;
}
