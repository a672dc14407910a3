"""The C-readable head of the image message examples/cpp_talker.cpp publishes
(examples/image-message.h has the table), and its check."""

import ctypes

IMAGE_MAGIC = 0x4D494741  # "AGIM"
IMAGE_VERSION = 1
FNV_BASIS = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3


class ImageHeader(ctypes.Structure):
    """struct image_header: fixed-width, little-endian, 136 bytes, at offset 0 of the C++
    Image. Its std::pmr members are libstdc++'s, not an ABI for Python: this head mirrors
    them (absolute addresses, valid here because the segment has the same address)."""

    _fields_ = [
        ("magic", ctypes.c_uint32),
        ("version", ctypes.c_uint32),
        ("width", ctypes.c_uint32),
        ("height", ctypes.c_uint32),
        ("sequence", ctypes.c_uint64),
        ("self_address", ctypes.c_uint64),
        ("pixels_addr", ctypes.c_uint64),
        ("pixels_len", ctypes.c_uint64),
        ("frame_id_addr", ctypes.c_uint64),
        ("frame_id_len", ctypes.c_uint64),
        ("checksum", ctypes.c_uint64),
        ("frame_id", ctypes.c_char * 64),
    ]


assert ctypes.sizeof(ImageHeader) == 136


def fnv(h, data):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def expected_pixels(n, sequence):
    """Pixel i holds (i * 31 + sequence) mod 256."""
    return bytes((i * 31 + sequence) & 0xFF for i in range(n))


def verify(msg):
    """None if the image is sound, else what is wrong. Every pointer is checked against the
    publisher's segment (msg.read_at does) before it is read."""
    if msg.size < ctypes.sizeof(ImageHeader):
        return "shorter than the image head (%d bytes)" % msg.size
    h = msg.struct(ImageHeader)
    if h.magic != IMAGE_MAGIC or h.version != IMAGE_VERSION:
        return "not an image head (magic 0x%x, version %d)" % (h.magic, h.version)
    if h.self_address != msg.address:
        return "written at 0x%x, read at 0x%x" % (h.self_address, msg.address)
    if h.sequence != msg.sequence:
        return "sequence %d in the head, %d in the metadata" % (h.sequence, msg.sequence)
    if h.pixels_len != h.width * h.height:
        return "%d pixels for %dx%d" % (h.pixels_len, h.width, h.height)
    try:
        pixels = msg.read_at(h.pixels_addr, h.pixels_len)
        frame_id = msg.read_at(h.frame_id_addr, h.frame_id_len + 1)
    except OSError as e:
        return "a pointer leaves the publisher's memory: %s" % e
    if frame_id[-1] != 0 or frame_id[:-1] != h.frame_id:
        return "the frame id string differs from the head's copy"
    if pixels != expected_pixels(h.pixels_len, h.sequence):
        return "wrong pixels"
    if fnv(fnv(FNV_BASIS, frame_id[:-1]), pixels) != h.checksum:
        return "bad checksum"
    return None
