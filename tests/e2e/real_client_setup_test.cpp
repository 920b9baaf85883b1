// `clipal setup all` with the real Claude Code, Codex CLI and Gemini CLI: in a throwaway
// HOME that already holds the user's own settings, setup points every tool at clipal; the
// CLI, started with no clipal-related environment variable at all (HOME, PATH, locale and
// the tools' own quieting switches), must then reach clipal and print the fake upstream's
// answer. `clipal setup --undo all` must leave every file it touched byte-identical to
// before (the ones it created gone), and the CLI must no longer reach clipal.
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
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <signal.h>

namespace clipal::e2e {

// The test names say "ClaudeCode"; GoogleTest prints the parameter with this.
void PrintTo(client c, std::ostream* os) { *os << to_string(c); }

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using clipal::test::child_process;
using clipal::test::fake_upstream_process;
using clipal::test::recorded_request;
using clipal::test::spawn_options;
using clipal::test::temp_dir;

constexpr auto cli_time_limit = 120s;
// After --undo a CLI has nowhere to go (no credential, or an internet it cannot reach in
// the namespace: Codex then retries OpenAI for minutes); it must give up or be stopped
// within this bound.
constexpr auto cli_after_undo_limit = 30s;
const std::string prompt = "Reply with a short greeting.";
const std::string provider_key = "key-setup-000000000000000";

std::optional<std::string> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_file(const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << text;
}

// The files `clipal setup all` may touch under `home`.
std::vector<fs::path> setup_files(const fs::path& home) {
    return {home / ".claude" / "settings.json", home / ".codex" / "config.toml", home / ".gemini" / "settings.json",
            home / ".gemini" / ".env"};
}

std::map<fs::path, std::optional<std::string>> snapshot(const std::vector<fs::path>& files) {
    std::map<fs::path, std::optional<std::string>> s;
    for (const auto& f : files) s[f] = read_file(f);
    return s;
}

// What a user of each tool already has: their own settings (comments, keys clipal does not
// know), including the switches that keep each CLI from phoning home, none about clipal.
void write_user_settings(const fs::path& home, const fs::path& work) {
    write_file(home / ".claude" / "settings.json", "{\n"
                                                   "  \"permissions\": {\n"
                                                   "    \"allow\": [\"Bash(ls:*)\"]\n"
                                                   "  },\n"
                                                   "  \"cleanupPeriodDays\": 30\n"
                                                   "}\n");
    write_file(home / ".codex" / "config.toml", "# my Codex settings\n"
                                                "check_for_update_on_startup = false  # offline box\n"
                                                "\n"
                                                "[analytics]\n"
                                                "enabled = false\n"
                                                "\n"
                                                "[features]\n"
                                                "plugins = false\n");
    write_file(home / ".gemini" / "settings.json", "{\n"
                                                   "  // mine\n"
                                                   "  \"privacy\": {\"usageStatisticsEnabled\": false},\n"
                                                   "  \"general\": {\"enableAutoUpdate\": false}\n"
                                                   "}\n");
    // Gemini CLI reads ~/.gemini/.env only in folders the user trusts; this one is.
    write_file(home / ".gemini" / "trustedFolders.json", "{\"" + work.string() + "\": \"TRUST_FOLDER\"}\n");
}

// How the user starts the CLI: HOME, PATH and locale, plus the quieting switches that are
// not about clipal. No ANTHROPIC_*, CODEX_HOME, GEMINI_*, GOOGLE_*.
spawn_options user_launch(client c, const fs::path& home, const fs::path& work) {
    spawn_options o;
    o.clean_env = true;
    o.working_dir = work;
    o.env = user_environment(home);
    switch (c) {
    case client::claude_code:
        o.args = {"-p", prompt};
        o.env.insert(o.env.end(), {{"DISABLE_TELEMETRY", "1"},
                                   {"DISABLE_ERROR_REPORTING", "1"},
                                   {"DISABLE_AUTOUPDATER", "1"},
                                   {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"}});
        break;
    case client::codex: o.args = {"exec", "--skip-git-repo-check", prompt}; break;
    case client::gemini: o.args = {"-p", prompt}; break;
    }
    return o;
}

struct cli_run {
    std::optional<clipal::test::exit_status> status;
    std::string out;
    std::string err;
    std::chrono::milliseconds took;
};

cli_run run_cli(client c, const spawn_options& o, std::chrono::milliseconds limit) {
    const auto program = cli_cache_dir() / "node_modules" / ".bin" / to_string(c);
    const auto started = std::chrono::steady_clock::now();
    child_process cli(program, o);
    auto status = cli.wait_exit(limit);
    if (!status) {
        // The CLIs start helpers of their own: stop the whole tree.
        std::vector<int> tree{cli.pid()};
        for (std::size_t i = 0; i < tree.size(); ++i)
            for (const int child : clipal::test::children_of(tree[i])) tree.push_back(child);
        for (const auto pid : tree) ::kill(pid, SIGKILL);
        cli.wait_exit(5s);
    }
    return {status, cli.stdout_text(), cli.stderr_text(),
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)};
}

struct clipal_run {
    int code;
    std::string out;
};

clipal_run run_setup(const fs::path& config, const fs::path& home, std::vector<std::string> args) {
    spawn_options o;
    o.clean_env = true;
    o.env = {{"HOME", home.string()}, {"PATH", "/usr/bin:/bin"}};
    o.args = {"setup"};
    o.args.insert(o.args.end(), args.begin(), args.end());
    o.args.insert(o.args.end(), {"--config-dir", config.string()});
    child_process p(clipal::test::clipal_binary(), o);
    const auto status = p.wait_exit(30s);
    return {status && !status->signaled ? status->value : -1, p.stdout_text() + p.stderr_text()};
}

const char* prefix_of(client c) {
    switch (c) {
    case client::claude_code: return "claudecode";
    case client::codex: return "codex";
    case client::gemini: return "gemini";
    }
    return "";
}

bool is_main_request(client c, const recorded_request& r) {
    if (r.method != "POST") return false;
    switch (c) {
    case client::claude_code: return r.target.rfind("/v1/messages", 0) == 0;
    case client::codex: return r.target == "/v1/responses";
    case client::gemini: return r.target.find(":streamGenerateContent") != std::string::npos;
    }
    return false;
}

std::string tail(const std::string& s, std::size_t n = 3000) { return s.substr(s.size() > n ? s.size() - n : 0); }

class RealClientSetup : public testing::TestWithParam<client> {};

TEST_P(RealClientSetup, SetupAllReachesClipalWithoutEnvironmentAndUndoPutsEveryByteBack) {
    const auto c = GetParam();
    if (!namespace_error().empty())
        GTEST_SKIP() << "no loopback-only network namespace (" << namespace_error()
                     << "); the real CLIs are only run inside one";
    if (const auto missing = missing_client(c); !missing.empty()) GTEST_SKIP() << missing;

    clipal::test::fake_upstream_options fo;
    fo.providers = {{"up", "ok"}};
    fake_upstream_process upstream(fo);

    temp_dir config;
    temp_dir home;
    const auto work = home.path() / "work";
    fs::create_directories(work);
    fs::create_directories(home.path() / "tmp");
    const auto port = clipal::test::unused_loopback_port();
    config.write("config.yaml", "port: " + std::to_string(port) + "\n");
    for (const auto* file : {"claude-code.yaml", "codex.yaml", "gemini.yaml"}) {
        const std::string suffix = std::string(file) == "codex.yaml" ? "/v1" : "";
        config.write(file, "providers:\n  - {name: up, base_url: \"" + upstream.base_url("up") + suffix +
                               "\", api_key: " + provider_key + "}\n");
    }
    spawn_options so;
    so.args = {"--config-dir", config.path().string()};
    child_process clipal(clipal::test::clipal_binary(), so);
    const std::regex ready("\\[" + std::string(prefix_of(c)) + "\\] worker pid [0-9]+ ready");
    ASSERT_TRUE(clipal.wait_for_output(ready, 15s)) << clipal.stdout_text() << clipal.stderr_text();

    write_user_settings(home.path(), work);
    const auto files = setup_files(home.path());
    const auto before = snapshot(files);

    const auto setup = run_setup(config.path(), home.path(), {"all"});
    ASSERT_EQ(setup.code, 0) << setup.out;
    const auto status = run_setup(config.path(), home.path(), {"--status"});
    EXPECT_EQ(status.code, 0) << status.out;
    for (const auto* tool : {"claude-code", "codex", "gemini"})
        EXPECT_NE(status.out.find(std::string(tool) + std::string(12 - std::string(tool).size(), ' ') +
                                  " points at clipal: http://127.0.0.1:" + std::to_string(port)),
                  std::string::npos)
            << status.out;

    // The CLI, started as the user starts it.
    const auto launch = user_launch(c, home.path(), work);
    const auto first = run_cli(c, launch, cli_time_limit);
    std::cout << "[ timing   ] " << to_string(c) << " after clipal setup: " << first.took.count() << " ms\n";
    RecordProperty("cli_ms", static_cast<int>(first.took.count()));
    const auto seen = upstream.requests();
    std::string context = "setup said:\n" + setup.out + "\nCLI stdout:\n" + first.out + "\nCLI stderr (tail):\n" +
                          tail(first.err) + "\nclipal log (tail):\n" + tail(clipal.stdout_text());
    ASSERT_TRUE(first.status.has_value()) << "the CLI did not finish within " << cli_time_limit.count() << " s\n"
                                          << context;
    EXPECT_TRUE(first.status->exited_with(0)) << first.status->describe() << "\n" << context;
    EXPECT_NE(first.out.find("Hello from up"), std::string::npos) << context;
    bool saw_main = false;
    for (const auto& r : seen) {
        if (!is_main_request(c, r)) continue;
        saw_main = true;
        const auto carrier = c == client::gemini     ? r.header("x-goog-api-key")
                             : c == client::codex    ? r.header("authorization")
                             : r.header("x-api-key") ? r.header("x-api-key")
                                                     : r.header("authorization");
        ASSERT_TRUE(carrier.has_value()) << r.target;
        EXPECT_NE(carrier->find(provider_key), std::string::npos) << "the provider key went upstream";
    }
    EXPECT_TRUE(saw_main) << "no conversation request reached the upstream through clipal\n" << context;

    // Undo: every file as it was, the created ones gone.
    const auto undone = run_setup(config.path(), home.path(), {"--undo", "all"});
    ASSERT_EQ(undone.code, 0) << undone.out;
    const auto after = snapshot(files);
    for (const auto& f : files) {
        if (!before.at(f)) {
            EXPECT_FALSE(after.at(f).has_value()) << f << " was created by setup and must be gone\n" << undone.out;
        } else {
            EXPECT_EQ(after.at(f), before.at(f)) << f << " is not byte-identical after --undo\n" << undone.out;
        }
    }
    EXPECT_NE(undone.out.find("restored"), std::string::npos) << undone.out;
    EXPECT_FALSE(fs::exists(config.path() / "setup-backup")) << undone.out;

    // And the CLI no longer reaches clipal: it fails or tries elsewhere, and is stopped in time.
    const auto count = upstream.requests().size();
    const auto second = run_cli(c, launch, cli_after_undo_limit);
    std::cout << "[ timing   ] " << to_string(c) << " after --undo: " << second.took.count() << " ms ("
              << (second.status ? second.status->describe() : std::string("stopped")) << ")\n";
    EXPECT_EQ(upstream.requests().size(), count) << "the CLI still reached clipal after --undo\n"
                                                 << second.out << tail(second.err);
    EXPECT_EQ(second.out.find("Hello from up"), std::string::npos) << second.out;
    if (second.status) {
        EXPECT_FALSE(second.status->exited_with(0)) << second.out << tail(second.err);
    }

    const auto clipal_exit = clipal.stop(5s);
    EXPECT_TRUE(clipal_exit.exited_with(0)) << clipal_exit.describe();
}

INSTANTIATE_TEST_SUITE_P(Clients, RealClientSetup, testing::Values(client::claude_code, client::codex, client::gemini),
                         [](const testing::TestParamInfo<client>& param) {
                             switch (param.param) {
                             case client::claude_code: return std::string("ClaudeCode");
                             case client::codex: return std::string("Codex");
                             case client::gemini: return std::string("Gemini");
                             }
                             return std::string("Unknown");
                         });

} // namespace
} // namespace clipal::e2e
