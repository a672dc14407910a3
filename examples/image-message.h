/* The C-readable head of the image message cpp_talker publishes, and its check. */
#ifndef AGNOCAST_IMAGE_MESSAGE_H
#define AGNOCAST_IMAGE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <agnocast.h>

/*
 * The C++ message (struct Image, examples/image-message.hpp) starts with this struct at offset
 * 0. Its std::pmr members are libstdc++'s layout, not a stable ABI for C or Python, so the
 * talker mirrors them here before publishing: fixed-width fields, little-endian, no padding
 * (136 bytes). Addresses are absolute and valid in every subscriber (the segment is mapped at
 * the same address); check each with agnocast_message_contains() before reading it.
 *
 *   offset size field
 *        0    4 magic          IMAGE_MAGIC ("AGIM" in memory order)
 *        4    4 version        IMAGE_VERSION
 *        8    4 width          pixels per row
 *       12    4 height         rows
 *       16    8 sequence       the talker's count, 1, 2, 3, ... (= the message's sequence)
 *       24    8 self           the address of this header (= of the message)
 *       32    8 pixels_addr    the std::pmr::vector's data(): pixels_len bytes, one per pixel
 *       40    8 pixels_len     width * height
 *       48    8 frame_id_addr  the std::pmr::string's data(): frame_id_len bytes and a NUL
 *       56    8 frame_id_len   without the NUL
 *       64    8 checksum       image_checksum(): FNV-1a 64 over the frame id's bytes, then the
 *                              pixels
 *       72   64 frame_id       a copy of the frame id, NUL-terminated (cut at 63 bytes)
 *
 * Pixel i holds (uint8_t)(i * 31 + sequence).
 */
#define IMAGE_MAGIC        0x4d494741u /* "AGIM" little-endian */
#define IMAGE_VERSION      1u
#define IMAGE_FRAME_ID_CAP 64

struct image_header {
    uint32_t magic;
    uint32_t version;
    uint32_t width;
    uint32_t height;
    uint64_t sequence;
    uint64_t self;
    uint64_t pixels_addr;
    uint64_t pixels_len;
    uint64_t frame_id_addr;
    uint64_t frame_id_len;
    uint64_t checksum;
    char frame_id[IMAGE_FRAME_ID_CAP];
};

#ifdef __cplusplus
static_assert(sizeof(struct image_header) == 136, "image_header is 136 bytes");
static_assert(offsetof(struct image_header, frame_id) == 72, "frame_id at 72");
#else
_Static_assert(sizeof(struct image_header) == 136, "image_header is 136 bytes");
_Static_assert(offsetof(struct image_header, frame_id) == 72, "frame_id at 72");
#endif

static inline uint64_t image_fnv(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline uint64_t image_checksum(const void *frame_id, size_t frame_id_len, const void *pixels,
                                      size_t pixels_len)
{
    return image_fnv(image_fnv(0xcbf29ce484222325ull, frame_id, frame_id_len), pixels, pixels_len);
}

static inline uint8_t image_pixel(uint64_t i, uint64_t sequence)
{
    return (uint8_t)(i * 31 + sequence);
}

/* Checks a received image against everything a foreign, torn or corrupt message would get
 * wrong, following a pointer only after agnocast_message_contains() vouched for it. NULL when
 * it is good, else what is wrong. */
static inline const char *image_check(const struct agnocast_message *msg)
{
    const struct image_header *h = (const struct image_header *)agnocast_message_data(msg);
    const uint8_t *px;
    const char *id;

    if (agnocast_message_size(msg) < sizeof(*h))
        return "smaller than an image header";
    if (h->magic != IMAGE_MAGIC || h->version != IMAGE_VERSION)
        return "not an image (magic or version)";
    if (h->self != (uint64_t)(uintptr_t)h)
        return "not at the address the talker wrote it at";
    if (h->sequence != agnocast_message_sequence(msg))
        return "sequence differs from the message's";
    if ((uint64_t)h->width * h->height != h->pixels_len)
        return "pixels_len is not width * height";
    px = (const uint8_t *)(uintptr_t)h->pixels_addr;
    id = (const char *)(uintptr_t)h->frame_id_addr;
    if (h->pixels_len == 0 || !agnocast_message_contains(msg, px, h->pixels_len))
        return "pixels outside the publisher's memory";
    if (h->frame_id_len >= SIZE_MAX || !agnocast_message_contains(msg, id, h->frame_id_len + 1))
        return "frame id outside the publisher's memory";
    if (id[h->frame_id_len] != '\0' || memchr(h->frame_id, '\0', IMAGE_FRAME_ID_CAP) == NULL)
        return "frame id not NUL-terminated";
    if (strncmp(h->frame_id, id, IMAGE_FRAME_ID_CAP - 1) != 0)
        return "frame id copy differs from the string";
    for (uint64_t i = 0; i < h->pixels_len; i++)
        if (px[i] != image_pixel(i, h->sequence))
            return "pixel pattern wrong";
    if (image_checksum(id, h->frame_id_len, px, h->pixels_len) != h->checksum)
        return "checksum wrong";
    return NULL;
}

#endif
