// Go-style durations ("90s", "1h30m", "250ms", "0"), the syntax the config uses.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace clipal {

using duration = std::chrono::nanoseconds;

struct duration_parse_result {
    std::optional<duration> value;
    std::string error; // set when value is empty: why the text is not a duration
};

// Parses Go's time.ParseDuration syntax: a sequence of decimal numbers, each with an
// optional fraction and a unit (ns, us, µs, ms, s, m, h); "0" alone is allowed.
// Negative durations and overflow are rejected.
duration_parse_result parse_duration(std::string_view text);

// Formats like Go's Duration.String(): "1h30m0s", "250ms", "0s".
std::string format_duration(duration d);

} // namespace clipal
