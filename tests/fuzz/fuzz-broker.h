/* The broker request handler's fuzz entry point and its input format, shared with the replay. */
#ifndef FUZZ_BROKER_H
#define FUZZ_BROKER_H

#include <stddef.h>
#include <stdint.h>

/*
 * An input is a sequence of records, each a frame one of FUZZ_BROKER_CLIENTS connections sends:
 *   byte 0      bits 0-1: the connection (slots 0 and 3 are one process, so a second
 *               connection of a registered pid is covered); bit 2: an eventfd rides along;
 *               bit 3: a second descriptor (a pipe end, which is not an eventfd) rides along;
 *               bit 4: a sealed memfd rides along, and an ATTACH_SEGMENT frame's base and size
 *               are set to the connection's range for that area first (so attaching can work);
 *               bit 5: the read end of a pipe rides along (a wake channel, HAND_WAKE)
 * Connection i is process FUZZ_BROKER_PID_BASE + i % 3.
 *   bytes 1-2   the frame length L, little-endian (cut to what is left of the input)
 *   L bytes     the frame, handed to the broker's dispatch as if received on that connection
 * After the last record every connection closes, so the clean-up of each process runs too.
 */
#define FUZZ_BROKER_CLIENTS  4
#define FUZZ_BROKER_EVENTFD  0x4u
#define FUZZ_BROKER_EXTRA_FD 0x8u
#define FUZZ_BROKER_SEGMENT  0x10u
#define FUZZ_BROKER_WAKE     0x20u
#define FUZZ_BROKER_PID_BASE 0x7fff0000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the inputs run so far made the broker do, for the replay driver's sanity check. */
struct fuzz_broker_counts {
    unsigned long frames;
    unsigned long replies_ok;    /* OK, HELLO_REPLY, REGISTER_REPLY, lists */
    unsigned long replies_error; /* ERROR */
    unsigned long notices;
    unsigned long drops; /* connections the broker dropped or closed */
};
extern struct fuzz_broker_counts fuzz_broker_counts;

#endif
