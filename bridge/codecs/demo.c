/* Codec plugin "demo": the examples' pointer-rich struct demo_message (examples/demo-message.h),
 * carried with its nested payload and text, and rebuilt with nested allocations on arrival. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <agnocast-bridge.h>

#include "demo-message.h"

/*
 * The encoding, little-endian: the sender's sequence, self, payload_size, text_size and
 * checksum (5 x u64), then the payload, then the text with its NUL. The checksum covers the
 * sender's sequence and self, so the receiver checks it against exactly those before it
 * rebuilds the message. `sequence` and `self` describe one hop (the publisher's number and
 * address): the rebuilt message gets the bridge publisher's and a checksum over them, so a
 * listener on the far host verifies it as it would a local one.
 */
#define HEADER_WORDS 5
#define HEADER_SIZE  (HEADER_WORDS * sizeof(uint64_t))
/* The talker's own limits (examples/talker.c --size), and a text far longer than it writes. */
#define PAYLOAD_MIN 8
#define PAYLOAD_MAX (UINT64_C(1) << 30)
#define TEXT_MAX    4096

/* The message as it lies in the publisher's segment, every pointer checked; NULL if it is not
 * a well-formed demo message. */
static const struct demo_message *checked(const struct agnocast_message *msg)
{
    const struct demo_message *m = agnocast_message_data(msg);

    if (agnocast_message_size(msg) < sizeof(*m))
        return NULL;
    if (m->payload_size < PAYLOAD_MIN || m->payload_size > PAYLOAD_MAX || m->text_size == 0 ||
        m->text_size > TEXT_MAX)
        return NULL;
    if (!agnocast_message_contains(msg, m->payload, m->payload_size) ||
        !agnocast_message_contains(msg, m->text, m->text_size))
        return NULL;
    return m;
}

static ssize_t demo_encoded_size(const struct agnocast_message *msg)
{
    const struct demo_message *m = checked(msg);

    if (m == NULL)
        return -EBADMSG;
    return (ssize_t)(HEADER_SIZE + m->payload_size + m->text_size);
}

static int demo_encode(const struct agnocast_message *msg, void *out, size_t size)
{
    const struct demo_message *m = checked(msg);
    uint64_t header[HEADER_WORDS];
    uint8_t *p = out;

    /* The publisher may not change a published message, but it is untrusted: check again. */
    if (m == NULL || size != HEADER_SIZE + m->payload_size + m->text_size)
        return -EBADMSG;
    header[0] = htole64(m->sequence);
    header[1] = htole64(m->self);
    header[2] = htole64(m->payload_size);
    header[3] = htole64(m->text_size);
    header[4] = htole64(m->checksum);
    memcpy(p, header, HEADER_SIZE);
    memcpy(p + HEADER_SIZE, m->payload, m->payload_size);
    memcpy(p + HEADER_SIZE + m->payload_size, m->text, m->text_size);
    return 0;
}

static int demo_decode(struct agnocast_publisher *pub, const void *bytes, size_t size, void **loan)
{
    const uint8_t *p = bytes;
    uint64_t header[HEADER_WORDS];
    struct demo_message sent, *m;
    int r;

    if (size < HEADER_SIZE)
        return -EBADMSG;
    memcpy(header, p, HEADER_SIZE);
    sent.sequence = le64toh(header[0]);
    sent.self = le64toh(header[1]);
    sent.payload_size = le64toh(header[2]);
    sent.text_size = le64toh(header[3]);
    sent.checksum = le64toh(header[4]);
    if (sent.payload_size < PAYLOAD_MIN || sent.payload_size > PAYLOAD_MAX || sent.text_size == 0 ||
        sent.text_size > TEXT_MAX || size != HEADER_SIZE + sent.payload_size + sent.text_size)
        return -EBADMSG;
    /* Checked in the bytes as they arrived, before anything is loaned: the sender's checksum
     * over the sender's fields. */
    sent.payload = (uint8_t *)p + HEADER_SIZE;
    sent.text = (char *)p + HEADER_SIZE + sent.payload_size;
    if (sent.text[sent.text_size - 1] != '\0' || demo_checksum(&sent) != sent.checksum)
        return -EBADMSG;

    if ((r = agnocast_publisher_loan(pub, sizeof(*m), (void **)&m)) < 0)
        return r;
    if ((r = agnocast_loan_alloc(pub, m, sent.payload_size, (void **)&m->payload)) < 0 ||
        (r = agnocast_loan_alloc(pub, m, sent.text_size, (void **)&m->text)) < 0) {
        agnocast_publisher_drop(pub, m);
        return r;
    }
    memcpy(m->payload, sent.payload, sent.payload_size);
    memcpy(m->text, sent.text, sent.text_size);
    m->payload_size = sent.payload_size;
    m->text_size = sent.text_size;
    m->sequence = agnocast_publisher_published(pub) + 1;
    m->self = (uint64_t)(uintptr_t)m;
    m->checksum = demo_checksum(m);
    *loan = m;
    return 0;
}

__attribute__((visibility("default"))) const struct agnocast_bridge_codec agnocast_bridge_codec = {
    .abi = AGNOCAST_BRIDGE_CODEC_ABI,
    .name = "demo",
    .encoded_size = demo_encoded_size,
    .encode = demo_encode,
    .decode = demo_decode,
};
