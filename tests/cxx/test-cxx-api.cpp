/* agnocast.hpp in one process against a private broker: loans, moves, holds, pmr members,
 * callbacks, exceptions, the loop calls. Also run under ASan/UBSan by scripts/test. */
#include <poll.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

/* This cmocka's header declares C functions without extern "C" of its own. */
extern "C" {
#include <cmocka.h>
}

#include <agnocast.hpp>

/* harness.h itself pulls in the C-only protocol header: only the fixture is needed here. */
extern "C" {
int harness_broker_setup(void **state);
int harness_broker_teardown(void **state);
}

using namespace std::chrono_literals;

namespace
{

struct Flat {
    std::uint64_t a;
    double b;
};

/* An allocator-aware message: both members allocate in the loan. */
struct Pmr {
    using allocator_type = agnocast::allocator;
    std::uint64_t seq = 0;
    std::pmr::vector<float> values;
    std::pmr::string name;
    explicit Pmr(const allocator_type &al) : values(al), name(al)
    {
    }
    Pmr(std::uint64_t s, const allocator_type &al) : seq(s), values(al), name(al)
    {
    }
};

/* Counts its constructions and destructions; throws from the constructor on request. */
struct Counted {
    static inline int alive = 0;
    std::uint64_t v;
    explicit Counted(std::uint64_t x = 0) : v(x)
    {
        if (x == 666)
            throw std::runtime_error("constructor refused 666");
        alive++;
    }
    ~Counted()
    {
        alive--;
    }
};

std::size_t used(agnocast::Context &ctx)
{
    return ctx.pool_usage().used;
}

bool in_segment(agnocast::Context &ctx, const void *p)
{
    void *base;
    std::size_t size;
    agnocast_context_segment(ctx.get(), &base, &size);
    auto a = reinterpret_cast<std::uintptr_t>(p), lo = reinterpret_cast<std::uintptr_t>(base);
    return a >= lo && a < lo + size;
}

} // namespace

/* Not trivially copyable, but nothing it owns is outside the message: the test promises so. */
template <> struct agnocast::is_message<Counted> : std::true_type {
};

static void test_cxx_loan_publish_take(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Flat>("/cxx/flat", 4);
    auto sub = ctx.create_subscription<Flat>("/cxx/flat", 4);

    assert_true(sub.take().get() == nullptr); /* nothing yet: an empty Message, not an error */
    for (std::uint64_t i = 1; i <= 3; i++) {
        auto loan = pub.loan();
        assert_true(in_segment(ctx, loan.get()));
        assert_int_equal(loan->a, 0); /* value-initialized */
        loan->a = i;
        loan->b = 0.5 * static_cast<double>(i);
        pub.publish(std::move(loan));
        assert_false(static_cast<bool>(loan)); /* consumed */
    }
    assert_int_equal(pub.published(), 3);
    for (std::uint64_t i = 1; i <= 3; i++) {
        auto m = sub.take();
        assert_true(static_cast<bool>(m));
        assert_int_equal(m->a, i);
        assert_true(m->b == 0.5 * static_cast<double>(i));
        assert_int_equal(m.sequence(), i);
        assert_int_equal(m.publisher_pid(), getpid());
        assert_true(m.size() >= sizeof(Flat));
    }
    assert_false(static_cast<bool>(sub.take()));
    assert_int_equal(sub.received(), 3);
}

