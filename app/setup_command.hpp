// `clipal setup`: points Claude Code, Codex CLI and Gemini CLI at this clipal by editing
// the settings files each tool reads by itself, so they reach clipal with no environment
// variable set; `--undo` puts every byte back; `--status` says where each tool points.
//
// What it writes (the facts behind it: ../shared/REAL-CLIENTS.md, checked with the CLIs):
// - Claude Code, <$CLAUDE_CONFIG_DIR or ~/.claude>/settings.json, its `env` block:
//   ANTHROPIC_BASE_URL = http://HOST:PORT/claudecode, and ANTHROPIC_AUTH_TOKEN = a
//   placeholder when the block has neither ANTHROPIC_AUTH_TOKEN nor ANTHROPIC_API_KEY and
//   the file no apiKeyHelper (the auth token, not the API key: Claude Code asks before it
//   uses an ANTHROPIC_API_KEY and takes the auth token without asking). Settings' `env`
//   wins over the shell's environment. No traffic flags: they are the user's choice.
// - Codex, <$CODEX_HOME or ~/.codex>/config.toml: model_provider = "clipal" and a
//   [model_providers.clipal] table (name, base_url = http://HOST:PORT/codex, wire_api =
//   "responses"). No env_key: Codex then sends no credential and clipal adds the key;
//   with one, Codex refuses to start whenever that variable is unset.
// - Gemini CLI, <$GEMINI_CLI_HOME or ~>/.gemini/: settings.json's
//   security.auth.selectedType = "gemini-api-key", and .env (which Gemini CLI loads
//   itself) with GOOGLE_GEMINI_BASE_URL = http://HOST:PORT/gemini and GEMINI_API_KEY = a
//   placeholder when it has none.
// With `access_token` in config.yaml the tools must present it: it is written as their
// credential (ANTHROPIC_AUTH_TOKEN or the key variable already there, Codex's
// experimental_bearer_token, GEMINI_API_KEY) instead of a placeholder.
#pragma once

#include "shared/config_loader.hpp"
#include "shared/profile.hpp"

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::app {

// A file could not be read, parsed or written, the home directory is missing, ...:
// nothing was changed. Bad flags are exit_usage (64), a bad config.yaml exit_config (78).
inline constexpr int exit_setup_failed = 1;

// What `clipal setup` writes when a tool has no credential of its own.
inline constexpr std::string_view setup_placeholder_credential = "clipal-placeholder";

// Where the tools keep their settings, found as the tools find them.
struct setup_environment {
    std::filesystem::path home;                             // $HOME (%USERPROFILE% on Windows); empty if unset
    std::optional<std::filesystem::path> claude_config_dir; // $CLAUDE_CONFIG_DIR
    std::optional<std::filesystem::path> codex_home;        // $CODEX_HOME
    std::optional<std::filesystem::path> gemini_cli_home;   // $GEMINI_CLI_HOME
    // Set in this environment and winning over the files (shown by --status).
    std::optional<std::string> gemini_base_url; // GOOGLE_GEMINI_BASE_URL (wins over .env)

    // The variables above, from this process's environment (empty ones count as unset).
    static setup_environment from_process();
};

enum class setup_action { apply, undo, status };

struct setup_options {
    setup_action action = setup_action::apply;
    std::vector<profile> tools; // apply and undo; status shows all three
    bool dry_run = false;       // print the diff, change nothing
    std::filesystem::path config_dir;
    config_overrides overrides; // --listen-addr / --port
    setup_environment env;
};

// "claude-code", "codex", "gemini" or "all"; nullopt for anything else.
std::optional<std::vector<profile>> setup_tools_from_string(std::string_view name);

// Returns 0, exit_setup_failed, exit_config or exit_usage; says what it did on `out`,
// what went wrong on `err`.
int run_setup(const setup_options& options, std::ostream& out, std::ostream& err);

} // namespace clipal::app
