/* A C++ publisher (agnocast.hpp, std::pmr members) and C subscribers in other processes, which
 * check every message and every nested pointer through image-message.h. */
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

extern "C" {
#include <cmocka.h>
}

#include <agnocast.hpp>

#include "image-message.hpp"

extern "C" {
int harness_broker_setup(void **state);
int harness_broker_teardown(void **state);
}

extern char **environ;

using namespace std::chrono_literals;

static pid_t spawn(std::vector<std::string> args)
{
    std::vector<char *> argv;
    pid_t pid;

    for (auto &a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0)
        return -1;
    return pid;
}

static int wait_exit(pid_t pid)
{
    int status;

    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static const char *env(const char *name)
{
    const char *v = std::getenv(name);
    if (!v)
        fail_msg("%s is not set (meson sets it)", name);
    return v;
}

/* Publishes `count` images of varying sizes and frame ids (short ones in the string's own
 * buffer, inside the message block; long ones in a nested allocation). With `corrupt`, the
 * head of image `corrupt` points at a private buffer instead of the message's pixels. */
static void publish_images(agnocast::Publisher<Image> &pub, unsigned count, unsigned corrupt)
{
    std::vector<std::uint8_t> private_pixels(64 * 64);

    for (unsigned seq = 1; seq <= count; seq++) {
        auto img = pub.loan();
        img->frame_id =
            seq % 2 ? "cam" : "camera/front/left/with/a/long/frame/id/" + std::to_string(seq);
        img->fill(16 + seq % 48, 8 + seq % 24, seq);
        img->seal();
        if (seq == corrupt) {
            for (std::size_t i = 0; i < img->pixels.size(); i++)
                private_pixels[i] = img->pixels[i];
            img->hdr.pixels_addr = reinterpret_cast<std::uintptr_t>(private_pixels.data());
        }
        pub.publish(std::move(img));
    }
}

static void test_cxx_interop_cpp_publisher_c_subscriber(void **)
{
    const unsigned n = 60;
    pid_t checker =
        spawn({env("AGNOCAST_TEST_IMAGE_CHECKER"), "/interop/image", std::to_string(n)});
    assert_true(checker > 0);
    {
        agnocast::Context ctx;
        auto pub = ctx.create_publisher<Image>("/interop/image", 128);
        assert_true(pub.wait_matched(1, 10s));
        publish_images(pub, n, 0);
        /* Our messages vanish with us: the checker must be done before the publisher goes. */
        assert_int_equal(wait_exit(checker), 0);
    }
}

/* The checker is not a rubber stamp: a head pointing outside the message fails it. */
static void test_cxx_interop_checker_refuses_a_private_pointer(void **)
{
    pid_t checker = spawn({env("AGNOCAST_TEST_IMAGE_CHECKER"), "/interop/bad", "5"});
    assert_true(checker > 0);
    {
        agnocast::Context ctx;
        auto pub = ctx.create_publisher<Image>("/interop/bad", 16);
        assert_true(pub.wait_matched(1, 10s));
        publish_images(pub, 5, 3);
        assert_int_equal(wait_exit(checker), 1);
    }
}

/* The examples end to end: cpp_talker to the C checker and to cpp_listener at once. */
static void test_cxx_interop_examples(void **)
{
    pid_t checker = spawn({env("AGNOCAST_TEST_IMAGE_CHECKER"), "/interop/examples", "40"});
    pid_t listener = spawn({env("AGNOCAST_TEST_CPP_LISTENER"), "--topic", "/interop/examples",
                            "--count", "40", "--timeout", "20", "--depth", "64"});
    assert_true(checker > 0 && listener > 0);
    pid_t talker = spawn({env("AGNOCAST_TEST_CPP_TALKER"), "--topic", "/interop/examples",
                          "--count", "40", "--rate", "200", "--depth", "64", "--width", "320",
                          "--height", "240", "--wait-subscribers", "2", "--linger", "3000"});
    assert_true(talker > 0);
    assert_int_equal(wait_exit(checker), 0);
    assert_int_equal(wait_exit(listener), 0);
    kill(talker, SIGINT); /* ends its linger */
    assert_int_equal(wait_exit(talker), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, harness_broker_setup, harness_broker_teardown)
        T(test_cxx_interop_cpp_publisher_c_subscriber),
        T(test_cxx_interop_checker_refuses_a_private_pointer),
        T(test_cxx_interop_examples),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
