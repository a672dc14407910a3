/* The reader's fuzz targets: notices and reader calls, each followed by the checks of
 * fuzz-reader.h. */
#include "fuzz-reader.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned notice_epoch; /* bumped by every notice: sources may have changed */

static uint64_t cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- checks ---- */

/* Reads every page of [p, p + len): what the library hands out must be mapped. */
static void touch(uint64_t p, uint64_t len)
{
    volatile const unsigned char *b = (const unsigned char *)(uintptr_t)p;
    unsigned char sink = 0;

    if (len == 0)
        return;
    for (uint64_t o = 0; o < len; o += 4096)
        sink ^= b[o];
    sink ^= b[len - 1];
    (void)sink;
}

static bool within(uint64_t p, uint64_t len, uint64_t base, uint64_t size)
{
    return p >= base && p - base <= size && len <= size - (p - base);
}

/* Whether [p, p + len) lies in the own segment, or in the peer's segment or one of its
 * growth areas that the library has mapped. */
static bool reachable(const struct agn_peer *peer, uint64_t p, uint64_t len)
{
    if (!peer)
        return within(p, len, FUZZ_OWN_BASE, FUZZ_OWN_SIZE);
    if (within(p, len, peer->base, peer->size))
        return true;
    for (int i = 0; i < AGN_MAX_AREAS; i++)
        if (peer->area_size[i] && within(p, len, peer->area_base[i], peer->area_size[i]))
            return true;
    return false;
}

/* Every mapping the library made is one the checks should have let through. */
static void check_peers(void)
{
    const struct agnocast_context *ctx = fuzz.ctx;

    for (int i = 0; i < AGN_MAX_PEERS; i++) {
        const struct agn_peer *p = &ctx->peers[i];
        if (!p->in_use)
            continue;
        if (p->base != FUZZ_SEG_BASE || p->size != fuzz.seg.size || p->pid != FUZZ_PEER_PID)
            fuzz_fail("peer %d mapped at 0x%llx (%llu bytes): not the segment the notices "
                      "vouched for",
                      (int)p->pid, (unsigned long long)p->base, (unsigned long long)p->size);
        if (fuzz.seg.kind != FUZZ_FD_GOOD)
            fuzz_fail("the library mapped a segment that is %s",
                      fuzz.seg.kind == FUZZ_FD_SHORT ? "shorter than announced" : "not sealed");
        if (!fuzz_seg_poked() &&
            ((const struct agn_seg_header *)(uintptr_t)p->base)->reserved_areas != FUZZ_MARK_GOOD)
            fuzz_fail("the library mapped a copy of the segment it should have refused");
        for (int a = 0; a < AGN_MAX_AREAS; a++) {
            uint64_t mark;
            if (!p->area_size[a])
                continue;
            if (p->area_base[a] % 4096 || !fuzz_page_mapped(p->area_base[a]))
                fuzz_fail("growth area %d is recorded at 0x%llx but not mapped", a + 1,
                          (unsigned long long)p->area_base[a]);
            mark = *(const uint64_t *)(uintptr_t)p->area_base[a];
            if (mark == FUZZ_MARK_BAD)
                fuzz_fail("growth area %d at 0x%llx was mapped from a descriptor the checks "
                          "must refuse",
                          a + 1, (unsigned long long)p->area_base[a]);
            if (within(p->area_base[a], p->area_size[a], p->base, p->size))
                fuzz_fail("growth area %d overlaps the segment", a + 1);
        }
    }
}

