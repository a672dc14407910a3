/* The built-in codec "flat": a message whose bytes hold no pointer is its own encoding. */
#include <errno.h>
#include <string.h>

#include "codec.h"

static ssize_t flat_in_place(const struct agnocast_message *msg, const void **bytes)
{
    *bytes = agnocast_message_data(msg);
    return (ssize_t)agnocast_message_size(msg);
}

static int flat_decode(struct agnocast_publisher *pub, const void *bytes, size_t size, void **loan)
{
    int r;

    /* A loan cannot be empty, and an empty message is not one agnocast can have sent. */
    if (size == 0)
        return -EBADMSG;
    if ((r = agnocast_publisher_loan(pub, size, loan)) < 0)
        return r;
    memcpy(*loan, bytes, size);
    return 0;
}

const struct agnocast_bridge_codec codec_flat = {
    .abi = AGNOCAST_BRIDGE_CODEC_ABI,
    .name = "flat",
    .in_place = flat_in_place,
    .decode = flat_decode,
};