static void test_cxx_loan_moves_and_drops(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Counted>("/cxx/counted", 4);
    std::size_t before = used(ctx);

    {
        auto a = pub.loan(7u);
        assert_int_equal(Counted::alive, 1);
        assert_true(used(ctx) > before);
        auto b = std::move(a); /* the loan moves, nothing is built twice */
        assert_false(static_cast<bool>(a));
        assert_true(static_cast<bool>(b));
        assert_int_equal(b->v, 7);
        assert_int_equal(Counted::alive, 1);
        auto c = pub.loan(8u);
        c = std::move(b); /* c's own loan is dropped: ~Counted runs, memory returns */
        assert_int_equal(Counted::alive, 1);
        assert_int_equal(c->v, 7);
        /* Publishing an empty loan is refused and changes nothing. */
        try {
            pub.publish(std::move(b));
            fail_msg("publishing a moved-from loan did not throw");
        } catch (const agnocast::Error &e) {
            assert_int_equal(e.errnum(), EINVAL);
        }
    } /* c dropped unpublished */
    assert_int_equal(Counted::alive, 0);
    assert_int_equal(used(ctx), before);
    assert_int_equal(pub.published(), 0);

    /* A constructor that throws: the loan goes back and the exception comes through. */
    try {
        auto l = pub.loan(666u);
        fail_msg("the constructor's exception was lost");
    } catch (const std::runtime_error &e) {
        assert_string_equal(e.what(), "constructor refused 666");
    }
    assert_int_equal(used(ctx), before);

    /* A loan of one publisher is refused by another, and stays valid for its own. */
    auto other = ctx.create_publisher<Counted>("/cxx/counted2", 4);
    auto l = pub.loan(9u);
    try {
        other.publish(std::move(l));
        fail_msg("a foreign loan was published");
    } catch (const agnocast::Error &e) {
        assert_int_equal(e.errnum(), EINVAL);
    }
    assert_true(static_cast<bool>(l));
    pub.publish(std::move(l));
    assert_int_equal(pub.published(), 1);
    assert_int_equal(Counted::alive, 1); /* published: its destructor never runs */
    Counted::alive = 0;
}

static void test_cxx_pmr_members_allocate_in_the_message(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Pmr>("/cxx/pmr", 4);
    auto sub = ctx.create_subscription<Pmr>("/cxx/pmr", 4);
    std::size_t before = used(ctx);

    {
        auto loan = pub.loan(std::uint64_t{5});
        assert_int_equal(loan->seq, 5);
        for (int i = 0; i < 1000; i++) /* grows several times: old buffers stay in the message */
            loan->values.push_back(static_cast<float>(i) * 0.25f);
        loan->name = std::string(200, 'n'); /* past the small-string buffer */
        assert_true(in_segment(ctx, loan->values.data()));
        assert_true(in_segment(ctx, loan->name.data()));
        /* The resource's own address is inside the message too. */
        assert_true(in_segment(ctx, loan->values.get_allocator().resource()));
        assert_true(loan->values.get_allocator().resource() == loan.resource());
        /* Raw memory for a raw pointer, over-aligned on request. */
        void *raw = loan.alloc(100, 256);
        assert_true(in_segment(ctx, raw));
        assert_int_equal(reinterpret_cast<std::uintptr_t>(raw) % 256, 0);
        auto *arr = loan.alloc_array<std::uint32_t>(10);
        assert_int_equal(arr[9], 0);
        assert_true(used(ctx) > before);
    } /* dropped: everything it allocated returns with it */
    assert_int_equal(used(ctx), before);

    auto loan = pub.loan(std::uint64_t{6});
    loan->values.assign({1.f, 2.f, 3.f});
    loan->name = "a frame id longer than sixteen bytes";
    pub.publish(std::move(loan));
    auto m = sub.take();
    assert_true(static_cast<bool>(m));
    assert_int_equal(m->seq, 6);
    assert_true(m.contains_range(m->values));
    assert_true(m.contains_range(m->name));
    assert_int_equal(m->values.size(), 3);
    assert_true(m->values[2] == 3.f);
    assert_string_equal(m->name.c_str(), "a frame id longer than sixteen bytes");
    /* A subscriber copies out with its own allocator (the default resource, its heap). */
    std::pmr::vector<float> copy = m->values;
    assert_false(m.contains(copy.data(), copy.size() * sizeof(float)));
}

static void test_cxx_pmr_container_is_a_message(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<std::pmr::vector<float>>("/cxx/vec", 4);
    auto sub = ctx.create_subscription<std::pmr::vector<float>>("/cxx/vec", 4);
    auto loan = pub.loan(std::size_t{4}, 1.5f); /* vector(n, value, alloc) */
    assert_int_equal(loan->size(), 4);
    pub.publish(std::move(loan));
    auto m = sub.take();
    assert_true(m && m->size() == 4 && (*m)[3] == 1.5f && m.contains_range(*m));
}

