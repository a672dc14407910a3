/* A plain Cyclone DDS program on a bridged topic, for the tests: it subscribes as a DDS user on
 * another host would, or writes samples the bridge must refuse. It knows nothing of agnocast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dds/dds.h>

#include "Bytes.h"

static dds_time_t deadline(double seconds)
{
    return dds_time() + (dds_duration_t)(seconds * 1e9);
}

static dds_entity_t make_topic(dds_entity_t pp, const char *name)
{
    dds_qos_t *q = dds_create_qos();
    dds_entity_t t;

    dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
    t = dds_create_topic(pp, &agnocast_msgs_msg_dds__Bytes__desc, name, q, NULL);
    dds_delete_qos(q);
    return t;
}

/* sub: takes samples until sequence numbers `first` to `last` all arrived (a bridge restarted
 * upstream may send some twice: they count once) or the time is up; prints one line per sample
 * and a summary. Exit 0 when all arrived. */
static int sub(dds_entity_t pp, dds_entity_t topic, long first, long last, double seconds)
{
    dds_qos_t *q = dds_create_qos();
    dds_entity_t reader, ws;
    long want = last - first + 1, got = 0, samples_seen = 0;
    char *seen = calloc((size_t)last + 1, 1);
    dds_time_t end = deadline(seconds);

    dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
    dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
    /* Transient-local like the bridged topic: a writer matched late (discovery on a loaded
     * machine, or bridge A restarted and republishing) still hands over what it holds; a
     * volatile reader would lose what was written before the match, which DDS allows. */
    dds_qset_durability(q, DDS_DURABILITY_TRANSIENT_LOCAL);
    reader = dds_create_reader(pp, topic, q, NULL);
    dds_delete_qos(q);
    if (reader < 0) {
        fprintf(stderr, "dds-peer: cannot create a reader: %s\n", dds_strretcode(reader));
        return 1;
    }
    ws = dds_create_waitset(pp);
    dds_waitset_attach(ws, dds_create_readcondition(reader, DDS_ANY_STATE), 0);
    printf("dds-peer: subscribed\n");
    fflush(stdout);
    while (got < want && dds_time() < end) {
        void *samples[1] = {NULL};
        dds_sample_info_t info;

        dds_waitset_wait_until(ws, NULL, 0, end);
        while (got < want && dds_take(reader, samples, &info, 1, 1) == 1) {
            const agnocast_msgs_msg_dds__Bytes_ *s = samples[0];
            if (info.valid_data) {
                unsigned long long seq = s->origin.sequence_number;
                samples_seen++;
                if (seq >= (unsigned long long)first && seq <= (unsigned long long)last &&
                    !seen[seq]) {
                    seen[seq] = 1;
                    got++;
                }
                printf("sample host=%s pid=%u index=%u seq=%llu encoding=%s bytes=%u\n",
                       s->origin.host, s->origin.publisher_pid, s->origin.publisher_index,
                       (unsigned long long)s->origin.sequence_number, s->encoding, s->data._length);
            }
            dds_return_loan(reader, samples, 1);
        }
    }
    printf("dds-peer: received %ld of %ld (%ld samples)\n", got, want, samples_seen);
    free(seen);
    return got >= want ? 0 : 1;
}

/* bad: waits for a reader, then writes `n` samples encoded "demo" whose bytes no demo message
 * has (too short, then a wrong checksum), one in an encoding the bridge does not use, and one
 * that claims to come from `loop_host` (the receiving bridge's own name: a loop). */
static int bad(dds_entity_t pp, dds_entity_t topic, long n, double seconds, const char *loop_host)
{
    dds_qos_t *q = dds_create_qos();
    dds_entity_t writer;
    dds_publication_matched_status_t st = {0};
    dds_time_t end = deadline(seconds);
    static uint8_t junk[64];

    dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_MSECS(100));
    dds_qset_history(q, DDS_HISTORY_KEEP_ALL, 0);
    /* Offers the most a reader may ask for: a transient-local reader matches no volatile
     * writer. */
    dds_qset_durability(q, DDS_DURABILITY_TRANSIENT_LOCAL);
    writer = dds_create_writer(pp, topic, q, NULL);
    dds_delete_qos(q);
    while (dds_time() < end && dds_get_publication_matched_status(writer, &st) == 0 &&
           st.current_count == 0)
        dds_sleepfor(DDS_MSECS(20));
    if (st.current_count == 0) {
        fprintf(stderr, "dds-peer: no reader matched in %.0f s\n", seconds);
        return 1;
    }
    memset(junk, 0xa5, sizeof(junk));
    for (long i = 0; i <= n + 1; i++) {
        agnocast_msgs_msg_dds__Bytes_ s = {0};
        s.origin.host = i <= n ? "dds-peer" : (char *)loop_host;
        s.origin.publisher_pid = 1;
        s.origin.sequence_number = (unsigned long long)i + 1;
        s.encoding = i < n ? "demo" : i == n ? "not-a-codec" : "demo";
        s.data._buffer = junk;
        s.data._length = s.data._maximum = (uint32_t)(i % 2 ? sizeof(junk) : 3);
        if (dds_write(writer, &s) < 0) {
            fprintf(stderr, "dds-peer: write failed\n");
            return 1;
        }
    }
    /* Reliable: stay until the reader has acknowledged everything. */
    dds_wait_for_acks(writer, DDS_SECS(5));
    printf("dds-peer: wrote %ld malformed samples, 1 in a foreign encoding, 1 from %s\n", n,
           loop_host);
    return 0;
}

int main(int argc, char **argv)
{
    dds_entity_t pp, topic;
    char name[512];
    long first = 1, last = 0;
    int r;

    if (!(argc == 5 && strcmp(argv[1], "sub") == 0) &&
        !(argc == 6 && strcmp(argv[1], "bad") == 0)) {
        fprintf(stderr, "usage: bridge-dds-peer sub /TOPIC [FIRST:]LAST SECONDS\n"
                        "       bridge-dds-peer bad /TOPIC COUNT SECONDS LOOP_HOST\n"
                        "sub: receive sequence numbers FIRST (default 1) to LAST on rt/TOPIC; bad: "
                        "write COUNT malformed samples and two more. Domain from $DDS_DOMAIN "
                        "(default 0).\n");
        return 2;
    }
    if (strcmp(argv[1], "sub") == 0 && sscanf(argv[3], "%ld:%ld", &first, &last) != 2 &&
        (first = 1, last = atol(argv[3])) < 1) {
        fprintf(stderr, "dds-peer: %s is not LAST or FIRST:LAST\n", argv[3]);
        return 2;
    }
    snprintf(name, sizeof(name), "rt%s", argv[2]);
    pp = dds_create_participant(
        getenv("DDS_DOMAIN") ? (dds_domainid_t)atoi(getenv("DDS_DOMAIN")) : 0, NULL, NULL);
    if (pp < 0 || (topic = make_topic(pp, name)) < 0) {
        fprintf(stderr, "dds-peer: cannot join DDS: %s\n", dds_strretcode(pp));
        return 1;
    }
    if (strcmp(argv[1], "sub") == 0)
        r = sub(pp, topic, first, last, atof(argv[4]));
    else
        r = bad(pp, topic, atol(argv[3]), atof(argv[4]), argv[5]);
    dds_delete(pp);
    return r;
}
