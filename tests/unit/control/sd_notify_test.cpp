#include "supervisor/sd_notify.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace sdn = clipal::supervisor::sd_notify;

namespace {

// The environment is process-wide: each test starts clean and leaves it clean.
class SdNotify : public ::testing::Test {
protected:
    void SetUp() override { clear(); }
    void TearDown() override { clear(); }
    static void clear() {
        ::unsetenv("NOTIFY_SOCKET");
        ::unsetenv("WATCHDOG_USEC");
        ::unsetenv("WATCHDOG_PID");
    }
};

// A datagram socket playing systemd. `abstract_name` empty: a path socket in `dir`.
class fake_systemd {
public:
    fake_systemd(const std::filesystem::path& dir, const std::string& abstract_name = "") {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        socklen_t len = 0;
        if (abstract_name.empty()) {
            const auto p = (dir / "notify").string();
            std::strncpy(addr.sun_path, p.c_str(), sizeof(addr.sun_path) - 1);
            len = sizeof addr;
            address_ = p;
        } else {
            std::memcpy(addr.sun_path + 1, abstract_name.data(), abstract_name.size());
            len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
            address_ = "@" + abstract_name;
        }
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0) throw std::runtime_error("bind failed");
    }
    ~fake_systemd() { ::close(fd_); }
    const std::string& address() const { return address_; }

    std::string receive() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) return "<nothing>";
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        return n < 0 ? "<error>" : std::string(buf, static_cast<std::size_t>(n));
    }

private:
    int fd_ = -1;
    std::string address_;
};

unsigned long long monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
           static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
}

} // namespace

TEST_F(SdNotify, SendsTheExactMessagesInOrder) {
    clipal::test::temp_dir dir;
    fake_systemd systemd(dir.path());
    ::setenv("NOTIFY_SOCKET", systemd.address().c_str(), 1);

    EXPECT_TRUE(sdn::ready());
    const auto before = monotonic_usec();
    EXPECT_TRUE(sdn::reloading());
    const auto after = monotonic_usec();
    EXPECT_TRUE(sdn::status("2 workers ready\ncodex failed"));
    EXPECT_TRUE(sdn::watchdog());
    EXPECT_TRUE(sdn::stopping());

    EXPECT_EQ(systemd.receive(), "READY=1");
    const auto reload = systemd.receive();
    const std::string prefix = "RELOADING=1\nMONOTONIC_USEC=";
    ASSERT_EQ(reload.substr(0, prefix.size()), prefix) << reload;
    const auto usec = std::stoull(reload.substr(prefix.size()));
    EXPECT_GE(usec, before);
    EXPECT_LE(usec, after);
    EXPECT_EQ(systemd.receive(), "STATUS=2 workers ready codex failed");
    EXPECT_EQ(systemd.receive(), "WATCHDOG=1");
    EXPECT_EQ(systemd.receive(), "STOPPING=1");
}

TEST_F(SdNotify, AbstractSocketNamedWithAtSign) {
    clipal::test::temp_dir dir;
    fake_systemd systemd(dir.path(), "clipal-test-notify-" + std::to_string(::getpid()));
    ::setenv("NOTIFY_SOCKET", systemd.address().c_str(), 1);
    EXPECT_TRUE(sdn::ready());
    EXPECT_EQ(systemd.receive(), "READY=1");
}

TEST_F(SdNotify, UnsetOrUnusableSocketReturnsFalse) {
    EXPECT_FALSE(sdn::ready());
    EXPECT_FALSE(clipal::supervisor::sd_notify_send("READY=1"));
    ::setenv("NOTIFY_SOCKET", "relative/path", 1);
    EXPECT_FALSE(sdn::ready());
    ::setenv("NOTIFY_SOCKET", "/nonexistent/clipal/notify", 1);
    EXPECT_FALSE(sdn::ready());
}

TEST_F(SdNotify, WatchdogIntervalHonoursWatchdogPid) {
    EXPECT_FALSE(sdn::watchdog_interval());
    ::setenv("WATCHDOG_USEC", "3000000", 1);
    EXPECT_EQ(sdn::watchdog_interval(), std::chrono::microseconds(3000000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    EXPECT_EQ(sdn::watchdog_interval(), std::chrono::microseconds(3000000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    EXPECT_FALSE(sdn::watchdog_interval()) << "a watchdog meant for another process";
    ::unsetenv("WATCHDOG_PID");
    for (const char* bad : {"0", "-5", "abc", "12x", ""}) {
        ::setenv("WATCHDOG_USEC", bad, 1);
        EXPECT_FALSE(sdn::watchdog_interval()) << bad;
    }
}

TEST(SdNotifyEnvironment, ChildEnvironmentLosesNotifyVariables) {
    const std::vector<std::string> env{"PATH=/usr/bin",   "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=1000",
                                       "WATCHDOG_PID=12", "NOTIFY_SOCKETS_EXTRA=keep",         "HOME=/home/u"};
    EXPECT_EQ(sdn::without_notify_variables(env),
              (std::vector<std::string>{"PATH=/usr/bin", "NOTIFY_SOCKETS_EXTRA=keep", "HOME=/home/u"}));
    EXPECT_TRUE(sdn::is_notify_variable("NOTIFY_SOCKET"));
    EXPECT_FALSE(sdn::is_notify_variable("NOTIFY"));
}
