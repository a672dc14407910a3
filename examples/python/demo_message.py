"""The pointer-rich message of examples/demo-message.h, read and written from Python.

struct demo_message lives in the publisher's segment; `payload` and `text` are absolute
addresses of nested allocations of the same message, valid in every subscriber because the
segment is mapped at the same address there. A subscriber follows them only after checking
that they lie in the publisher's segment (Message.view_at does)."""

import ctypes
import struct

_MASK = (1 << 64) - 1
_FNV_SEED = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


class DemoMessage(ctypes.Structure):
    """struct demo_message (x86-64 and every LP64 target: seven 64-bit fields)."""

    _fields_ = [
        ("sequence", ctypes.c_uint64),
        ("self_address", ctypes.c_uint64),  # `self` in C: where the talker wrote the message
        ("payload_size", ctypes.c_uint64),
        ("payload", ctypes.c_uint64),  # uint8_t *
        ("text", ctypes.c_uint64),  # char *
        ("text_size", ctypes.c_uint64),  # bytes including the NUL
        ("checksum", ctypes.c_uint64),
    ]


def fnv(h, data):
    """demo_fnv(): FNV-1a over the bytes of a buffer."""
    for b in memoryview(data).cast("B"):
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def checksum(sequence, self_address, payload, text):
    """demo_checksum() of a message whose payload and text are the buffers given."""
    size = len(payload)
    h = fnv(_FNV_SEED, struct.pack("=QQQ", sequence, self_address, size))
    if size <= 65536:
        h = fnv(h, payload)
    else:
        # Large payloads: sample the ends and a stride, as the C checksum does.
        for off in range(0, size, 4096):
            h = fnv(h, payload[off:off + min(8, size - off)])
        h = fnv(h, payload[size - 8:size])
    return fnv(h, text)


def verify(msg):
    """Checks a received agnocast.Message the way examples/listener.c does: None if it is
    sound, else what is wrong. Follows no pointer before the message's segment check."""
    if msg.size < ctypes.sizeof(DemoMessage):
        return "shorter than struct demo_message (%d bytes)" % msg.size
    m = msg.struct(DemoMessage)
    if m.self_address != msg.address:
        return "written at 0x%x, read at 0x%x: not the same mapping" % (m.self_address,
                                                                       msg.address)
    if m.sequence != msg.sequence:
        return "sequence %d in the message, %d in its metadata" % (m.sequence, msg.sequence)
    if m.text_size == 0 or m.payload_size < 8:
        return "empty text or payload"
    if not msg.contains(m.payload, m.payload_size) or not msg.contains(m.text, m.text_size):
        return "a nested pointer lies outside the publisher's segment"
    payload = msg.view_at(m.payload, m.payload_size)
    text = msg.view_at(m.text, m.text_size)
    if text[-1] != 0:
        return "text not NUL-terminated"
    if checksum(m.sequence, m.self_address, payload, text) != m.checksum:
        return "checksum mismatch"
    return None


def text_of(msg):
    """The message's text, as str (after verify())."""
    m = msg.struct(DemoMessage)
    return msg.read_at(m.text, m.text_size - 1).decode("utf-8", "replace")


def publish(pub, sequence, size):
    """Writes one demo message in place in a loan of `pub` (payload bytes all equal to the
    sequence's low byte, as examples/talker.c) and publishes it; returns the sequence number
    the publisher gave it."""
    text = b"message %d\0" % sequence
    with pub.loan(ctypes.sizeof(DemoMessage)) as loan:
        payload_address, payload = loan.alloc(size)
        text_address, text_view = loan.alloc(len(text))
        payload[:] = bytes([sequence & 0xFF]) * size
        text_view[:] = text
        total = checksum(sequence, loan.address, payload, text_view)
        struct.pack_into("=7Q", loan.view, 0, sequence, loan.address, size, payload_address,
                         text_address, len(text), total)
        return pub.publish(loan)
