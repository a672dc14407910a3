/* The two ways to put containers in a C++ message, side by side: std::pmr members with the
 * loan's allocator (works everywhere), and plain std::vector / std::string filled between loan
 * and publish under LD_PRELOAD=libagnocast_heaphook.so. Run twice by meson: with the hook
 * (AGNOCAST_TEST_EXPECT_HOOK=1: the plain containers land in the message) and without it
 * (=0: they land in the private heap, which the same checks must see). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cstdlib>
#include <memory_resource>
#include <string>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include <agnocast.hpp>

extern "C" {
int harness_broker_setup(void **state);
int harness_broker_teardown(void **state);
}

namespace
{

/* Plain containers: only the heap hook puts their buffers in the message. */
struct Hooked {
    std::uint64_t seq = 0;
    std::vector<float> values;
    std::string name;
};

/* The same with std::pmr: the loan's allocator puts them there, hook or not. */
struct Pmr {
    using allocator_type = agnocast::allocator;
    std::uint64_t seq = 0;
    std::pmr::vector<float> values;
    std::pmr::string name;
    explicit Pmr(const allocator_type &a) : values(a), name(a)
    {
    }
};

bool expect_hook()
{
    const char *v = std::getenv("AGNOCAST_TEST_EXPECT_HOOK");
    return v && v[0] == '1';
}

template <class T> void fill(T &m, std::uint64_t seq)
{
    m.seq = seq;
    for (int i = 0; i < 1000; i++)
        m.values.push_back(static_cast<float>(i + seq));
    m.name.assign(100, static_cast<char>('a' + seq % 26)); /* past the small-string buffer */
}

/* Builds, publishes and takes back one message of T; returns whether its containers were
 * inside the message, as a subscriber checks it. */
template <class T> bool round_trip(agnocast::Context &ctx, const char *topic)
{
    auto pub = ctx.create_publisher<T>(topic, 4);
    auto sub = ctx.create_subscription<T>(topic, 4);
    std::size_t before = ctx.pool_usage().used;

    {
        auto loan = pub.loan();
        fill(*loan, 1);
    } /* dropped: ~T runs (the hook frees what it routed), the loan returns */
    assert_int_equal(ctx.pool_usage().used, before);

    auto loan = pub.loan();
    fill(*loan, 7);
    pub.publish(std::move(loan));
    auto m = sub.take();
    assert_true(static_cast<bool>(m));
    assert_int_equal(m->seq, 7);
    assert_int_equal(m->values.size(), 1000);
    assert_true(m->values[999] == 1006.f);
    assert_int_equal(m->name.size(), 100);
    assert_int_equal(m->name[99], 'h');
    bool inside = m.contains_range(m->values);
    assert_int_equal(m.contains_range(m->name), inside);
    return inside;
}

} // namespace

template <> struct agnocast::is_message<Hooked> : std::true_type {
};

static void test_cxx_heaphook_pmr_members_need_no_hook(void **)
{
    agnocast::Context ctx;
    assert_true(round_trip<Pmr>(ctx, "/cxx/hook/pmr"));
}

static void test_cxx_heaphook_plain_containers_need_the_hook(void **)
{
    agnocast::Context ctx;
    assert_int_equal(round_trip<Hooked>(ctx, "/cxx/hook/plain"), expect_hook());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cxx_heaphook_pmr_members_need_no_hook,
                                        harness_broker_setup, harness_broker_teardown),
        cmocka_unit_test_setup_teardown(test_cxx_heaphook_plain_containers_need_the_hook,
                                        harness_broker_setup, harness_broker_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
