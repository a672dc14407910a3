/* The libFuzzer entry point of the protocol decoder, shared by libFuzzer and the replay driver. */
#ifndef FUZZ_PROTO_H
#define FUZZ_PROTO_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
