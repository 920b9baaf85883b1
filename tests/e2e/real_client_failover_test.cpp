// The real Claude Code, Codex CLI and Gemini CLI run a one-shot prompt through the real
// clipal, whose primary provider fails in a scripted way while the secondary answers: the
// CLI must succeed with the secondary's answer, and the upstream must have seen the
// provider's key (never the client's), the prefix stripped and the query kept.
#include "e2e/e2e_environment.hpp"
#include "e2e/real_client.hpp"

#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/fake_upstream_process.hpp"
#include "support/http_probe.hpp"
#include "support/proc_stat.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/types.h>

namespace clipal::e2e {
namespace {

using namespace std::chrono_literals;
using clipal::test::child_process;
using clipal::test::fake_upstream_process;
using clipal::test::recorded_request;
using clipal::test::spawn_options;
using clipal::test::temp_dir;

// Generous: Gemini CLI alone needs ~30 s to start on a loaded 2-core machine.
constexpr auto cli_time_limit = 120s;
const std::string prompt = "Reply with a short greeting.";
const std::string secondary_key = "key-secondary-000000000000";

struct failover_case {
    const char* name; // test name suffix
    client cli;
    const char* primary_script; // fake-upstream script of the failing primary
};

std::ostream& operator<<(std::ostream& os, const failover_case& c) { return os << c.name; }

// Every process below `root` (the CLIs start helpers of their own), deepest last.
std::vector<int> descendants(int root) {
    std::vector<int> found{root};
    for (std::size_t i = 0; i < found.size(); ++i)
        for (const int child : clipal::test::children_of(found[i])) found.push_back(child);
    return found;
}

std::string describe(const std::vector<recorded_request>& requests) {
    std::string out;
    for (const auto& r : requests) {
        out += "  " + r.provider + " " + r.method + " " + r.target + " step=" + r.step;
        for (const auto* name : {"x-api-key", "authorization", "x-goog-api-key"})
            if (const auto value = r.header(name)) out += std::string(" ") + name + "=" + *value;
        out += "\n";
    }
    return out;
}

const char* prefix_of(client c) {
    switch (c) {
    case client::claude_code: return "/claudecode";
    case client::codex: return "/codex";
    case client::gemini: return "/gemini";
    }
    return "";
}

// The request that carries the conversation, as the upstream must see it.
bool is_main_request(client c, const recorded_request& r) {
    if (r.method != "POST") return false;
    switch (c) {
    case client::claude_code: return r.target == "/v1/messages?beta=true";
    case client::codex: return r.target == "/v1/responses";
    case client::gemini:
        return r.target.rfind("/v1beta/models/", 0) == 0 &&
               r.target.find(":streamGenerateContent?alt=sse") != std::string::npos;
    }
    return false;
}

// The header that must carry the provider key, and its exact value.
std::pair<std::string, std::string> key_carrier(client c) {
    switch (c) {
    case client::claude_code: return {"x-api-key", secondary_key};
    case client::codex: return {"authorization", "Bearer " + secondary_key};
    case client::gemini: return {"x-goog-api-key", secondary_key};
    }
    return {};
}

class RealClientFailover : public testing::TestWithParam<failover_case> {};

TEST_P(RealClientFailover, SecondaryAnswersWithProviderKeyAndStrippedPrefix) {
    const auto& tc = GetParam();
    if (!namespace_error().empty())
        GTEST_SKIP() << "no loopback-only network namespace (" << namespace_error()
                     << "); the real CLIs are only run inside one";
    if (const auto missing = missing_client(tc.cli); !missing.empty()) GTEST_SKIP() << missing;

    clipal::test::fake_upstream_options fo;
    fo.providers = {{"primary", tc.primary_script}, {"secondary", "ok"}};
    fake_upstream_process upstream(fo);

    temp_dir config;
    temp_dir home;
    const auto port = clipal::test::unused_loopback_port();
    config.write("config.yaml", "port: " + std::to_string(port) +
                                    "\nlog_level: debug\nresponse_header_timeout: 2s\nupstream_idle_timeout: 2s\n");
    for (const auto* file : {"claude-code.yaml", "codex.yaml", "gemini.yaml"}) {
        // Codex builds URLs as base_url + "/responses": its providers' base_url ends in /v1.
        const std::string suffix = std::string(file) == "codex.yaml" ? "/v1" : "";
        config.write(file, "providers:\n"
                           "  - {name: primary, base_url: \"" +
                               upstream.base_url("primary") + suffix +
                               "\", api_key: key-primary-000000000000, priority: 1}\n"
                               "  - {name: secondary, base_url: \"" +
                               upstream.base_url("secondary") + suffix + "\", api_key: " + secondary_key +
                               ", priority: 2}\n");
    }

    spawn_options so;
    so.args = {"--config-dir", config.path().string()};
    child_process clipal(clipal::test::clipal_binary(), so);
    // The supervisor tags a profile's log lines with its prefix: "[gemini] worker pid N ready".
    const std::regex ready("\\[" + std::string(prefix_of(tc.cli) + 1) + "\\] worker pid [0-9]+ ready");
    ASSERT_TRUE(clipal.wait_for_output(ready, 15s)) << clipal.stdout_text() << clipal.stderr_text();

    const auto cmd = prepare_client(tc.cli, home.path(), port, prompt);
    spawn_options co;
    co.args = cmd.args;
    co.env = cmd.env;
    co.clean_env = true;
    co.working_dir = cmd.working_dir;
    const auto started = std::chrono::steady_clock::now();
    child_process cli(cmd.program, co);
    const auto status = cli.wait_exit(cli_time_limit);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    if (!status) {
        for (const auto pid : descendants(cli.pid())) ::kill(pid, SIGKILL);
        cli.wait_exit(5s);
    }
    std::cout << "[ timing   ] " << to_string(tc.cli) << " with primary '" << tc.primary_script << "': " << took.count()
              << " ms\n";
    RecordProperty("cli_ms", static_cast<int>(took.count()));

    const auto requests = upstream.requests();
    const std::string context =
        "CLI stdout:\n" + cli.stdout_text() + "\nCLI stderr (tail):\n" +
        cli.stderr_text().substr(cli.stderr_text().size() > 4000 ? cli.stderr_text().size() - 4000 : 0) +
        "\nupstream saw:\n" + describe(requests) + "clipal log:\n" + clipal.stdout_text();

    ASSERT_TRUE(status.has_value()) << "the CLI did not finish within " << cli_time_limit.count() << " s\n" << context;
    EXPECT_TRUE(status->exited_with(0)) << status->describe() << "\n" << context;
    EXPECT_NE(cli.stdout_text().find("Hello from secondary"), std::string::npos) << context;

    // The fault really happened: the primary was tried first (a refusing one records nothing).
    if (std::string(tc.primary_script) == "refuse") {
        EXPECT_NE(clipal.stdout_text().find("primary failed"), std::string::npos) << context;
    } else {
        ASSERT_FALSE(upstream.requests("primary").empty()) << context;
        EXPECT_NE(upstream.requests("primary").front().step, "ok") << context;
    }

    const auto secondary = upstream.requests("secondary");
    bool saw_main = false;
    const auto [carrier, value] = key_carrier(tc.cli);
    for (const auto& r : secondary) {
        saw_main = saw_main || is_main_request(tc.cli, r);
        EXPECT_EQ(r.header(carrier), value) << r.target << "\n" << context;
    }
    EXPECT_TRUE(saw_main) << "no conversation request with the prefix stripped and the query kept\n" << context;
    for (const auto& r : requests) {
        EXPECT_NE(r.target.rfind(prefix_of(tc.cli), 0), 0u) << "prefix not stripped: " << r.target;
        EXPECT_EQ(r.target.find("key="), std::string::npos) << "credential in the URL: " << r.target;
        for (const auto& [name, v] : r.headers)
            EXPECT_EQ(v.find(dummy_credential(tc.cli)), std::string::npos)
                << "the client's own credential reached " << r.provider << " in " << name;
    }

    const auto clipal_exit = clipal.stop(5s);
    EXPECT_TRUE(clipal_exit.exited_with(0)) << clipal_exit.describe() << "\n" << clipal.stdout_text();
    EXPECT_FALSE(clipal.has_sanitizer_report()) << clipal.stderr_text();
}

// Each fault kind once, spread over the three CLIs.
INSTANTIATE_TEST_SUITE_P(
    Faults, RealClientFailover,
    testing::Values(failover_case{"Claude_503WithErrorBody", client::claude_code, "status:503"},
                    failover_case{"Claude_StallAfterHeaders", client::claude_code, "stall-body"},
                    failover_case{"Codex_429WithRetryAfter", client::codex, "status:429;retry-after=30"},
                    failover_case{"Codex_ResetBeforeResponse", client::codex, "reset"},
                    failover_case{"Gemini_RefusedConnection", client::gemini, "refuse"},
                    failover_case{"Gemini_StallBeforeHeaders", client::gemini, "stall-headers"}),
    [](const testing::TestParamInfo<failover_case>& param) { return std::string(param.param.name); });

} // namespace
} // namespace clipal::e2e
