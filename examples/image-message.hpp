/* The image message of cpp_talker and cpp_listener: std::pmr members inside the message, and
 * a C-readable head (image-message.h) mirrored from them before publish. */
#ifndef AGNOCAST_IMAGE_MESSAGE_HPP
#define AGNOCAST_IMAGE_MESSAGE_HPP

#include <agnocast.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory_resource>
#include <string>
#include <vector>

#include "image-message.h"

/* Allocator-aware (allocator_type, a constructor taking it), so Publisher<Image>::loan() hands
 * it the loan's allocator and both members allocate inside the message. */
struct Image {
    using allocator_type = agnocast::allocator;

    image_header hdr; /* first: C and Python read it at offset 0 */
    std::pmr::vector<std::uint8_t> pixels;
    std::pmr::string frame_id;

    explicit Image(const allocator_type &a) : hdr(), pixels(a), frame_id(a)
    {
    }

    /* Fills the pixels with the pattern of `sequence`. */
    void fill(std::uint32_t width, std::uint32_t height, std::uint64_t sequence)
    {
        pixels.resize(static_cast<std::size_t>(width) * height);
        for (std::size_t i = 0; i < pixels.size(); i++)
            pixels[i] = image_pixel(i, sequence);
        hdr.width = width;
        hdr.height = height;
        hdr.sequence = sequence;
    }

    /* Mirrors the members into the C-readable head and stamps the checksum; call last, right
     * before publish (a later change to a member would move what the head points to). */
    void seal()
    {
        hdr.magic = IMAGE_MAGIC;
        hdr.version = IMAGE_VERSION;
        hdr.self = reinterpret_cast<std::uintptr_t>(this);
        hdr.pixels_addr = reinterpret_cast<std::uintptr_t>(pixels.data());
        hdr.pixels_len = pixels.size();
        hdr.frame_id_addr = reinterpret_cast<std::uintptr_t>(frame_id.c_str());
        hdr.frame_id_len = frame_id.size();
        std::size_t n = std::min<std::size_t>(frame_id.size(), IMAGE_FRAME_ID_CAP - 1);
        std::copy_n(frame_id.data(), n, hdr.frame_id);
        std::fill(hdr.frame_id + n, hdr.frame_id + IMAGE_FRAME_ID_CAP, '\0');
        hdr.checksum =
            image_checksum(frame_id.data(), frame_id.size(), pixels.data(), pixels.size());
    }
};

/* The head must sit at offset 0 for C and Python. Image is not standard-layout (libstdc++'s
 * containers are not), so offsetof is only conditionally supported: GCC and Clang answer it
 * for a class without virtual functions or bases, which is what this checks. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"
static_assert(offsetof(Image, hdr) == 0, "the C-readable head is at offset 0");
#pragma GCC diagnostic pop
static_assert(agnocast::is_message_v<Image>, "Image allocates inside the message");

#endif
