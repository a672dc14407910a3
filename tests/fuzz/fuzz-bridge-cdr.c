/*
 * Fuzz target for agnocast-bridge's CDR reader (cdr_bytes_parse, bridge/cdr.c): any input is
 * judged without crashing or reading out of bounds; a sample it accepts points only into the
 * input, its strings end within it, its fields come in order, and the tests' own writer
 * (tests/bridge/cdr-sample.c) writes it again in the same encapsulation to bytes that read
 * back to the same fields.
 */
#include "fuzz-bridge-cdr.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cdr-sample.h"

static void require(int cond)
{
    if (!cond)
        abort();
}

/* `p` to `p + n` lies within the input. */
static int within(const void *p, size_t n, const uint8_t *data, size_t size)
{
    const uint8_t *b = p;
    return b >= data && b <= data + size && n <= (size_t)(data + size - b);
}

/* A string of the input: its NUL within it. Returns its length. */
static size_t string_within(const char *s, const uint8_t *data, size_t size)
{
    size_t room;

    require(within(s, 1, data, size));
    room = (size_t)(data + size - (const uint8_t *)s);
    require(memchr(s, '\0', room) != NULL);
    return strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cdr_bytes s, again;
    size_t host_len, encoding_len, n;
    uint8_t *out;
    int rc = cdr_bytes_parse(data, size, &s);

    if (rc != 0) {
        require(rc == -EBADMSG);
        return 0;
    }
    require(size >= CDR_HEADER_SIZE && data[0] == 0);
    require(data[1] == CDR_SAMPLE_XCDR1_BE || data[1] == CDR_SAMPLE_XCDR1_LE ||
            data[1] == CDR_SAMPLE_XCDR2_BE || data[1] == CDR_SAMPLE_XCDR2_LE);
    host_len = string_within(s.host, data, size);
    encoding_len = string_within(s.encoding, data, size);
    require(within(s.data, s.data_length, data, size));
    /* In the order of the type, each after the length before it. */
    require((const uint8_t *)s.host >= data + CDR_HEADER_SIZE + 4);
    require(s.encoding > s.host + host_len && s.data > (const uint8_t *)s.encoding + encoding_len);
    /* At most 3 bytes of padding after the data. */
    require((size_t)(data + size - (s.data + s.data_length)) <= 3);

    /* Written again: as long as the input or shorter (a string with a NUL inside is written up
     * to it), padding included, and read back to the same fields. */
    out = malloc(size + 4);
    require(out != NULL);
    n = cdr_sample_write(&s, (enum cdr_sample_kind)data[1], out, size + 4);
    require(n >= CDR_HEADER_SIZE && n <= size + 3);
    require(cdr_bytes_parse(out, n, &again) == 0);
    require(strcmp(again.host, s.host) == 0 && strcmp(again.encoding, s.encoding) == 0);
    require(again.publisher_pid == s.publisher_pid && again.publisher_index == s.publisher_index);
    require(again.sequence_number == s.sequence_number && again.stamp_sec == s.stamp_sec &&
            again.stamp_nanosec == s.stamp_nanosec);
    require(again.data_length == s.data_length && memcmp(again.data, s.data, s.data_length) == 0);
    free(out);
    return 0;
}
