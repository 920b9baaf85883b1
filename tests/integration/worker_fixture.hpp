// Shared set-up of the worker integration tests: a config directory written from a few
// lines, the real `clipal worker` process started on port 0 (its address read from its
// "listening" line), and teardown that proves it exits cleanly without a sanitizer report.
#pragma once

#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/fake_upstream_process.hpp"
#include "support/http_probe.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace clipal::test {

using namespace std::chrono_literals;

// One entry of a profile file's `providers:` list.
struct worker_provider {
    std::string name;
    std::string base_url;
    std::string api_key = "sk-provider-key-0000";
    int priority = 0;
    bool enabled = true;
    std::string auth_header{}; // empty: not written (the profile's rule applies)
    // Several keys: written as `api_keys: [...]` instead of `api_key` when not empty.
    std::vector<std::string> api_keys{};
    std::string model{}; // `model: X` when not empty
};

struct worker_options {
    std::string profile = "claude-code"; // claude-code | codex | gemini
    std::vector<worker_provider> providers{};
    // Lines appended to config.yaml after `log_level: debug` (e.g. "reactivate_after: 1s").
    std::vector<std::string> global{};
    std::vector<std::pair<std::string, std::string>> env{};
};

// config.yaml lines that turn the failover v2 policies off (SPEC §4 "Policies"): no
// same-provider retry, no inline wait, no fail-back. For tests that measure the seed's
// rules on their own (a provider that fails is left at once and stays left); `more` follow.
inline std::vector<std::string> seed_failover(std::vector<std::string> more = {}) {
    std::vector<std::string> out{"retries_per_provider: 0", "failback: false", "max_inline_wait: 0"};
    out.insert(out.end(), more.begin(), more.end());
    return out;
}

// The clipal worker process of one test, with its own config directory.
class worker_process {
public:
    explicit worker_process(worker_options o) : options_(std::move(o)) {
        std::string global = "log_level: debug\n";
        for (const auto& line : options_.global) global += line + "\n";
        dir_.write("config.yaml", global);
        std::string profile_yaml = "providers:\n";
        for (const auto& p : options_.providers) {
            profile_yaml += "  - name: " + p.name + "\n";
            profile_yaml += "    base_url: \"" + p.base_url + "\"\n";
            if (p.api_keys.empty()) {
                profile_yaml += "    api_key: \"" + p.api_key + "\"\n";
            } else {
                profile_yaml += "    api_keys: [";
                for (std::size_t i = 0; i < p.api_keys.size(); ++i)
                    profile_yaml += (i == 0 ? "\"" : ", \"") + p.api_keys[i] + "\"";
                profile_yaml += "]\n";
            }
            profile_yaml += "    priority: " + std::to_string(p.priority) + "\n";
            profile_yaml += std::string("    enabled: ") + (p.enabled ? "true" : "false") + "\n";
            if (!p.auth_header.empty()) profile_yaml += "    auth_header: " + p.auth_header + "\n";
            if (!p.model.empty()) profile_yaml += "    model: " + p.model + "\n";
        }
        dir_.write(options_.profile + ".yaml", profile_yaml);

        spawn_options so;
        so.args = {"worker",      "--profile",    options_.profile,    "--listen",
                   "127.0.0.1:0", "--config-dir", dir_.path().string()};
        // The machine's own proxy settings must not leak into tests; the proxy tests set theirs.
        so.unset_env = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                        "no_proxy",   "NO_PROXY",   "all_proxy",   "ALL_PROXY"};
        so.env = options_.env;
        process_ = std::make_unique<child_process>(clipal_binary(), so);
        // Not a std::regex: instantiating one costs every test file that includes this ~4 s of compiling.
        const std::string listening = "listening 127.0.0.1:";
        const auto found = process_->wait_for_output(listening, 10s);
        if (!found || found->rfind(listening, 0) != 0)
            throw std::runtime_error("clipal worker did not start: " + process_->stdout_text() +
                                     process_->stderr_text());
        port_ = static_cast<std::uint16_t>(std::stoi(found->substr(listening.size())));
    }

    // Stops the worker (SIGTERM) unless the test already did, and checks how it ended.
    ~worker_process() {
        if (!stopped_) stop_and_check();
    }

    worker_process(const worker_process&) = delete;
    worker_process& operator=(const worker_process&) = delete;

    std::uint16_t port() const { return port_; }
    child_process& process() { return *process_; }
    const temp_dir& config_dir() const { return dir_; }
    // Everything the worker logged so far (its log lines go to stdout).
    std::string log_text() const { return process_->stdout_text(); }

    http_probe connect() const { return http_probe("127.0.0.1", port_); }

    // One request on a fresh connection.
    http_response request(std::string_view method, std::string_view target, const header_list& headers = {},
                          std::string_view body = {}, std::chrono::milliseconds timeout = 10s) const {
        auto c = connect();
        return c.request(method, target, headers, body, timeout);
    }

    // Waits for a log line containing `needle` (the `skip`+1-th one).
    bool wait_for_log(std::string_view needle, std::chrono::milliseconds timeout = 5s, std::size_t skip = 0) {
        return process_->wait_for_output(needle, timeout, skip).has_value();
    }

    // Error-level log lines containing `needle` are expected by the test (others fail it).
    void expect_error_log(std::string needle) { expected_errors_.push_back(std::move(needle)); }

    // SIGTERM, then expects a clean exit 0, no sanitizer report and no unexpected
    // error-level log line.
    void stop_and_check() {
        stopped_ = true;
        const auto st = process_->stop(10s);
        EXPECT_TRUE(st.exited_with(0)) << "clipal worker ended with " << st.describe() << "\nstderr:\n"
                                       << process_->stderr_text();
        EXPECT_FALSE(process_->has_sanitizer_report()) << process_->stderr_text();
        std::istringstream lines(process_->stdout_text());
        for (std::string line; std::getline(lines, line);) {
            if (line.rfind("[ERROR]", 0) != 0) continue;
            const bool expected = std::any_of(expected_errors_.begin(), expected_errors_.end(),
                                              [&](const std::string& n) { return line.find(n) != std::string::npos; });
            EXPECT_TRUE(expected) << "unexpected error log line: " << line;
        }
    }