static void test_cxx_copies_share_one_hold(void **)
{
    agnocast::Context ctx;
    /* Depth 1: once a newer message is published, only our hold keeps the old one. */
    auto pub = ctx.create_publisher<Flat>("/cxx/hold", 1);
    auto sub = ctx.create_subscription<Flat>("/cxx/hold", 4);
    auto l = pub.loan();
    l->a = 1;
    pub.publish(std::move(l));
    auto m = sub.take();
    assert_true(static_cast<bool>(m));
    l = pub.loan();
    pub.publish(std::move(l));
    (void)sub.take(); /* the second one, released at once */
    std::size_t held = used(ctx);

    auto c1 = m;
    agnocast::Message<Flat> c2;
    c2 = c1;
    auto c3 = std::move(c2);
    assert_false(static_cast<bool>(c2));
    assert_int_equal(m.use_count(), 3);
    m.reset();
    m.reset(); /* a second reset of the same handle does nothing */
    assert_int_equal(c1.use_count(), 2);
    assert_int_equal(used(ctx), held);
    c1.reset();
    assert_int_equal(used(ctx), held);
    assert_int_equal(c3->a, 1);     /* still readable through the last copy */
    c3 = agnocast::Message<Flat>(); /* the last copy goes: released once */
    assert_true(used(ctx) < held);
}

static void test_cxx_callbacks(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Flat>("/cxx/cb", 8);
    std::vector<std::uint64_t> by_ref;
    agnocast::Message<Flat> kept;
    int by_value = 0;
    auto s1 =
        ctx.create_subscription<Flat>("/cxx/cb", 8, [&](const Flat &f) { by_ref.push_back(f.a); });
    auto s2 = ctx.create_subscription<Flat>("/cxx/cb", 8,
                                            [&](const agnocast::Message<Flat> &m) { kept = m; });
    auto s3 =
        ctx.create_subscription<Flat>("/cxx/cb", 8, [&](agnocast::ipc_shared_ptr<const Flat> m) {
            by_value += static_cast<int>(m->a);
        });
    for (std::uint64_t i = 1; i <= 3; i++) {
        auto l = pub.loan();
        l->a = i;
        pub.publish(std::move(l));
    }
    int ran = 0;
    for (int i = 0; i < 50 && ran < 9; i++)
        ran += ctx.spin_once(100ms);
    assert_int_equal(ran, 9);
    assert_int_equal(by_ref.size(), 3);
    assert_int_equal(by_value, 6);
    /* The copy kept outlives its callback: the wrapper retained it. */
    assert_true(static_cast<bool>(kept));
    assert_int_equal(kept->a, 3);
    assert_int_equal(kept.use_count(), 1);
    pub = agnocast::Publisher<Flat>(); /* the publisher goes; the held message stays readable */
    std::size_t held = used(ctx);
    assert_int_equal(kept->a, 3);
    kept.reset();
    assert_true(used(ctx) < held);
}

