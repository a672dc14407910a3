/* The tests' own CDR writer of Bytes_: an output cursor that aligns from the end of the header. */
#include "cdr-sample.h"

#include <string.h>

struct out {
    uint8_t *body;
    size_t pos, cap;
    int little;
    size_t max_align;
    int full;
};

static void put(struct out *o, size_t n, uint64_t v)
{
    size_t a = n < o->max_align ? n : o->max_align;

    while (o->pos % a != 0 && o->pos < o->cap)
        o->body[o->pos++] = 0;
    if (o->pos % a != 0 || o->cap - o->pos < n) {
        o->full = 1;
        return;
    }
    for (size_t i = 0; i < n; i++)
        o->body[o->pos + (o->little ? i : n - 1 - i)] = (uint8_t)(v >> (8 * i));
    o->pos += n;
}

static void put_octets(struct out *o, const void *p, uint32_t n)
{
    put(o, 4, n);
    if (o->full || o->cap - o->pos < n) {
        o->full = 1;
        return;
    }
    memcpy(o->body + o->pos, p, n);
    o->pos += n;
}

static void put_string(struct out *o, const char *s)
{
    put_octets(o, s, (uint32_t)strlen(s) + 1);
}

void cdr_sample_golden(struct cdr_bytes *s)
{
    static const uint8_t data[] = {0xde, 0xad, 0xbe, 0xef, 0x01};

    *s = (struct cdr_bytes){
        .host = "host-a",
        .publisher_pid = 4242,
        .publisher_index = 3,
        .sequence_number = 0x0102030405060708ull,
        .stamp_sec = 1700000000,
        .stamp_nanosec = 123456789,
        .encoding = "flat",
        .data = data,
        .data_length = sizeof(data),
    };
}

size_t cdr_sample_write(const struct cdr_bytes *s, enum cdr_sample_kind kind, uint8_t *buf,
                        size_t cap)
{
    struct out o = {.body = buf + CDR_HEADER_SIZE, .little = kind & 1};
    size_t pad;

    if (cap < CDR_HEADER_SIZE)
        return 0;
    o.cap = cap - CDR_HEADER_SIZE;
    o.max_align = kind == CDR_SAMPLE_XCDR2_BE || kind == CDR_SAMPLE_XCDR2_LE ? 4 : 8;
    put_string(&o, s->host);
    put(&o, 4, s->publisher_pid);
    put(&o, 4, s->publisher_index);
    put(&o, 8, s->sequence_number);
    put(&o, 4, (uint32_t)s->stamp_sec);
    put(&o, 4, s->stamp_nanosec);
    put_string(&o, s->encoding);
    put_octets(&o, s->data, s->data_length);
    pad = (4 - o.pos % 4) % 4;
    if (o.full || o.cap - o.pos < pad)
        return 0;
    memset(o.body + o.pos, 0, pad);
    o.pos += pad;
    /* XTypes 1.3 7.6.3.1.2: the options' last two bits count the padding. */
    buf[0] = 0;
    buf[1] = (uint8_t)kind;
    buf[2] = 0;
    buf[3] = (uint8_t)pad;
    return CDR_HEADER_SIZE + o.pos;
}

const char *cdr_sample_file(enum cdr_sample_kind kind)
{
    switch (kind) {
    case CDR_SAMPLE_XCDR1_BE:
        return "xcdr1-be.bin";
    case CDR_SAMPLE_XCDR1_LE:
        return "xcdr1-le.bin";
    case CDR_SAMPLE_XCDR2_BE:
        return "xcdr2-be.bin";
    case CDR_SAMPLE_XCDR2_LE:
        return "xcdr2-le.bin";
    }
    return "?";
}
