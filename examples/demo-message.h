/* The pointer-rich message the examples exchange, and its checksum. */
#ifndef AGNOCAST_DEMO_MESSAGE_H
#define AGNOCAST_DEMO_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

/* Lives in the publisher's segment; `payload` and `text` point to nested allocations of the
 * same message, valid in every subscriber because the segment has the same address there. */
struct demo_message {
    uint64_t sequence;
    uint64_t self; /* the address at which the talker wrote this message */
    uint64_t payload_size;
    uint8_t *payload;
    char *text;
    uint64_t text_size; /* bytes including the NUL */
    uint64_t checksum;  /* demo_checksum() of everything above and what it points to */
};

static inline uint64_t demo_fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline uint64_t demo_checksum(const struct demo_message *m)
{
    uint64_t h = 0xcbf29ce484222325ull;

    h = demo_fnv(h, &m->sequence, sizeof(m->sequence));
    h = demo_fnv(h, &m->self, sizeof(m->self));
    h = demo_fnv(h, &m->payload_size, sizeof(m->payload_size));
    /* Large payloads: sample the ends and a stride so the checksum stays cheap but still sees
     * a torn or foreign buffer. */
    if (m->payload_size <= 65536) {
        h = demo_fnv(h, m->payload, m->payload_size);
    } else {
        for (uint64_t off = 0; off < m->payload_size; off += 4096)
            h = demo_fnv(h, m->payload + off,
                         8 < m->payload_size - off ? 8 : m->payload_size - off);
        h = demo_fnv(h, m->payload + m->payload_size - 8, 8);
    }
    h = demo_fnv(h, m->text, m->text_size);
    return h;
}

#endif
