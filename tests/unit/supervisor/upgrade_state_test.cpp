#include "supervisor/upgrade_state.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

using clipal::profile;
using clipal::supervisor::upgrade_state;
using clipal::supervisor::upgrade_state_from_json;

namespace {

upgrade_state sample() {
    upgrade_state s;
    s.listener_fd = 7;
    // Client bytes are arbitrary octets: NUL, high bytes, quotes, a half-read request line.
    s.connections.push_back({9, std::string("POST /codex/responses HTTP/1.1\r\nX: \0\xff\"\\", 39), "::1", false});
    s.connections.push_back({10, "GET /claudecode/v1/models HTTP/1.1\r\n\r\n", "127.0.0.1", true});
    s.workers.push_back({profile::codex, 4242, 11});
    s.workers.push_back({profile::gemini, 4243, 12});
    return s;
}

} // namespace

TEST(UpgradeState, RoundTripsExactly) {
    const auto s = sample();
    std::string error;
    const auto back = upgrade_state_from_json(to_json(s), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->listener_fd, 7);
    ASSERT_EQ(back->connections.size(), 2u);
    EXPECT_EQ(back->connections[0].bytes, s.connections[0].bytes);
    EXPECT_EQ(back->connections[0].addr, "::1");
    EXPECT_FALSE(back->connections[0].routed);
    EXPECT_TRUE(back->connections[1].routed);
    ASSERT_EQ(back->workers.size(), 2u);
    EXPECT_EQ(back->workers[1].id, profile::gemini);
    EXPECT_EQ(back->workers[1].pid, 4243);
    EXPECT_EQ(back->workers[1].channel_fd, 12);
    EXPECT_EQ(back->descriptors(), (std::vector<int>{7, 9, 10, 11, 12}));
}

TEST(UpgradeState, WithoutAListener) {
    upgrade_state s;
    std::string error;
    const auto back = upgrade_state_from_json(to_json(s), error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->listener_fd, -1);
    EXPECT_TRUE(back->descriptors().empty());
}

TEST(UpgradeState, RejectsWhatItDidNotWrite) {
    std::string error;
    for (
        const char* text :
        {"", "[]", R"({"version":2,"listener_fd":3,"connections":[],"workers":[]})",
         R"({"version":1,"listener_fd":-5,"connections":[],"workers":[]})",
         R"({"version":1,"listener_fd":3,"connections":[{"fd":4,"bytes":"zz","addr":"a","routed":true}],"workers":[]})",
         R"({"version":1,"listener_fd":3,"connections":[],"workers":[{"profile":"vim","pid":3,"channel_fd":4}]})",
         R"({"version":1,"listener_fd":3,"connections":[],"workers":[{"profile":"codex","pid":0,"channel_fd":4}]})"}) {
        error.clear();
        EXPECT_FALSE(upgrade_state_from_json(text, error)) << text;
        EXPECT_FALSE(error.empty()) << text;
    }
}

TEST(UpgradeState, TravelsThroughAnInheritableFileAndTheEnvironment) {
    std::string error;
    const int fd = clipal::supervisor::write_upgrade_state(sample(), error);
    ASSERT_GE(fd, 0) << error;
    EXPECT_EQ(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0); // it has to survive execve()
    ::setenv(clipal::supervisor::upgrade_state_env, std::to_string(fd).c_str(), 1);
    const auto back = clipal::supervisor::take_upgrade_state(error);
    ASSERT_TRUE(back) << error;
    EXPECT_EQ(back->connections[0].bytes, sample().connections[0].bytes);
    // Taken once: workers and a later re-execution never see it.
    EXPECT_EQ(std::getenv(clipal::supervisor::upgrade_state_env), nullptr);
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1); // closed after reading
    EXPECT_FALSE(clipal::supervisor::take_upgrade_state(error));
}
