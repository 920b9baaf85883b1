// `clipal usage`: requests, failures, tokens and cost from usage.db (issue 15). It opens the
// database read-only, so it works while clipal runs (WAL) and when it does not; it never
// talks to the supervisor.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::app {

// Exit code when the database cannot be read (damaged, written by a newer clipal...).
// Bad flags are exit_usage (64); a missing database is not an error (exit 0).
inline constexpr int exit_usage_unreadable = 1;

struct usage_options {
    std::filesystem::path config_dir;
    std::string since = "24h";   // a Go duration, or whole days: "7d"
    std::string by = "provider"; // provider | model | profile | day
    bool json = false;
    std::optional<std::int64_t> now_ms; // unix ms; the clock when not set (tests fix it)
};

// "24h", "7d", "30d", "90m", "1h30m": the window before now; more than 0. nullopt with
// `error` set ("--since must be ...") otherwise.
std::optional<std::chrono::milliseconds> parse_since(std::string_view text, std::string& error);

// Prints one row per group (requests, failures = status 0 or >= 400, input, output, cache
// read, cache write tokens, and cost where `prices:` in config.yaml names the models) and
// a total; with `json` the same as one JSON document. Prices come from config.yaml alone
// (an error in a profile file does not matter here; one in config.yaml is a warning on
// `err` and no cost). Returns 0, exit_usage for bad flags, exit_usage_unreadable.
int run_usage(const usage_options& options, std::ostream& out, std::ostream& err);

} // namespace clipal::app