static void check_counters(void)
{
    for (unsigned i = 0; i < 2; i++) {
        uint64_t cur[4];
        unsigned __int128 sum, prev_sum, start_sum, bound;
        fuzz_stats(i, cur);
        for (int k = 1; k < 4; k++)
            if (cur[k] < fuzz.prev[i][k])
                fuzz_fail("subscription %u: counter %d went from %llu down to %llu (wrapped?)", i,
                          k, (unsigned long long)fuzz.prev[i][k], (unsigned long long)cur[k]);
        sum = (unsigned __int128)cur[0] + cur[1];
        prev_sum = (unsigned __int128)fuzz.prev[i][0] + fuzz.prev[i][1];
        start_sum = (unsigned __int128)fuzz.start[i][0] + fuzz.start[i][1];
        if (sum < prev_sum)
            fuzz_fail("subscription %u: received + missed went down", i);
        /* Each source instance's position only moves forward, never past the largest message
         * number its publisher wrote plus one: so neither can what it counts. */
        bound = (unsigned __int128)fuzz.instances[i] * ((unsigned __int128)fuzz.max_word + 1);
        if (sum - start_sum > bound && cur[1] != UINT64_MAX)
            fuzz_fail("subscription %u: received + missed grew by more than its publishers' "
                      "numbers allow (%u instances, largest word 0x%llx)",
                      i, fuzz.instances[i], (unsigned long long)fuzz.max_word);
        if (cur[2] - fuzz.start[i][2] >= (1ull << 41) || cur[3] - fuzz.start[i][3] >= (1ull << 41))
            fuzz_fail("subscription %u: corrupt or unreachable past 2^41", i);
        if (!(fuzz.start[i][1] > (1ull << 41)) && fuzz.max_word < (1ull << 30) &&
            fuzz.instances[i] < 1024 && cur[1] >= (1ull << 41))
            fuzz_fail("subscription %u: missed past 2^41 with small message numbers", i);
        memcpy(fuzz.prev[i], cur, sizeof(cur));
    }
}

static void check_message(unsigned sub_i, struct agnocast_message *m, bool check_seq)
{
    const struct agnocast_subscription *sub = fuzz.sub[sub_i];
    uint64_t data = (uintptr_t)m->data, size = m->size;
    bool own = m->peer == NULL;

    fuzz_counts.delivered++;
    if (!m->in_use)
        fuzz_fail("a delivered handle is not in use");
    if (own ? m->pub_pid != fuzz.ctx->pid : m->pub_pid != m->peer->pid)
        fuzz_fail("message from %d handed over with the wrong publisher", (int)m->pub_pid);
    if (!reachable(m->peer, data, size))
        fuzz_fail("message %llu of %d/%u at 0x%llx, %llu bytes, lies outside its publisher's "
                  "mapped memory",
                  (unsigned long long)m->seq, (int)m->pub_pid, m->pub_index,
                  (unsigned long long)data, (unsigned long long)size);
    touch(data, size);
    if (m->pub_index >= AGN_MAX_PUBS)
        fuzz_fail("publisher index %u out of range", m->pub_index);
    if (check_seq) {
        uint64_t *last = &fuzz.last_seq[sub_i][own][m->pub_index];
        if (m->seq <= *last)
            fuzz_fail("subscription %u: message %llu of %d/%u after %llu", sub_i,
                      (unsigned long long)m->seq, (int)m->pub_pid, m->pub_index,
                      (unsigned long long)*last);
        *last = m->seq;
    }
    for (unsigned s = 0; s < sub->nsources; s++) {
        const struct agn_source *src = &sub->sources[s];
        if (src->pid == m->pub_pid && src->index == m->pub_index && !src->history &&
            m->timestamp_ns < sub->created_ns)
            fuzz_fail("volatile subscription %u got a message stamped before it existed", sub_i);
    }
}

/* Sequence numbers restart with a source that was removed: forget those no source carries. */
static void forget_gone_sources(void)
{
    for (unsigned i = 0; i < 2; i++)
        for (unsigned own = 0; own < 2; own++)
            for (unsigned idx = 0; idx < AGN_MAX_PUBS; idx++) {
                pid_t pid = own ? fuzz.ctx->pid : FUZZ_PEER_PID;
                bool found = false;
                for (unsigned s = 0; s < fuzz.sub[i]->nsources && !found; s++)
                    found =
                        fuzz.sub[i]->sources[s].pid == pid && fuzz.sub[i]->sources[s].index == idx;
                if (!found)
                    fuzz.last_seq[i][own][idx] = 0;
            }
}

static void after_call(uint64_t cpu0, const char *what)
{
    uint64_t spent = cpu_ns() - cpu0;

    fuzz_counts.calls++;
    if (spent > FUZZ_CALL_CPU_NS)
        fuzz_fail("%s took %llu ms of CPU: a loop over what the peer wrote is not bounded", what,
                  (unsigned long long)(spent / 1000000));
    check_counters();
}

