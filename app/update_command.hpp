// `clipal update`: find the newest release, download this platform's asset, verify it
// against the release's checksums.txt, swap it in for the running executable atomically
// (the previous one kept as <exe>.old), and ask a running supervisor to re-execute.
#pragma once

#include "app/https_fetch.hpp"

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::app {

// --check: 0 up to date, exit_update_available when a newer release exists, 1 on errors.
inline constexpr int exit_update_available = 10;
inline constexpr int exit_update_failed = 1;

// A placeholder until the project has a public home; override with --endpoint or the
// environment variable below.
inline constexpr std::string_view default_update_endpoint =
    "https://api.github.com/repos/clipal-dev/clipal/releases/latest";
inline constexpr const char* update_endpoint_env = "CLIPAL_UPDATE_ENDPOINT";

struct update_options {
    bool check = false;                  // only report; exit 0 / 10 / 1
    bool dry_run = false;                // look everything up, change nothing
    bool force = false;                  // reinstall the same version, downgrade, or take a pre-release
    std::optional<std::string> endpoint; // --endpoint; else $CLIPAL_UPDATE_ENDPOINT; else the default
    std::filesystem::path executable;    // the file to replace; empty: the running executable
    std::filesystem::path config_dir;    // whose running supervisor is told about the new binary
    std::string current_version;         // empty: this build's version
    https_limits limits{};
    std::chrono::milliseconds version_probe_timeout{10000}; // for `<new binary> --version`
};

// The endpoint `options` selects: the flag, else the environment variable, else the default.
std::string update_endpoint(const std::optional<std::string>& flag);

// Runs the command; progress on `out`, errors and warnings on `err`. Returns 0 when done
// (or up to date), exit_update_available for --check with a newer release, and
// exit_update_failed on any error, in which case the executable is untouched and no
// temporary file is left behind. Blocking; each network step is bounded by options.limits.
int run_update(const update_options& options, std::ostream& out, std::ostream& err);

} // namespace clipal::app
