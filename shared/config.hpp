// The validated configuration model (SPEC §2): global settings plus one ordered
// provider list per profile. Produced by config_loader, consumed everywhere else.
#pragma once

#include "shared/duration.hpp"
#include "shared/profile.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace clipal {

enum class log_level { debug, info, warn, error };

std::string_view to_string(log_level l);
std::optional<log_level> log_level_from_string(std::string_view s);

// How the provider key is carried upstream. `automatic` follows the profile's rule (SPEC §3).
enum class auth_carrier { automatic, x_api_key, bearer, x_goog_api_key };

std::string_view to_string(auth_carrier a);
std::optional<auth_carrier> auth_carrier_from_string(std::string_view s);

struct provider_config {
    std::string name;
    std::string base_url; // normalised: has a scheme (https:// added when missing)
    // One or more keys (`api_key`, or `api_keys: [...]`), tried in this order: an auth,
    // billing or quota failure puts one key out, a rate limit rotates to the next (SPEC §4).
    std::vector<std::string> api_keys;
    int priority = 0; // lower first; a provider without `priority` has 0
    bool enabled = true;
    auth_carrier auth_header = auth_carrier::automatic;
    // `model`: replaces the model of every request sent to this provider; empty = as sent.
    std::string model;

    bool operator==(const provider_config&) const = default;
};

struct profile_config {
    profile id = profile::claude_code;
    // Enabled providers, sorted by priority (stable: equal priorities keep file order).
    std::vector<provider_config> providers;
    // Providers with `enabled: false`, in file order (shown by `clipal check`).
    std::vector<provider_config> disabled;

    bool operator==(const profile_config&) const = default;
};

// `prices:` in config.yaml: what one model costs, in the user's currency per million
// tokens of each kind (a kind left out costs 0). Only `clipal usage` reads it.
struct model_price {
    double input = 0;
    double output = 0;
    double cache_read = 0;
    double cache_write = 0;

    bool operator==(const model_price&) const = default;
};

// The largest max_connections accepted: about the most descriptors Linux gives one
// process by default (fs.nr_open).
inline constexpr std::uint64_t max_connections_limit = 1000000;

struct global_config {
    std::string listen_addr = "127.0.0.1";
    std::uint16_t port = 3333;
    log_level level = log_level::info;
    duration reactivate_after = std::chrono::hours(1);
    duration upstream_idle_timeout = std::chrono::minutes(3);
    duration response_header_timeout = std::chrono::minutes(2);
    // Streaming requests: bound on the response head plus first body byte (SPEC §5).
    duration stream_first_byte_timeout = std::chrono::seconds(30);
    // Failover v2 (SPEC §4 policies): same-provider retries of a transient fault, the
    // longest rate-limit hint waited out inline, and fail-back to a recovered provider.
    unsigned retries_per_provider = 1;
    duration max_inline_wait = std::chrono::seconds(3);
    bool failback = true;
    std::uint64_t max_request_body_bytes = 32ull * 1024 * 1024;
    // Total bytes of request bodies a worker buffers at once, across all connections.
    // Not in the seed: it bounds memory under a burst of large bodies (issue #3).
    std::uint64_t request_body_budget_bytes = 256ull * 1024 * 1024;
    std::string log_dir; // resolved: "<config-dir>/logs" when not set
    int log_retention_days = 7;
    bool log_stdout = true;
    bool ignore_count_tokens_failover = false;
    // Client connections each process holds at once (the router its unrouted ones, each
    // worker its sessions); past it new ones get a 503 (shared/connection_limits.hpp).
    std::uint64_t max_connections = 4096;
    // Who may use clipal besides this machine's own programs (shared/request_guard): Host
    // names (canonical_host form), browser origins (normalize_origin form), and the token
    // every client must present as its API key (empty: none).
    std::vector<std::string> allowed_hosts;
    std::vector<std::string> allowed_origins;
    std::string access_token;
    // Usage accounting (issue 15): rows of usage.db older than this many days are deleted
    // (0 = kept forever), and the prices `clipal usage` computes cost with, by the model name
    // as sent upstream. The supervisor and `clipal usage` read them; workers do not (the
    // IPC config codec leaves them out).
    int usage_retention_days = 90;
    std::map<std::string, model_price, std::less<>> prices;

    bool operator==(const global_config&) const = default;
};

struct config {
    std::string dir; // the config directory it was loaded from
    global_config global;
    std::array<profile_config, 3> profiles{
        profile_config{profile::claude_code, {}, {}},
        profile_config{profile::codex, {}, {}},
        profile_config{profile::gemini, {}, {}},
    };

    const profile_config& of(profile p) const { return profiles[static_cast<std::size_t>(p)]; }
    profile_config& of(profile p) { return profiles[static_cast<std::size_t>(p)]; }
};

} // namespace clipal
