// Reads and validates a config directory (SPEC §2). Every rule and error message of the
// config lives here; yaml-cpp exceptions stop at this module's edge.
#pragma once

#include "shared/base_url.hpp"
#include "shared/config.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal {

// One problem found in a config file. `line` is 1-based, 0 when the file as a whole is meant.
struct config_issue {
    std::string file;
    int line = 0;
    std::string field;
    std::string message;

    // "claude-code.yaml:7: providers[1].base_url: must be ..."
    std::string to_string() const;
};

struct config_load_result {
    std::optional<config> cfg;          // set when there were no errors
    std::vector<config_issue> errors;   // every error found, not only the first
    std::vector<config_issue> warnings; // e.g. group/world-readable files
};

// Command-line values that win over config.yaml.
struct config_overrides {
    std::optional<std::string> listen_addr;
    std::optional<std::uint16_t> port;
    std::optional<log_level> level;
};

// Where the config lives: the flag, else $CLIPAL_CONFIG_DIR, else ~/.clipal.
std::filesystem::path resolve_config_dir(const std::optional<std::string>& flag);

// Loads all four files from `dir`. A missing file means defaults / no providers.
config_load_result load_config(const std::filesystem::path& dir, const config_overrides& overrides = {});

// The pieces load_config is made of, for tests and for reloading a single file.
// `file` names the file in messages; problems are appended to `errors` (and, when given,
// `warnings`: an http:// base_url to a host that is not loopback).
global_config parse_global_yaml(std::string_view text, const std::string& file, std::vector<config_issue>& errors);
profile_config parse_profile_yaml(profile p, std::string_view text, const std::string& file,
                                  std::vector<config_issue>& errors, std::vector<config_issue>* warnings = nullptr);

// "https://" is added to a base_url without a scheme, then parse_base_url checks it.
std::optional<base_url> normalize_base_url(std::string& url, std::string& error);

} // namespace clipal
