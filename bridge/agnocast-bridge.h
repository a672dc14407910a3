/* agnocast-bridge: the codec interface that turns agnocast messages into bytes for DDS and back. */
#ifndef AGNOCAST_BRIDGE_H
#define AGNOCAST_BRIDGE_H

/*
 * agnocast-bridge carries a topic between hosts as the DDS type agnocast_msgs::msg::dds_::Bytes_
 * (an origin header, the codec's name, and a sequence of octets). A codec says how one message
 * type becomes those octets and how the octets become a message again, on the other host, in
 * a loan of the bridge's local publisher.
 *
 * Sending: the bridge holds a received message (borrowed, read in place in the publisher's
 * segment) and asks the codec for its bytes in one of two ways:
 *  - in_place (optional): the bytes are already somewhere inside the message, contiguous (a
 *    flat message is its own encoding). The codec returns a pointer into the message and its
 *    length; the bridge hands that memory straight to DDS, which serializes from it.
 *  - encoded_size + encode: the codec says how many bytes it needs, the bridge gives a buffer
 *    of that size (its own, reused), and the codec writes them. For messages that hold
 *    pointers: follow each one only after agnocast_message_contains() says it lies in the
 *    publisher's segment (publishers are untrusted).
 * Receiving: decode builds a loan of the bridge's publisher from the bytes
 * (agnocast_publisher_loan, then agnocast_loan_alloc for every nested allocation) and returns
 * it; the bridge publishes it at once. The bytes are where DDS keeps the received sample
 * (read-only, valid only during the call: decode's copy into the loan is the only one made on
 * the way in), and came over the network: untrusted, check every length before using it.
 *
 * Errors: negative errno. encode/in_place: -EBADMSG the message is not what the codec expects
 * (counted as an encode error, not sent). decode: -EBADMSG the bytes are malformed (counted as
 * a decode error, dropped); -ENOMEM the pool is full (counted as dropped). On any failure decode
 * drops the loan it made (agnocast_publisher_drop): the bridge never sees it.
 *
 * Threads: the bridge calls encode on its dispatching thread and decode on the DDS thread that
 * delivers the topic's samples, one sample at a time per topic; a codec must not keep
 * per-message state between calls, and may be used by several topics at once.
 *
 * A codec is either built into the bridge ("flat") or a plugin: a shared object NAME.so in the
 * bridge's codec directory (agnocast-bridge --codec-dir, or `codec_dir` in the config) that
 * exports `const struct agnocast_bridge_codec agnocast_bridge_codec` with `abi` set to
 * AGNOCAST_BRIDGE_CODEC_ABI and `name` equal to NAME. A topic's `type` in the config picks it.
 * Build one with:
 *     cc -shared -fPIC -o NAME.so NAME.c $(pkg-config --cflags --libs agnocast)
 */

#include <stddef.h>
#include <sys/types.h>

#include <agnocast.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when struct agnocast_bridge_codec changes; the bridge refuses another value. */
#define AGNOCAST_BRIDGE_CODEC_ABI 1

/* The name of the descriptor a codec plugin exports. */
#define AGNOCAST_BRIDGE_CODEC_SYMBOL "agnocast_bridge_codec"

struct agnocast_bridge_codec {
    /* AGNOCAST_BRIDGE_CODEC_ABI. */
    unsigned abi;
    /* The type name a topic's `type` selects, and the `encoding` each sample carries: letters,
     * digits, '_' and '-', at most 63 bytes. */
    const char *name;
    /* Optional (NULL: always encode). Sets *bytes to the message's encoding where it lies in
     * the message (valid while the bridge holds it) and returns its length, or a negative
     * errno. */
    ssize_t (*in_place)(const struct agnocast_message *msg, const void **bytes);
    /* The exact number of bytes encode will write for `msg`, or a negative errno. */
    ssize_t (*encoded_size)(const struct agnocast_message *msg);
    /* Writes the encoding of `msg` into `out` (`size` bytes, as encoded_size returned).
     * Returns 0 or a negative errno. */
    int (*encode)(const struct agnocast_message *msg, void *out, size_t size);
    /* Builds a message in a loan of `pub` from `size` bytes at `bytes`, and sets *loan to it
     * (the bridge publishes it at once, so its sequence number there will be
     * agnocast_publisher_published(pub) + 1). Returns 0 or a negative errno, having dropped
     * its loan. */
    int (*decode)(struct agnocast_publisher *pub, const void *bytes, size_t size, void **loan);
};

#ifdef __cplusplus
}
#endif

#endif