private:
    worker_options options_;
    temp_dir dir_;
    std::unique_ptr<child_process> process_;
    std::uint16_t port_ = 0;
    std::vector<std::string> expected_errors_;
    bool stopped_ = false;
};

// A fake-upstream process whose providers are listed in order, ready to become a profile's providers.
inline std::vector<worker_provider> providers_of(const fake_upstream_process& fu,
                                                 const std::vector<std::string>& names) {
    std::vector<worker_provider> out;
    for (const auto& n : names) out.push_back({n, fu.base_url(n), "sk-" + n + "-key-1234"});
    return out;
}

inline fake_upstream_options fakes(std::vector<fake_provider> providers) {
    fake_upstream_options o;
    o.providers = std::move(providers);
    return o;
}

inline boost::json::value parse_json(const std::string& text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    if (ec) ADD_FAILURE() << "not JSON: " << text;
    return v;
}

// A Claude Code style request: POST /claudecode/v1/messages?beta=true with a small body.
inline http_response claude_message(const worker_process& w, bool stream = false, const header_list& extra = {},
                                    std::chrono::milliseconds timeout = 10s) {
    header_list h{{"Content-Type", "application/json"},
                  {"anthropic-version", "2023-06-01"},
                  {"x-api-key", "client-key"}};
    h.insert(h.end(), extra.begin(), extra.end());
    return w.request("POST", "/claudecode/v1/messages?beta=true", h,
                     std::string(R"({"model":"claude-x","max_tokens":16,"stream":)") + (stream ? "true" : "false") +
                         R"(,"messages":[{"role":"user","content":"hi"}]})",
                     timeout);
}

// Which fake provider answered an Anthropic message ("Hello from NAME" in its text).
inline bool answered_by(const http_response& r, std::string_view provider) {
    return r.status == 200 && r.body.find("Hello from " + std::string(provider)) != std::string::npos;
}

// Polls `pred` every 5 ms until it holds or the timeout passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
}

} // namespace clipal::test
