// A real `clipal` supervisor on a temporary config dir, started with `--port 0` (it reports
// the port it got in `clipal status --json`), with helpers to edit its config the way
// editors do, read its status, and find its worker processes. Everything it starts is
// stopped by PID.
#pragma once

#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_probe.hpp"
#include "support/proc_stat.hpp"
#include "support/temp_dir.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

namespace clipal::test {

using namespace std::chrono_literals;

inline std::string provider_yaml(const std::vector<std::pair<std::string, std::string>>& name_url) {
    std::string y = "providers:\n";
    int n = 0;
    for (const auto& [name, url] : name_url)
        y += "  - {name: " + name + ", base_url: \"" + url + "\", api_key: key-" + name +
             "-000000000000, priority: " + std::to_string(++n) + "}\n";
    return y;
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= end) return false;
        std::this_thread::sleep_for(20ms);
    }
}

// A loopback port held for a test that must name a port in config.yaml: a socket bound to
// it with SO_REUSEADDR but not listening. The kernel gives the port to no other bind (port
// 0 binds skip it), yet clipal's listener, which also sets SO_REUSEADDR, can listen on it.
// Unlike bind-then-close, nothing running in parallel can take the port in between.
class reserved_port {
public:
    reserved_port() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        const int on = 1;
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ >= 0 && ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
            ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            port_ = ntohs(addr.sin_port);
        EXPECT_NE(port_, 0) << "cannot reserve a loopback port";
    }
    ~reserved_port() {
        if (fd_ >= 0) ::close(fd_);
    }
    reserved_port(const reserved_port&) = delete;
    reserved_port& operator=(const reserved_port&) = delete;

    std::uint16_t port() const { return port_; }

private:
    int fd_;
    std::uint16_t port_ = 0;
};

// `clipal status --json` for `config_dir`, parsed; null when it failed.
inline boost::json::value clipal_status(const std::filesystem::path& config_dir) {
    spawn_options o;
    o.args = {"status", "--json", "--config-dir", config_dir.string()};
    child_process c(clipal_binary(), o);
    const auto st = c.wait_exit(5s);
    if (!st || !st->exited_with(0)) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(c.stdout_text(), ec);
    return ec ? boost::json::value(nullptr) : v;
}

// The port a status document says the supervisor listens on (`listen_port`).
inline std::optional<std::uint16_t> listen_port_of(const boost::json::value& status) {
    const auto* o = status.if_object();
    const auto* p = o ? o->if_contains("listen_port") : nullptr;
    if (!p || !p->is_int64() || p->as_int64() <= 0 || p->as_int64() > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(p->as_int64());
}

class supervisor_fixture {
public:
    supervisor_fixture() { write("config.yaml", "log_level: debug\n"); }

    ~supervisor_fixture() {
        if (clipal_) {
            clipal_->stop(5s);
            EXPECT_FALSE(clipal_->has_sanitizer_report()) << clipal_->stderr_text();
        }
    }

    const temp_dir& dir() const { return dir_; }
    // The port clipal reported when it started.
    std::uint16_t port() const { return port_; }

    // Makes start() listen where config.yaml says (a test that edits the port there),
    // instead of on `--port 0`, which overrides the file.
    void listen_on_config_port(std::uint16_t port) {
        port_from_config_ = true;
        write("config.yaml", "port: " + std::to_string(port) + "\nlog_level: debug\n");
    }

    child_process& process() { return *clipal_; }

    // Writes a config file atomically, as editors do (temp file + rename).
    void write(const std::string& name, const std::string& text) {
        const auto tmp = dir_.write("." + name + ".tmp", text);
        std::filesystem::rename(tmp, dir_.path() / name);
    }

    // Starts clipal, learns its port from `clipal status`, and waits until /health answers
    // and `ready_workers` workers said ready. `binary` replaces the clipal under test (e.g.
    // a copy an upgrade test may replace).
    void start(int ready_workers, std::vector<std::pair<std::string, std::string>> env = {},
               const std::filesystem::path& binary = {}) {
        spawn_options o;
        o.args = {"--config-dir", dir_.path().string()};
        if (!port_from_config_) o.args.insert(o.args.end(), {"--port", "0"});
        o.env = std::move(env);
        clipal_ = std::make_unique<child_process>(binary.empty() ? clipal_binary() : binary, o);
        std::optional<std::uint16_t> reported;
        ASSERT_TRUE(wait_until([&] { return (reported = listen_port()) || !clipal_->running(); }, 10s) && reported)
            << "no listen_port in `clipal status --json`\n"
            << clipal_->stdout_text() << clipal_->stderr_text();
        port_ = *reported;
        ASSERT_TRUE(wait_health(10s)) << clipal_->stdout_text() << clipal_->stderr_text();
        for (int i = 1; i <= ready_workers; ++i)
            ASSERT_TRUE(wait_log_count(" ready (config generation", i, 10s)) << clipal_->stdout_text();
    }

    bool wait_health(std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            http_probe p("127.0.0.1", port_, 500ms);
            if (p.connected()) {
                auto r = p.request("GET", "/health", {}, {}, 1s);
                if (r.status == 200) return true;
            }
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

    // Polls stdout until `needle` occurs at least `count` times.
    bool wait_log_count(std::string_view needle, int count, std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            if (occurrences(clipal_->stdout_text(), needle) >= count) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }

    static int occurrences(const std::string& text, std::string_view needle) {
        int n = 0;
        for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++n;
        return n;
    }

    // `clipal status --json`, parsed; null when it failed.
    boost::json::value status() { return clipal_status(dir_.path()); }

    // The port the running clipal reports now; nothing while it does not answer.
    std::optional<std::uint16_t> listen_port() { return listen_port_of(status()); }

    std::optional<boost::json::object> worker(const std::string& profile) {
        auto s = status();
        if (!s.is_object()) return std::nullopt;
        for (auto& w : s.at("workers").as_array())
            if (w.at("profile").as_string() == profile) return w.as_object();
        return std::nullopt;
    }

    std::optional<int> worker_pid(const std::string& profile) {
        auto w = worker(profile);
        if (!w || !w->at("pid").is_int64()) return std::nullopt;
        return static_cast<int>(w->at("pid").as_int64());
    }

    // Waits for the profile's worker to be ready with a pid other than `not_pid`.
    std::optional<int> wait_worker_ready(const std::string& profile, std::optional<int> not_pid,
                                         std::chrono::milliseconds timeout) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            if (auto w = worker(profile); w && w->at("state").as_string() == "ready" && w->at("pid").is_int64()) {
                const int pid = static_cast<int>(w->at("pid").as_int64());
                if (!not_pid || pid != *not_pid) return pid;
            }
            std::this_thread::sleep_for(20ms);
        }
        return std::nullopt;
    }

private:
    temp_dir dir_;
    std::uint16_t port_ = 0;
    bool port_from_config_ = false;
    std::unique_ptr<child_process> clipal_;
};

} // namespace clipal::test
