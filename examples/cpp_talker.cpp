/* Example C++ publisher: images whose pixels and frame id are std::pmr members built in the
 * message, with a C-readable head (image-message.h) for C and Python subscribers. */
#include <getopt.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <agnocast.hpp>

#include "example-args.h"
#include "image-message.hpp"

static volatile sig_atomic_t stop;

static void on_signal(int)
{
    stop = 1;
}

static void usage(FILE *out)
{
    std::fputs("usage: cpp_talker [--topic T] [--count N] [--rate HZ] [--width W] [--height H]\n"
               "                  [--frame-id ID] [--depth D] [--wait-subscribers N]\n"
               "                  [--linger MS] [--verbose]\n"
               "Publishes W x H images (default 64 x 48, each 1 to 8192) on T (default /image):\n"
               "N messages (default 0: until SIGINT), HZ per second (default 10, 0: as fast as\n"
               "possible), keep-last depth D (1 to 1024, default 10), frame id ID (default\n"
               "camera/front/left). With --wait-subscribers it first waits (5 s at most) for N\n"
               "subscriptions. After the last message it stays MS milliseconds (default 500).\n"
               "Exit status 2: a bad command line; 1: a failure.\n",
               out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, nullptr, 't'},
        {"count", required_argument, nullptr, 'n'},
        {"rate", required_argument, nullptr, 'r'},
        {"width", required_argument, nullptr, 'W'},
        {"height", required_argument, nullptr, 'H'},
        {"frame-id", required_argument, nullptr, 'f'},
        {"depth", required_argument, nullptr, 'd'},
        {"wait-subscribers", required_argument, nullptr, 's'},
        {"linger", required_argument, nullptr, 'L'},
        {"verbose", no_argument, nullptr, 'v'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    const char *topic = "/image";
    std::string frame_id = "camera/front/left";
    uint64_t count = 0, width = 64, height = 48, depth = 10, wait = 0, linger_ms = 500;
    double rate = 10;
    int verbose = 0, c, r = 0;

    while ((c = getopt_long(argc, argv, "t:n:r:W:H:f:d:s:L:vh", opts, nullptr)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'n':
            r = example_arg_u64("cpp_talker", "count", optarg, 0, UINT64_MAX, &count);
            break;
        case 'r':
            r = example_arg_double("cpp_talker", "rate", optarg, 0, 1e9, &rate);
            break;
        case 'W':
            r = example_arg_u64("cpp_talker", "width", optarg, 1, 8192, &width);
            break;
        case 'H':
            r = example_arg_u64("cpp_talker", "height", optarg, 1, 8192, &height);
            break;
        case 'f':
            frame_id = optarg;
            break;
        case 'd':
            r = example_arg_u64("cpp_talker", "depth", optarg, 1, 1024, &depth);
            break;
        case 's':
            r = example_arg_u64("cpp_talker", "wait-subscribers", optarg, 0, 1024, &wait);
            break;
        case 'L':
            r = example_arg_u64("cpp_talker", "linger", optarg, 0, 3600000, &linger_ms);
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXAMPLE_EXIT_USAGE;
        }
        if (r < 0)
            return EXAMPLE_EXIT_USAGE;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    try {
        agnocast::Context ctx;
        auto pub = ctx.create_publisher<Image>(topic, static_cast<unsigned>(depth));
        if (wait && !pub.wait_matched(static_cast<unsigned>(wait), std::chrono::seconds(5))) {
            std::fprintf(stderr, "cpp_talker: fewer than %llu subscriptions on %s after 5 s\n",
                         static_cast<unsigned long long>(wait), topic);
            return 1;
        }
        auto next = std::chrono::steady_clock::now();
        for (uint64_t seq = 1; !stop && (count == 0 || seq <= count); seq++) {
            try {
                auto img = pub.loan(); /* Image(allocator of the loan) */
                img->frame_id = frame_id;
                img->fill(static_cast<uint32_t>(width), static_cast<uint32_t>(height), seq);
                img->seal();
                if (verbose)
                    std::printf("published %llu at %p, pixels at %p\n",
                                static_cast<unsigned long long>(seq), static_cast<void *>(&*img),
                                static_cast<void *>(img->pixels.data()));
                pub.publish(std::move(img));
            } catch (const agnocast::Error &e) {
                if (e.errnum() != ENOMEM)
                    throw;
                /* Subscribers hold the whole pool: wait for releases rather than give up. */
                seq--;
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
                continue;
            }
            if (rate > 0) {
                next += std::chrono::nanoseconds(static_cast<long long>(1e9 / rate));
                std::this_thread::sleep_until(next);
            }
        }
        /* Our messages vanish with us: give subscribers time to read the last ones. */
        for (uint64_t i = 0; i < linger_ms / 10 && !stop; i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::printf("cpp_talker: published %llu images on %s\n",
                    static_cast<unsigned long long>(pub.published()), topic);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_talker: %s\n", e.what());
        return 1;
    }
    return 0;
}
