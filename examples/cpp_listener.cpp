/* Example C++ subscriber: checks every image through its C head and its std::pmr members. */
#include <getopt.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include <agnocast.hpp>

#include "example-args.h"
#include "image-message.hpp"

static agnocast::Context *signal_ctx;

static void on_signal(int)
{
    if (signal_ctx)
        signal_ctx->stop();
}

/* What the C++ side sees must agree with the C head: same buffers, same sizes. */
static const char *check(const agnocast::Message<Image> &m)
{
    if (const char *why = image_check(m.raw()))
        return why;
    if (!m.contains_range(m->pixels) || !m.contains_range(m->frame_id))
        return "a std::pmr member points outside the publisher's memory";
    if (reinterpret_cast<std::uintptr_t>(m->pixels.data()) != m->hdr.pixels_addr ||
        m->pixels.size() != m->hdr.pixels_len)
        return "the pixel vector differs from the head";
    if (reinterpret_cast<std::uintptr_t>(m->frame_id.c_str()) != m->hdr.frame_id_addr ||
        m->frame_id.size() != m->hdr.frame_id_len)
        return "the frame id string differs from the head";
    return nullptr;
}

static void usage(FILE *out)
{
    std::fputs("usage: cpp_listener [--topic T] [--count N] [--depth D] [--timeout SEC] [--take]\n"
               "                    [--verbose]\n"
               "Receives images on T (default /image), checks every pointer, pixel and the\n"
               "checksum, and prints received, missed and corrupt counts at exit (after N\n"
               "images, SEC seconds, or SIGINT). --take reads with take() in a spin_once loop\n"
               "instead of a callback. Exit status 2: a bad command line; 1: a failure, a\n"
               "corrupt image, or fewer than N images.\n",
               out);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, nullptr, 't'}, {"count", required_argument, nullptr, 'n'},
        {"depth", required_argument, nullptr, 'd'}, {"timeout", required_argument, nullptr, 'w'},
        {"take", no_argument, nullptr, 'T'},        {"verbose", no_argument, nullptr, 'v'},
        {"help", no_argument, nullptr, 'h'},        {nullptr, 0, nullptr, 0},
    };
    const char *topic = "/image";
    uint64_t want = 0, depth = 10, received = 0, corrupt = 0;
    double timeout = -1;
    int take = 0, verbose = 0, c, r = 0;

    while ((c = getopt_long(argc, argv, "t:n:d:w:Tvh", opts, nullptr)) != -1) {
        switch (c) {
        case 't':
            topic = optarg;
            break;
        case 'n':
            r = example_arg_u64("cpp_listener", "count", optarg, 0, UINT64_MAX, &want);
            break;
        case 'd':
            r = example_arg_u64("cpp_listener", "depth", optarg, 1, 1024, &depth);
            break;
        case 'w':
            r = example_arg_double("cpp_listener", "timeout", optarg, 0, 1e6, &timeout);
            break;
        case 'T':
            take = 1;
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
    try {
        agnocast::Context ctx;
        agnocast::Message<Image> last; /* outlives its callback: the wrapper retains it */
        auto handle = [&](const agnocast::Message<Image> &m) {
            const char *why = check(m);
            received++;
            if (why) {
                corrupt++;
                std::fprintf(stderr, "cpp_listener: image %llu is corrupt: %s\n",
                             static_cast<unsigned long long>(m.sequence()), why);
            } else if (verbose) {
                std::printf("received %llu: %ux%u, frame %s, at %p\n",
                            static_cast<unsigned long long>(m.sequence()), m->hdr.width,
                            m->hdr.height, m->frame_id.c_str(), static_cast<const void *>(m.get()));
            }
            last = m;
            if (want && received >= want)
                ctx.stop();
        };
        unsigned d = static_cast<unsigned>(depth);
        auto sub = take ? ctx.create_subscription<Image>(topic, d)
                        : ctx.create_subscription<Image>(topic, d, handle);
        signal_ctx = &ctx;
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        auto limit = timeout >= 0 ? std::chrono::milliseconds(static_cast<long long>(timeout * 1e3))
                                  : agnocast::forever;
        if (take) {
            auto deadline = std::chrono::steady_clock::now() + limit;
            while (!(want && received >= want) &&
                   (limit == agnocast::forever || std::chrono::steady_clock::now() < deadline)) {
                /* 0 callbacks ran for a take subscription; the stop of a signal also ends it. */
                ctx.spin_once(std::chrono::milliseconds(100));
                while (auto m = sub.take())
                    handle(m);
                if (want && received >= want)
                    break;
            }
        } else {
            ctx.spin(limit);
        }
        signal_ctx = nullptr;
        std::printf("cpp_listener: received %llu, missed %llu, corrupt %llu; last frame %s\n",
                    static_cast<unsigned long long>(received),
                    static_cast<unsigned long long>(sub.missed()),
                    static_cast<unsigned long long>(corrupt),
                    last ? last->frame_id.c_str() : "(none)");
    } catch (const std::exception &e) {
        std::fprintf(stderr, "cpp_listener: %s\n", e.what());
        return 1;
    }
    return corrupt || received < want ? 1 : 0;
}
