/* The round trip through Cyclone DDS alone, the baseline of the bridged one: the same DDS type
 * the bridges write (agnocast_msgs::msg::dds_::Bytes_), the same QoS, each side asleep on a
 * WaitSet as a DDS application is. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dds/dds.h>

#include "Bytes.h"
#include "bench-bridge.h"
#include "bench-util.h"

/* As the bridge bounds a reliable write (bridge/dds.c). */
#define WRITE_BLOCK_MS 100

struct dds_side {
    dds_entity_t pp, writer, reader, ws;
};

static int fail(const char *what, dds_return_t rc)
{
    fprintf(stderr, "bench cyclonedds: %s: %s\n", what, dds_strretcode(rc));
    return -1;
}

static dds_qos_t *qos(void)
{
    dds_qos_t *q = dds_create_qos();

    dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(WRITE_BLOCK_MS));
    dds_qset_durability(q, DDS_DURABILITY_VOLATILE);
    dds_qset_history(q, DDS_HISTORY_KEEP_LAST, BENCH_BRIDGE_DEPTH);
    return q;
}

/* A participant writing `out` and reading `in`, the reader attached to a WaitSet. */
static int side_open(struct dds_side *s, int domain, const char *out, const char *in)
{
    dds_qos_t *q = qos();
    dds_entity_t t_out, t_in, cond;
    int rc = -1;

    s->pp = dds_create_participant((dds_domainid_t)domain, NULL, NULL);
    if (s->pp < 0)
        return fail("participant (check $CYCLONEDDS_URI)", s->pp);
    if ((t_out = dds_create_topic(s->pp, &agnocast_msgs_msg_dds__Bytes__desc, out, q, NULL)) < 0 ||
        (t_in = dds_create_topic(s->pp, &agnocast_msgs_msg_dds__Bytes__desc, in, q, NULL)) < 0) {
        fail("topic", t_out < 0 ? t_out : t_in);
        goto out;
    }
    if ((s->writer = dds_create_writer(s->pp, t_out, q, NULL)) < 0) {
        fail("writer", s->writer);
        goto out;
    }
    if ((s->reader = dds_create_reader(s->pp, t_in, q, NULL)) < 0) {
        fail("reader", s->reader);
        goto out;
    }
    s->ws = dds_create_waitset(s->pp);
    cond = dds_create_readcondition(s->reader, DDS_ANY_STATE);
    if (s->ws < 0 || cond < 0 || dds_waitset_attach(s->ws, cond, 0) < 0) {
        fail("waitset", s->ws < 0 ? s->ws : cond);
        goto out;
    }
    rc = 0;
out:
    dds_delete_qos(q);
    return rc;
}

struct ping_state {
    struct dds_side s;
    uint8_t *buf;
    agnocast_msgs_msg_dds__Bytes_ sample;
};

static void ping_close(void *state)
{
    struct ping_state *st = state;

    if (!st)
        return;
    if (st->s.pp > 0)
        dds_delete(st->s.pp);
    free(st->buf);
    free(st);
}

static int ping_open(int domain, size_t max_size, int timeout_ms, void **state)
{
    struct ping_state *st = calloc(1, sizeof(*st));
    dds_time_t end = dds_time() + DDS_MSECS(timeout_ms);
    dds_publication_matched_status_t pm = {0};
    dds_subscription_matched_status_t sm = {0};

    *state = st;
    if (!st || !(st->buf = calloc(1, max_size)))
        return -1;
    if (side_open(&st->s, domain, BENCH_DDS_PING, BENCH_DDS_PONG) < 0)
        return -1;
    /* Matched both ways before the first message: a volatile reader matched later would not
     * get it. The first round trips still retry (the echo may match this writer last). */
    while (dds_time() < end &&
           (dds_get_publication_matched_status(st->s.writer, &pm) < 0 || pm.current_count < 1 ||
            dds_get_subscription_matched_status(st->s.reader, &sm) < 0 || sm.current_count < 1))
        dds_sleepfor(DDS_MSECS(10));
    if (pm.current_count < 1 || sm.current_count < 1) {
        fprintf(stderr,
                "bench cyclonedds: no echo on host B matched in %d ms (writer %d, reader %d "
                "matched): is it running, with the same CYCLONEDDS_URI peers?\n",
                timeout_ms, pm.current_count, sm.current_count);
        return -1;
    }
    st->sample.origin.host = "bench-ping";
    st->sample.origin.publisher_pid = (uint32_t)getpid();
    st->sample.encoding = "flat";
    st->sample.data._buffer = st->buf;
    st->sample.data._release = false;
    return 0;
}

