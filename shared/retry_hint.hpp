// How long an upstream asks us to stay away (SPEC §4): Retry-After (seconds or HTTP date)
// and the X-RateLimit-Reset-* headers (Go durations or plain seconds), folded into one
// capped cooldown. Pure parsing, no I/O.
#pragma once

#include "shared/clock.hpp"
#include "shared/duration.hpp"

#include <chrono>
#include <optional>
#include <string_view>

namespace clipal {

// No hint keeps a provider away longer than this, whatever the upstream says.
inline constexpr duration max_cooldown = std::chrono::hours(1);

// Retry-After: delta-seconds ("120") or an HTTP date (IMF-fixdate, RFC 850 or asctime).
// A date in the past gives 0. Surrounding whitespace is ignored; anything else that is
// not one of these forms gives nullopt. Huge values saturate instead of overflowing.
std::optional<duration> parse_retry_after(std::string_view value, clock::time_point now);

// X-RateLimit-Reset-Requests / -Tokens: a Go duration ("20ms", "1m30s", "6m0s") or plain,
// possibly fractional, seconds ("1", "0.5"). Negative or malformed values give nullopt.
std::optional<duration> parse_rate_limit_reset(std::string_view value);

// The largest of the hints that are present and parse, capped at max_cooldown; nullopt
// when none does. Empty strings mean "header absent".
std::optional<duration> cooldown_hint(std::string_view retry_after, std::string_view reset_requests,
                                      std::string_view reset_tokens, clock::time_point now);

} // namespace clipal
