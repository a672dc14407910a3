/*
 * Writes the sample frame of every kind as DIR/<KIND>.bin: the golden bytes
 * (tests/proto/golden/v<VERSION>/, regenerated only with a protocol version bump) and the
 * fuzz seed corpus (tests/fuzz/corpus/proto/).
 */
#include "proto-sample.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n  writes DIR/<KIND>.bin for every message kind\n", argv[0]);
        return 2;
    }
    const uint16_t *kinds;
    size_t n = agnocast_proto_kinds(&kinds);
    static union agnocast_frame_buffer frame;
    for (size_t i = 0; i < n; i++) {
        ssize_t len = proto_sample_frame(kinds[i], frame.bytes, sizeof(frame.bytes));
        if (len < 0) {
            fprintf(stderr, "%s: no sample frame for kind %u (%s): add one to proto-sample.c\n",
                    argv[0], kinds[i], strerror((int)-len));
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s.bin", argv[1], agnocast_proto_kind_name(kinds[i]));
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(frame.bytes, 1, (size_t)len, f) != (size_t)len || fclose(f) != 0) {
            fprintf(stderr, "%s: cannot write %s: %s (does the directory exist?)\n", argv[0], path,
                    strerror(errno));
            return 1;
        }
    }
    printf("wrote %zu frames to %s\n", n, argv[1]);
    return 0;
}