/* What the library sent its "broker": HAND_WAKE frames and the descriptors with them. */
void fuzz_drain_broker(void)
{
    static union agnocast_frame_buffer in;

    for (;;) {
        int fds[AGNOCAST_PROTO_FDS_MAX], nfds = AGNOCAST_PROTO_FDS_MAX;
        ssize_t n = agnocast_proto_recv(fuzz.broker_end, in.bytes, sizeof(in.bytes), fds, &nfds);
        struct agnocast_frame f;
        if (n == -EAGAIN || n == 0)
            break;
        if (n > 0) {
            if (agnocast_proto_decode(in.bytes, (size_t)n, &f) != 0)
                fuzz_fail("the library sent its broker a frame that does not decode");
            if (f.kind != AGNOCAST_MSG_HAND_WAKE && f.kind != AGNOCAST_MSG_REPORT_OCCUPIED)
                fuzz_fail("the library sent its broker %s while handling notices",
                          agnocast_proto_kind_name(f.kind));
        }
        for (int i = 0; i < nfds; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        if (n < 0 && n != -EMSGSIZE)
            break;
    }
}

void fuzz_frame(const unsigned char *frame, size_t len, int *fds, int nfds)
{
    static union agnocast_frame_buffer buf;
    struct agnocast_frame f;
    struct stat before[AGNOCAST_PROTO_FDS_MAX];
    int given[AGNOCAST_PROTO_FDS_MAX];
    uint64_t probe = 0, cpu0;
    bool probe_was = true;
    int r;

    if (len > sizeof(buf.bytes))
        len = sizeof(buf.bytes);
    memcpy(buf.bytes, frame, len); /* aligned, as the library's receive buffer is */
    r = agnocast_proto_decode(buf.bytes, len, &f);
    if (r != 0 || f.request_id != 0) {
        /* The control thread never hands such a frame to the notice handler. */
        for (int i = 0; i < nfds; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return;
    }
    fuzz_counts.notices++;
    notice_epoch++;
    for (int i = 0; i < nfds; i++) {
        given[i] = fds[i];
        if (fds[i] >= 0 && fstat(fds[i], &before[i]) < 0)
            fuzz_fail("descriptor %d given to the notice is not open", fds[i]);
    }
    if (f.kind == AGNOCAST_MSG_NOTICE_PUBLISHER_ADDED ||
        f.kind == AGNOCAST_MSG_NOTICE_SUBSCRIBER_ADDED) {
        const struct agnocast_wire_notice_endpoint *n = f.payload;
        /* Each adds at most one source to each subscription. */
        fuzz.instances[0]++;
        fuzz.instances[1]++;
        if (n->seg_base != FUZZ_SEG_BASE) {
            probe = n->seg_base;
            probe_was = fuzz_page_mapped(probe);
        }
    }
    cpu0 = cpu_ns();
    pthread_mutex_lock(&fuzz.ctx->lock);
    agn_notice_handle(fuzz.ctx, &f, fds, nfds);
    pthread_mutex_unlock(&fuzz.ctx->lock);
    after_call(cpu0, agnocast_proto_kind_name(f.kind));
    for (int i = 0; i < nfds; i++) {
        struct stat now;
        if (fds[i] < 0)
            continue; /* kept by the library (it closes it when done) */
        if (fds[i] != given[i])
            fuzz_fail("the notice handler replaced descriptor %d by %d", given[i], fds[i]);
        if (fstat(fds[i], &now) < 0 || now.st_ino != before[i].st_ino ||
            now.st_dev != before[i].st_dev)
            fuzz_fail("the notice handler closed descriptor %d that it did not keep", fds[i]);
        close(fds[i]);
    }
    if (probe && !probe_was && fuzz_page_mapped(probe))
        fuzz_fail("something is left mapped at 0x%llx, where a notice asked for a segment",
                  (unsigned long long)probe);
    fuzz_drain_broker();
    check_peers();
    forget_gone_sources();
}

void fuzz_notice(uint16_t kind, const void *payload, size_t len, int *fds, int nfds)
{
    static union agnocast_frame_buffer out;
    ssize_t n = agnocast_proto_encode(out.bytes, sizeof(out.bytes), kind, 0, payload, len);

    if (n < 0) {
        for (int i = 0; i < nfds; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        return;
    }
    fuzz_frame(out.bytes, (size_t)n, fds, nfds);
}

/* ---- reader calls ---- */

unsigned fuzz_handles_in_use(void)
{
    unsigned n = 0;

    for (int i = 0; i < AGN_MAX_HOLDS; i++)
        n += fuzz.ctx->messages[i].in_use;
    return n;
}

static void hold(struct agnocast_message *m)
{
    if (fuzz.nheld < FUZZ_HELD_MAX)
        fuzz.held[fuzz.nheld++] = m;
    else
        agnocast_message_release(m);
}

void fuzz_take(unsigned sub, bool latest, bool keep)
{
    struct agnocast_message *m = NULL;
    uint64_t cpu0 = cpu_ns();
    int r = latest ? agnocast_subscription_take_latest(fuzz.sub[sub], &m)
                   : agnocast_subscription_take(fuzz.sub[sub], &m);

    after_call(cpu0, latest ? "agnocast_subscription_take_latest" : "agnocast_subscription_take");
    if (r == 1) {
        check_message(sub, m, true);
        if (keep)
            hold(m);
        else
            agnocast_message_release(m);
    } else if (r == -ENOBUFS) {
        if (fuzz_handles_in_use() < AGN_MAX_HOLDS)
            fuzz_fail("take said -ENOBUFS with %u handles in use", fuzz_handles_in_use());
    } else if (r != 0) {
        fuzz_fail("take returned %d", r);
    }
    check_peers();
}

static unsigned dispatch_epoch;

void fuzz_on_message(struct agnocast_subscription *sub, struct agnocast_message *msg,
                     void *userdata)
{
    unsigned k = fuzz.delivered_in_dispatch++;

    if (sub != fuzz.sub[0])
        fuzz_fail("a callback for a subscription without one");
    check_message(0, msg, dispatch_epoch == notice_epoch);
    if (fuzz.keep_mask & (1u << (k % 32))) {
        agnocast_message_retain(msg);
        hold(msg);
    }
    if (fuzz.in_callback)
        fuzz.in_callback(); /* the peer writes while we are busy with its messages */
}

void fuzz_dispatch(bool drain)
{
    uint64_t cpu0 = cpu_ns();
    int r;

    fuzz.delivered_in_dispatch = 0;
    dispatch_epoch = notice_epoch;
    r = agn_dispatch(fuzz.ctx, drain);
    after_call(cpu0, "agn_dispatch");
    if (r < 0 && r != -ENOBUFS)
        fuzz_fail("dispatch returned %d", r);
    check_peers();
}

void fuzz_release(unsigned k)
{
    struct agnocast_message *m;

    if (fuzz.nheld == 0)
        return;
    k %= fuzz.nheld;
    m = fuzz.held[k];
    fuzz.held[k] = fuzz.held[--fuzz.nheld];
    if (!m->in_use)
        fuzz_fail("a held message's handle was taken back");
    agnocast_message_release(m);
    check_peers();
}

void fuzz_contains(unsigned k, uint64_t ptr, uint64_t len)
{
    struct agnocast_message *m;
    uint64_t cpu0;
    int r;

    if (fuzz.nheld == 0)
        return;
    m = fuzz.held[k % fuzz.nheld];
    cpu0 = cpu_ns();
    r = agnocast_message_contains(m, (const void *)(uintptr_t)ptr, (size_t)len);
    after_call(cpu0, "agnocast_message_contains");
    if (r == 1) {
        if (!reachable(m->peer, ptr, len))
            fuzz_fail("contains(0x%llx, %llu) said yes outside the publisher's mapped memory",
                      (unsigned long long)ptr, (unsigned long long)len);
        touch(ptr, len);
    } else if (r != 0) {
        fuzz_fail("contains returned %d", r);
    }
    check_peers();
}

void fuzz_local_publish(size_t size)
{
    void *data;
    uint64_t cpu0 = cpu_ns();

    if (agnocast_publisher_loan(fuzz.pub, size, &data) == 0) {
        memset(data, 0xa5, size < 64 ? size : 64);
        if (agnocast_publisher_publish(fuzz.pub, data) < 0)
            fuzz_fail("cannot publish a loan: %s", agnocast_last_error());
        fuzz.last_local = data;
        fuzz_note_word(fuzz.pub->published);
    }
    after_call(cpu0, "agnocast_publisher_publish");
    fuzz_drain_broker();
}