static int ping_send(void *state, size_t size, uint64_t seq)
{
    struct ping_state *st = state;
    struct bench_hdr *h = (struct bench_hdr *)st->buf;
    struct timespec real;
    dds_return_t rc;

    /* What the bridge's sending side fills in too (bridge/route-out.c). */
    clock_gettime(CLOCK_REALTIME, &real);
    st->sample.origin.stamp.sec = (int32_t)real.tv_sec;
    st->sample.origin.stamp.nanosec = (uint32_t)real.tv_nsec;
    st->sample.origin.sequence_number = seq;
    st->sample.data._length = st->sample.data._maximum = (uint32_t)size;
    h->seq = seq;
    st->buf[size - 1] = (uint8_t)seq;
    h->stamp_ns = bench_now_ns();
    if ((rc = dds_write(st->s.writer, &st->sample)) < 0)
        return fail("write", rc);
    return 0;
}

static int ping_wait(void *state, size_t size, uint64_t seq, int timeout_ms, uint64_t *rtt_ns)
{
    struct ping_state *st = state;
    dds_time_t end = dds_time() + DDS_MSECS(timeout_ms);

    for (;;) {
        void *samples[1];
        dds_sample_info_t info;
        int found = 0;

        /* A loan per take (NULL asks for one), returned before the next. */
        while (!found && (samples[0] = NULL, dds_take(st->s.reader, samples, &info, 1, 1)) == 1) {
            uint64_t now = bench_now_ns();
            const agnocast_msgs_msg_dds__Bytes_ *s = samples[0];
            const struct bench_hdr *h = (const struct bench_hdr *)s->data._buffer;

            if (info.valid_data && s->data._length >= sizeof(*h) && h->seq == seq) {
                found = s->data._length == size ? 1 : -1;
                if (found < 0)
                    fprintf(stderr, "bench cyclonedds: the echo of %zu bytes has %u\n", size,
                            s->data._length);
                *rtt_ns = now > h->stamp_ns ? now - h->stamp_ns : 1;
            }
            dds_return_loan(st->s.reader, samples, 1);
        }
        if (found)
            return found;
        if (dds_time() >= end)
            return 0;
        dds_waitset_wait_until(st->s.ws, NULL, 0, end);
    }
}

static int echo(int domain)
{
    struct dds_side s = {0};
    int rc = -1;

    bench_rt_catch_stop(NULL);
    if (side_open(&s, domain, BENCH_DDS_PONG, BENCH_DDS_PING) < 0)
        goto out;
    printf("echo cyclonedds: ready\n");
    fflush(stdout);
    while (!bench_rt_stopping) {
        void *samples[1];
        dds_sample_info_t info;
        dds_return_t r;

        /* The timeout only lets the loop see a stop. */
        dds_waitset_wait(s.ws, NULL, 0, DDS_MSECS(200));
        while ((samples[0] = NULL, dds_take(s.reader, samples, &info, 1, 1)) == 1) {
            r = info.valid_data ? dds_write(s.writer, samples[0]) : 0;
            dds_return_loan(s.reader, samples, 1);
            if (r < 0) {
                fail("echo write", r);
                goto out;
            }
        }
    }
    rc = 0;
out:
    if (s.pp > 0)
        dds_delete(s.pp);
    return rc;
}

const struct bench_rt_ops bench_rt_dds = {
    .name = "cyclonedds",
    .open = ping_open,
    .send = ping_send,
    .wait = ping_wait,
    .close = ping_close,
    .echo = echo,
};
