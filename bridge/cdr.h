/* Reading a received agnocast_msgs::msg::dds_::Bytes_ in place from its serialized form (CDR). */
#ifndef AGNOCAST_BRIDGE_CDR_H
#define AGNOCAST_BRIDGE_CDR_H

#include <stddef.h>
#include <stdint.h>

/* The encapsulation header before every serialized sample. */
#define CDR_HEADER_SIZE 4

/* One sample as msg/Bytes.idl declares it. The pointers point into the bytes given to
 * cdr_bytes_parse and are valid as long as they are; the strings are NUL-terminated there. */
struct cdr_bytes {
    const char *host;
    uint32_t publisher_pid;
    uint32_t publisher_index;
    uint64_t sequence_number;
    int32_t stamp_sec;
    uint32_t stamp_nanosec;
    const char *encoding;
    const uint8_t *data;
    uint32_t data_length;
};

/*
 * Reads the `size` bytes at `ser` (the encapsulation header, then the sample) into *out without
 * copying a byte of them. Accepts what a DDS writer may send for a @final type: plain CDR
 * (XCDR1, 8-byte values aligned to 8) or plain XCDR2 (aligned to 4), either byte order; and
 * after the last field at most 3 bytes that pad the whole to a multiple of 4. `ser` needs no
 * alignment. Returns 0, or -EBADMSG (another encapsulation, a length past the end, a string
 * without its NUL, bytes left over); *out is then undefined.
 */
int cdr_bytes_parse(const void *ser, size_t size, struct cdr_bytes *out);

#endif
