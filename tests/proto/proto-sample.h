/* Fixed sample payloads of every message kind, for the unit, golden and fuzz-corpus programs. */
#ifndef PROTO_SAMPLE_H
#define PROTO_SAMPLE_H

#include "agnocast-proto.h"

/* The request id the samples carry: a function of the kind, so frames differ in the header. */
uint32_t proto_sample_request_id(uint16_t kind);

/* Lays out the sample payload of `kind` in `payload` (cap bytes, 8-byte aligned); returns its
 * length, or -1 for an unknown kind or too small a buffer. Every byte is set, padding too. */
ssize_t proto_sample_payload(uint16_t kind, void *payload, size_t cap);

/* The whole sample frame of `kind` in `buf`: the encoder's return value. */
ssize_t proto_sample_frame(uint16_t kind, void *buf, size_t cap);

#endif