static void test_cxx_callback_exception_is_rethrown(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Flat>("/cxx/throw", 8);
    int others = 0;
    agnocast::Message<Flat> kept;
    auto s1 = ctx.create_subscription<Flat>("/cxx/throw", 8, [&](const agnocast::Message<Flat> &m) {
        kept = m; /* a copy made before the throw */
        if (m->a == 2)
            throw std::runtime_error("callback 2");
    });
    auto s2 = ctx.create_subscription<Flat>("/cxx/throw", 8, [&](const Flat &) { others++; });
    auto publish = [&](std::uint64_t a) {
        auto l = pub.loan();
        l->a = a;
        pub.publish(std::move(l));
    };

    /* dispatch(): the round completes (the other subscription still gets its message), then
     * the exception comes out of dispatch on this thread. */
    publish(2);
    assert_true(pub.wait_matched(2, 1s));
    struct pollfd pfd = {ctx.fd(), POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 2000), 1);
    try {
        ctx.dispatch();
        fail_msg("dispatch did not rethrow");
    } catch (const std::runtime_error &e) {
        assert_string_equal(e.what(), "callback 2");
    }
    assert_int_equal(others, 1);
    assert_true(kept && kept->a == 2); /* retained even though the callback threw */
    kept.reset();

    /* spin(): stops for it and rethrows; a later spin runs normally. */
    publish(1);
    publish(2);
    publish(3);
    try {
        ctx.spin(5s);
        fail_msg("spin did not rethrow");
    } catch (const std::runtime_error &e) {
        assert_string_equal(e.what(), "callback 2");
    }
    ctx.spin(200ms); /* returns on its timeout: no stop was left over */
    assert_int_equal(others, 4);
    assert_int_equal(kept->a, 3);

    /* spin_once(): same. */
    publish(2);
    bool thrown = false;
    for (int i = 0; i < 20 && !thrown; i++) {
        try {
            ctx.spin_once(100ms);
        } catch (const std::runtime_error &) {
            thrown = true;
        }
    }
    assert_true(thrown);

    /* Dispatching from a callback is refused (agnocast.h), as an exception of the callback. */
    auto s3 = ctx.create_subscription<Flat>("/cxx/throw", 8, [&](const Flat &) { ctx.dispatch(); });
    publish(5);
    try {
        for (int i = 0; i < 20; i++)
            ctx.spin_once(100ms);
        fail_msg("a dispatch inside a callback went through");
    } catch (const agnocast::Error &e) {
        assert_int_equal(e.errnum(), EDEADLK);
    }
}

static void test_cxx_spin_thread(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Flat>("/cxx/thread", 8);
    std::atomic<int> got{0};
    auto sub = ctx.create_subscription<Flat>("/cxx/thread", 8, [&](const Flat &f) {
        if (f.a == 99)
            throw std::logic_error("99 on the spin thread");
        got++;
    });
    {
        agnocast::SpinThread spinner(ctx);
        for (std::uint64_t i = 1; i <= 5; i++) {
            auto l = pub.loan();
            l->a = i;
            pub.publish(std::move(l));
        }
        for (int i = 0; i < 200 && got < 5; i++)
            std::this_thread::sleep_for(10ms);
        assert_int_equal(got.load(), 5);
        spinner.stop();
        spinner.join(); /* stopped, nothing thrown */
        assert_true(spinner.done());
    }
    {
        agnocast::SpinThread spinner(ctx);
        auto l = pub.loan();
        l->a = 99;
        pub.publish(std::move(l));
        for (int i = 0; i < 200 && !spinner.done(); i++)
            std::this_thread::sleep_for(10ms);
        assert_true(spinner.done()); /* the exception ended the spin */
        try {
            spinner.join();
            fail_msg("join did not rethrow");
        } catch (const std::logic_error &e) {
            assert_string_equal(e.what(), "99 on the spin thread");
        }
    }                /* the destructor of a spinner that was joined does nothing more */
    ctx.spin(100ms); /* no stop left over by the spinner */
}

static void test_cxx_subscription_destroys_itself_in_its_callback(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Flat>("/cxx/self", 8);
    int calls = 0;
    agnocast::Subscription<Flat> sub;
    std::string capture(100, 'x'); /* a capture the callable owns, checked after the reset */
    sub = ctx.create_subscription<Flat>("/cxx/self", 8, [&, capture](const Flat &) {
        calls++;
        sub = agnocast::Subscription<Flat>();
        assert_int_equal(capture.size(), 100); /* the callable is still alive */
    });
    for (int i = 0; i < 3; i++)
        pub.publish(pub.loan());
    for (int i = 0; i < 5; i++)
        ctx.spin_once(50ms);
    assert_int_equal(calls, 1);
}

