// The config a worker runs with, as the JSON text of config_push: one profile's
// validated provider list plus the global settings. The supervisor validated the YAML;
// this codec only carries the result across, and re-checks it because it is input.
#pragma once

#include "shared/config.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace clipal::ipc {

struct worker_config {
    profile_config profile;
    global_config global;
    // True when only config.yaml changed (no profile edit, no forced reload): the worker
    // keeps its provider state and applies the new settings to what comes next (SPEC §4).
    bool keep_state = false;
    bool operator==(const worker_config&) const = default;
};

// JSON object {"profile", "providers", "disabled", "global", "keep_state"}; durations as integer
// nanoseconds in fields named *_ns. Holds API keys: never log the result.
std::string to_json(const worker_config& c);

struct worker_config_parse_result {
    std::optional<worker_config> value;
    std::string error; // set when value is empty: the JSON path and what is wrong, never a key
};

// The inverse of to_json. Every field is required, unknown fields and out-of-range
// values are errors. Never throws (beyond std::bad_alloc).
worker_config_parse_result parse_worker_config(std::string_view json);

} // namespace clipal::ipc
