/* The C++ wrapper's roles in the paced latency case: the same work as bench-agnocast.c's
 * (loan, stamp, publish; callback, record), through agnocast.hpp. */
#include "bench-cxx.h"

#include <sched.h>

#include <cstdio>

#include <agnocast.hpp>

namespace
{

/* struct bench_hdr first (stamp, then sequence), padded to the measured size. */
struct Payload {
    std::uint64_t stamp_ns;
    std::uint64_t seq;
    std::uint8_t pad[BENCH_CXX_SIZE - 16];
};
static_assert(sizeof(Payload) == BENCH_CXX_SIZE, "the measured size");

constexpr unsigned pub_depth = 4, sub_depth = 16; /* as bench-agnocast.c */

int failed(const char *role, const std::exception &e)
{
    std::fprintf(stderr, "bench agnocast-cxx %s: %s\n", role, e.what());
    return 1;
}

struct PubState {
    agnocast::Publisher<Payload> *pub;
};

/* Default-initialized like the C case's raw loan: only the header and the last byte are
 * written. */
int send(void *state, std::uint64_t seq)
{
    auto *ps = static_cast<PubState *>(state);
    try {
        agnocast::Loan<Payload> l;
        for (;;) {
            try {
                l = ps->pub->loan(agnocast::default_init);
                break;
            } catch (const agnocast::Error &e) {
                if (e.errnum() != ENOMEM)
                    throw;
                sched_yield();
            }
        }
        l->seq = seq;
        static_cast<volatile std::uint8_t *>(l->pad)[sizeof(l->pad) - 1] =
            static_cast<std::uint8_t>(seq);
        l->stamp_ns = bench_now_ns();
        ps->pub->publish(std::move(l));
        return 0;
    } catch (const std::exception &e) {
        failed("publish", e);
        return -1;
    }
}

} // namespace

int bench_cxx_sub_main(void *c, const char *topic, int busy)
{
    try {
        agnocast::Context ctx;
        ctx.set_busy_poll(busy != 0);
        /* The Message form (Agnocast's ipc_shared_ptr), the one that costs the most. */
        auto sub = ctx.create_subscription<Payload>(topic, sub_depth,
                                                    [&](const agnocast::Message<Payload> &m) {
                                                        if (bench_cxx_record(c, m.get()))
                                                            ctx.stop();
                                                    });
        bench_cxx_ready(c);
        ctx.spin();
        return 0;
    } catch (const std::exception &e) {
        return failed("subscriber", e);
    }
}

int bench_cxx_pub_main(void *c, const char *topic)
{
    try {
        agnocast::Context ctx;
        auto pub = ctx.create_publisher<Payload>(topic, pub_depth);
        PubState ps{&pub};
        return bench_cxx_paced(c, send, &ps) < 0 ? 1 : 0;
    } catch (const std::exception &e) {
        return failed("publisher", e);
    }
}
