/* A CDR writer of agnocast_msgs::msg::dds_::Bytes_ for the tests of the bridge's reader (cdr.c),
 * written apart from it, and the sample the golden files hold. */
#ifndef BRIDGE_CDR_SAMPLE_H
#define BRIDGE_CDR_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "cdr.h"

/* The encapsulations the reader accepts (the header's second byte). */
enum cdr_sample_kind {
    CDR_SAMPLE_XCDR1_BE = 0x00,
    CDR_SAMPLE_XCDR1_LE = 0x01,
    CDR_SAMPLE_XCDR2_BE = 0x06,
    CDR_SAMPLE_XCDR2_LE = 0x07,
};

/* The sample in tests/bridge/golden/: host "host-a", pid 4242, index 3, sequence
 * 0x0102030405060708, stamp 1700000000.123456789, encoding "flat", data de ad be ef 01 (its
 * 8-byte sequence number lies where XCDR1 and XCDR2 align it differently, and the sample ends
 * 3 bytes short of a multiple of 4). */
void cdr_sample_golden(struct cdr_bytes *s);

/* Writes `s` as `kind` into `buf`: the header (its options counting the padding), the fields,
 * zero padding to a multiple of 4. Returns the size, or 0 if it needs more than `cap`. */
size_t cdr_sample_write(const struct cdr_bytes *s, enum cdr_sample_kind kind, uint8_t *buf,
                        size_t cap);

/* The golden file name of `kind`: "xcdr1-le.bin" and so on. */
const char *cdr_sample_file(enum cdr_sample_kind kind);

#endif
