// The real CLIs as the e2e tests run them: where the pinned installs live (see
// scripts/install-real-clis) and, per client, the throwaway HOME, settings files,
// environment and command line that point it at a local clipal with a dummy credential.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace clipal::e2e {

enum class client { claude_code, codex, gemini };

const char* to_string(client c); // "claude", "codex", "gemini"

// The dummy credential each client is given; it must never reach an upstream.
std::string dummy_credential(client c);

struct client_command {
    std::filesystem::path program;
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env; // the complete environment
    std::filesystem::path working_dir;
};

// ${CLIPAL_CLI_CACHE:-$HOME/.cache/clipal-e2e}.
std::filesystem::path cli_cache_dir();

// Empty when the client is installed in the cache, else what is missing and how to get it.
std::string missing_client(client c);

// Writes the client's settings under `home` (a fresh directory) and returns how to run a
// one-shot `prompt` against clipal at 127.0.0.1:`port`.
// The environment a user's shell gives a CLI, with none of clipal's: HOME, PATH with the
// cached CLIs and node first, locale, a dumb terminal, TMPDIR under `home`.
std::vector<std::pair<std::string, std::string>> user_environment(const std::filesystem::path& home);

client_command prepare_client(client c, const std::filesystem::path& home, std::uint16_t port,
                              const std::string& prompt);

} // namespace clipal::e2e
