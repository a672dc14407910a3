/* The libFuzzer entry point of the bridge's CDR reader, shared by libFuzzer and the replay driver.
 */
#ifndef FUZZ_BRIDGE_CDR_H
#define FUZZ_BRIDGE_CDR_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
