// Per-client setup for the e2e tests, following REAL-CLIENTS.md: the variables and
// settings files each CLI reads to use a custom endpoint, and those that keep it quiet
// (no telemetry, update checks or other nonessential traffic).
#include "e2e/real_client.hpp"

#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace clipal::e2e {
namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + path.string());
}

std::string base_url(std::uint16_t port, const char* prefix) {
    return "http://127.0.0.1:" + std::to_string(port) + prefix;
}

} // namespace

const char* to_string(client c) {
    switch (c) {
    case client::claude_code: return "claude";
    case client::codex: return "codex";
    case client::gemini: return "gemini";
    }
    return "?";
}

std::string dummy_credential(client c) { return std::string("dummy-client-credential-") + to_string(c); }

std::filesystem::path cli_cache_dir() {
    if (const char* dir = std::getenv("CLIPAL_CLI_CACHE"); dir != nullptr && *dir != '\0') return dir;
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home != nullptr ? home : "/root") / ".cache" / "clipal-e2e";
}

std::string missing_client(client c) {
    const auto cache = cli_cache_dir();
    const auto program = cache / "node_modules" / ".bin" / to_string(c);
    if (!std::filesystem::exists(program) || !std::filesystem::exists(cache / "bin" / "node"))
        return std::string(to_string(c)) + " is not installed in " + cache.string() +
               " (run scripts/install-real-clis; it needs npm and the npm registry)";
    return {};
}

std::vector<std::pair<std::string, std::string>> user_environment(const std::filesystem::path& home) {
    const auto cache = cli_cache_dir();
    // The CLIs' launchers are `#!/usr/bin/env node` scripts: the cache's node comes first.
    return {
        {"HOME", home.string()},
        {"PATH", (cache / "bin").string() + ":" + (cache / "node_modules" / ".bin").string() + ":/usr/bin:/bin"},
        {"LANG", "C.UTF-8"},
        {"TERM", "dumb"},
        {"NO_COLOR", "1"},
        {"TMPDIR", (home / "tmp").string()},
    };
}

client_command prepare_client(client c, const std::filesystem::path& home, std::uint16_t port,
                              const std::string& prompt) {
    const auto cache = cli_cache_dir();
    client_command cmd;
    cmd.program = cache / "node_modules" / ".bin" / to_string(c);
    cmd.working_dir = home / "work";
    std::filesystem::create_directories(cmd.working_dir);
    cmd.env = user_environment(home);
    std::filesystem::create_directories(home / "tmp");
    switch (c) {
    case client::claude_code:
        cmd.args = {"-p", prompt};
        cmd.env.insert(cmd.env.end(), {
                                          {"ANTHROPIC_BASE_URL", base_url(port, "/claudecode")},
                                          {"ANTHROPIC_API_KEY", dummy_credential(c)},
                                          {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"},
                                          {"DISABLE_TELEMETRY", "1"},
                                          {"DISABLE_ERROR_REPORTING", "1"},
                                          {"DISABLE_AUTOUPDATER", "1"},
                                          {"CLAUDE_CODE_MAX_RETRIES", "3"},
                                      });
        break;
    case client::codex:
        cmd.args = {"exec", "--skip-git-repo-check", prompt};
        write_text(home / ".codex" / "config.toml", "model_provider = \"clipal\"\n"
                                                    "check_for_update_on_startup = false\n"
                                                    "[analytics]\nenabled = false\n"
                                                    "[features]\nplugins = false\n"
                                                    "[model_providers.clipal]\n"
                                                    "name = \"clipal\"\n"
                                                    "base_url = \"" +
                                                        base_url(port, "/codex") +
                                                        "\"\n"
                                                        "wire_api = \"responses\"\n"
                                                        "env_key = \"CLIPAL_DUMMY_KEY\"\n");
        cmd.env.insert(cmd.env.end(), {
                                          {"CODEX_HOME", (home / ".codex").string()},
                                          {"CLIPAL_DUMMY_KEY", dummy_credential(c)},
                                      });
        break;
    case client::gemini:
        cmd.args = {"-p", prompt};
        // Without selectedType, `gemini -p` exits 41 asking for an auth method.
        write_text(home / ".gemini" / "settings.json",
                   R"({"security":{"auth":{"selectedType":"gemini-api-key"}},)"
                   R"("privacy":{"usageStatisticsEnabled":false},"general":{"enableAutoUpdate":false}})");
        cmd.env.insert(cmd.env.end(), {
                                          {"GOOGLE_GEMINI_BASE_URL", base_url(port, "/gemini")},
                                          {"GEMINI_API_KEY", dummy_credential(c)},
                                          {"GEMINI_CLI_TRUST_WORKSPACE", "true"},
                                      });
        break;
    }
    return cmd;
}

} // namespace clipal::e2e
