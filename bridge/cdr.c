/* The CDR reader of the one DDS type the bridge receives (msg/Bytes.idl), through a bounds-checked
 * cursor: the bytes came over the network. */
#include "cdr.h"

#include <errno.h>

/* Encapsulation identifiers (the header's second byte; its first is 0), as DDSI-RTPS 2.5 numbers
 * them and Cyclone DDS writes them. Bit 0 is the byte order. */
enum {
    CDR_ID_CDR_BE = 0x00, /* XCDR1, plain */
    CDR_ID_CDR_LE = 0x01,
    CDR_ID_CDR2_BE = 0x06, /* XCDR2, plain: what a @final type is in XCDR2 */
    CDR_ID_CDR2_LE = 0x07,
};

/* Offsets count from the end of the encapsulation header: CDR aligns relative to there. */
struct cdr_cursor {
    const uint8_t *body;
    size_t pos, end;
    int little;
    size_t max_align; /* XCDR1 aligns 8-byte values to 8, XCDR2 to 4 */
};

static int cdr_align(struct cdr_cursor *c, size_t n)
{
    size_t a = n < c->max_align ? n : c->max_align;
    size_t pad = (a - c->pos % a) % a;

    if (pad > c->end - c->pos)
        return -EBADMSG;
    c->pos += pad;
    return 0;
}

/* An unsigned value of `n` bytes (4 or 8), aligned to `n`, in the sample's byte order. */
static int cdr_get(struct cdr_cursor *c, size_t n, uint64_t *v)
{
    const uint8_t *p;

    if (cdr_align(c, n) < 0 || c->end - c->pos < n)
        return -EBADMSG;
    p = c->body + c->pos;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = *v << 8 | p[c->little ? n - 1 - i : i];
    c->pos += n;
    return 0;
}

static int cdr_get_u32(struct cdr_cursor *c, uint32_t *v)
{
    uint64_t w;

    if (cdr_get(c, 4, &w) < 0)
        return -EBADMSG;
    *v = (uint32_t)w;
    return 0;
}

/* A sequence of octets: its length, then the octets; *bytes points at them in place. */
static int cdr_get_octets(struct cdr_cursor *c, const uint8_t **bytes, uint32_t *n)
{
    if (cdr_get_u32(c, n) < 0 || *n > c->end - c->pos)
        return -EBADMSG;
    *bytes = c->body + c->pos;
    c->pos += *n;
    return 0;
}

/* A string: its length with the NUL, then the characters and the NUL. One without its NUL, or
 * of length 0, is malformed (Cyclone's own deserializer refuses both); one with a NUL inside
 * reads up to that NUL, as Cyclone's deserializer would give it. */
static int cdr_get_string(struct cdr_cursor *c, const char **s)
{
    const uint8_t *p;
    uint32_t n;

    if (cdr_get_octets(c, &p, &n) < 0 || n == 0 || p[n - 1] != '\0')
        return -EBADMSG;
    *s = (const char *)p;
    return 0;
}

int cdr_bytes_parse(const void *ser, size_t size, struct cdr_bytes *out)
{
    const uint8_t *h = ser;
    struct cdr_cursor c = {0};
    uint32_t sec;

    if (size < CDR_HEADER_SIZE || h[0] != 0)
        return -EBADMSG;
    switch (h[1]) {
    case CDR_ID_CDR_BE:
    case CDR_ID_CDR_LE:
        c.max_align = 8;
        break;
    case CDR_ID_CDR2_BE:
    case CDR_ID_CDR2_LE:
        c.max_align = 4;
        break;
    default:
        /* Parameter lists and delimited XCDR2 are for mutable and appendable types. */
        return -EBADMSG;
    }
    c.little = h[1] & 1;
    /* The options (h[2], h[3]) only say how much padding ends the sample; checked below. */
    c.body = h + CDR_HEADER_SIZE;
    c.end = size - CDR_HEADER_SIZE;

    if (cdr_get_string(&c, &out->host) < 0 || cdr_get_u32(&c, &out->publisher_pid) < 0 ||
        cdr_get_u32(&c, &out->publisher_index) < 0 || cdr_get(&c, 8, &out->sequence_number) < 0 ||
        cdr_get_u32(&c, &sec) < 0 || cdr_get_u32(&c, &out->stamp_nanosec) < 0 ||
        cdr_get_string(&c, &out->encoding) < 0 ||
        cdr_get_octets(&c, &out->data, &out->data_length) < 0)
        return -EBADMSG;
    out->stamp_sec = (int32_t)sec;
    /* A DDSI sample's size is a multiple of 4: up to 3 bytes may pad it after the last field,
     * whether or not the options count them (older writers do not). Anything else is left over. */
    if (c.pos != c.end && (c.end - c.pos > 3 || c.end % 4 != 0))
        return -EBADMSG;
    return 0;
}
