/* A C++ subscriber of the demo message (examples/demo-message.h) through agnocast.hpp, for the
 * Python and C talkers: every message's pointers checked against the publisher's memory before
 * they are followed, then its checksum. Prints {"received": N, "missed": M, "corrupt": C}.
 *   demo-checker TOPIC COUNT TIMEOUT_SEC
 * Exit 0 when COUNT sound messages arrived in time, 1 otherwise. */
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <agnocast.hpp>

#include "demo-message.h"

static const char *check(const agnocast::Message<demo_message> &m)
{
    const demo_message &d = *m;

    if (d.self != reinterpret_cast<std::uintptr_t>(&d))
        return "not read at the address it was written at";
    if (d.sequence != m.sequence())
        return "its sequence differs from the message's";
    if (d.text_size == 0 || d.payload_size < 8)
        return "empty text or payload";
    if (!m.contains(d.payload, d.payload_size) || !m.contains(d.text, d.text_size))
        return "a nested pointer leaves the publisher's memory";
    if (d.text[d.text_size - 1] != '\0')
        return "the text is not terminated";
    if (demo_checksum(&d) != d.checksum)
        return "bad checksum";
    return nullptr;
}

int main(int argc, char **argv)
{
    unsigned long long received = 0, corrupt = 0, missed = 0;
    unsigned long long want;

    if (argc != 4) {
        std::fputs("usage: demo-checker TOPIC COUNT TIMEOUT_SEC\n", stderr);
        return 2;
    }
    want = std::strtoull(argv[2], nullptr, 10);
    try {
        agnocast::Context ctx;
        auto sub = ctx.create_subscription<demo_message>(
            argv[1], 64, [&](const agnocast::Message<demo_message> &m) {
                received++;
                if (const char *why = check(m)) {
                    corrupt++;
                    std::fprintf(stderr, "demo-checker: message %llu is corrupt: %s\n",
                                 static_cast<unsigned long long>(m.sequence()), why);
                }
                if (received >= want)
                    ctx.stop();
            });
        std::printf("ready\n");
        std::fflush(stdout);
        ctx.spin(std::chrono::seconds(std::atoi(argv[3])));
        missed = sub.missed();
    } catch (const std::exception &e) {
        std::fprintf(stderr, "demo-checker: %s\n", e.what());
        return 1;
    }
    std::printf("{\"received\": %llu, \"missed\": %llu, \"corrupt\": %llu}\n", received, missed,
                corrupt);
    return corrupt == 0 && received >= want ? 0 : 1;
}
