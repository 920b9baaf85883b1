// A real `clipal` supervisor on a temporary config dir and a free loopback port, with
// helpers to edit its config the way editors do, read `clipal status --json`, and find
// its worker processes. Everything it starts is stopped by PID.
#pragma once

#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/proc_stat.hpp"
#include "support/http_probe.hpp"
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

#include <signal.h>

namespace clipal::test {

using namespace std::chrono_literals;

inline std::string provider_yaml(const std::vector<std::pair<std::string, std::string>>& name_url) {
    std::string y = "providers:\n";
    int n = 0;
    for (const auto& [name, url] : name_url)
        y += "  - {name: " + name + ", base_url: \"" + url + "\", api_key: key-" + name + "-000000000000, priority: " +
             std::to_string(++n) + "}\n";
    return y;
}

class supervisor_fixture {
public:
    supervisor_fixture() : port_(unused_loopback_port()) {
        write("config.yaml", "port: " + std::to_string(port_) + "\nlog_level: debug\n");
    }

    ~supervisor_fixture() {
        if (clipal_) {
            clipal_->stop(5s);
            EXPECT_FALSE(clipal_->has_sanitizer_report()) << clipal_->stderr_text();
        }
    }

    const temp_dir& dir() const { return dir_; }
    std::uint16_t port() const { return port_; }
    child_process& process() { return *clipal_; }

    // Writes a config file atomically, as editors do (temp file + rename).
    void write(const std::string& name, const std::string& text) {
        const auto tmp = dir_.write("." + name + ".tmp", text);
        std::filesystem::rename(tmp, dir_.path() / name);
    }

    // Starts clipal and waits until /health answers and `ready_workers` workers said ready.
    // `binary` replaces the clipal under test (e.g. a copy an upgrade test may replace).
    void start(int ready_workers, std::vector<std::pair<std::string, std::string>> env = {},
               const std::filesystem::path& binary = {}) {
        spawn_options o;
        o.args = {"--config-dir", dir_.path().string()};
        o.env = std::move(env);
        clipal_ = std::make_unique<child_process>(binary.empty() ? clipal_binary() : binary, o);
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
    boost::json::value status() {
        spawn_options o;
        o.args = {"status", "--json", "--config-dir", dir_.path().string()};
        child_process c(clipal_binary(), o);
        const auto st = c.wait_exit(5s);
        if (!st || !st->exited_with(0)) return nullptr;
        boost::system::error_code ec;
        auto v = boost::json::parse(c.stdout_text(), ec);
        return ec ? boost::json::value(nullptr) : v;
    }

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
    std::uint16_t port_;
    std::unique_ptr<child_process> clipal_;
};

} // namespace clipal::test