static void test_cxx_errors(void **)
{
    try {
        agnocast::Context ctx;
        try {
            agnocast::Context second;
            fail_msg("a second context was created");
        } catch (const agnocast::Error &e) {
            assert_int_equal(e.errnum(), EBUSY);
            assert_true(e.code() == std::errc::device_or_resource_busy);
        }
        try {
            auto pub = ctx.create_publisher<Flat>("no-slash", 4);
            fail_msg("a bad topic was accepted");
        } catch (const agnocast::Error &e) {
            assert_int_equal(e.errnum(), EINVAL);
            /* The library's sentence comes with it. */
            assert_non_null(std::strstr(e.what(), "agnocast::Publisher: "));
            assert_true(std::strlen(e.what()) > std::strlen("agnocast::Publisher: ") + 10);
        }
        agnocast::Context moved = std::move(ctx);
        try {
            ctx.pool_usage();
            fail_msg("a moved-from context answered");
        } catch (const agnocast::Error &e) {
            assert_int_equal(e.errnum(), EINVAL);
        }
        /* A publisher keeps the context alive after its handle goes. */
        auto pub = moved.create_publisher<Flat>("/cxx/alive", 4);
        {
            agnocast::Context gone = std::move(moved); /* the last Context handle goes */
        }
        try {
            agnocast::Context again;
            fail_msg("the context was freed under a live publisher");
        } catch (const agnocast::Error &e) {
            assert_int_equal(e.errnum(), EBUSY);
        }
        pub.publish(pub.loan());
        assert_int_equal(pub.published(), 1);
        pub = agnocast::Publisher<Flat>();
        agnocast::Context fresh; /* the last handle went: a new context may be made */
    } catch (const std::exception &e) {
        fail_msg("unexpected exception: %s", e.what());
    }
}

static void test_cxx_wrong_size_is_not_delivered(void **)
{
    agnocast::Context ctx;
    struct agnocast_publisher *raw;
    void *data;
    int calls = 0;
    auto take = ctx.create_subscription<Flat>("/cxx/small", 8);
    auto cb = ctx.create_subscription<Flat>("/cxx/small", 8, [&](const Flat &) { calls++; });

    assert_int_equal(agnocast_publisher_new(ctx.get(), "/cxx/small", 8, 0, &raw), 0);
    assert_int_equal(agnocast_publisher_loan(raw, 4, &data), 0); /* smaller than Flat */
    assert_int_equal(agnocast_publisher_publish(raw, data), 0);
    assert_false(static_cast<bool>(take.take()));
    assert_int_equal(take.wrong_size(), 1);
    ctx.spin_once(200ms);
    assert_int_equal(calls, 0);
    assert_int_equal(cb.wrong_size(), 1);
    agnocast_publisher_free(raw);
}

static void test_cxx_matching_and_own_loop(void **)
{
    agnocast::Context ctx;
    auto pub = ctx.create_publisher<Flat>("/cxx/loop", 4);
    assert_false(pub.wait_matched(1, 50ms)); /* a timeout is an answer, not an error */
    assert_int_equal(pub.subscription_count(), 0);
    int got = 0;
    auto sub = ctx.create_subscription<Flat>("/cxx/loop", 4, [&](const Flat &) { got++; });
    assert_true(pub.wait_matched(1, 2s));
    assert_true(sub.wait_matched(1, 2s));
    assert_int_equal(sub.publisher_count(), 1);
    pub.publish(pub.loan());
    struct pollfd pfd = {ctx.fd(), POLLIN, 0};
    for (int i = 0; i < 20 && got == 0; i++)
        if (poll(&pfd, 1, 100) > 0)
            ctx.dispatch();
    assert_int_equal(got, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, harness_broker_setup, harness_broker_teardown)
        T(test_cxx_loan_publish_take),
        T(test_cxx_loan_moves_and_drops),
        T(test_cxx_pmr_members_allocate_in_the_message),
        T(test_cxx_pmr_container_is_a_message),
        T(test_cxx_copies_share_one_hold),
        T(test_cxx_callbacks),
        T(test_cxx_callback_exception_is_rethrown),
        T(test_cxx_spin_thread),
        T(test_cxx_subscription_destroys_itself_in_its_callback),
        T(test_cxx_errors),
        T(test_cxx_wrong_size_is_not_delivered),
        T(test_cxx_matching_and_own_loop),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
