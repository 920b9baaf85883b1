// `clipal status` for humans: turns the supervisor's status JSON (docs/status-json.md)
// into a table in the spirit of HAProxy's `show proc`. Pure: no I/O, no sockets.
#pragma once

#include "shared/clock.hpp"

#include <boost/json/value.hpp>

#include <string>

namespace clipal::supervisor {

// Header lines (version, pid, uptime, listen, config dir, last reload), one row per
// worker (profile, state, pid, restarts, uptime, last exit), then each profile's
// providers (current marker '*', name, state with "until HH:MM:SS (reason)", requests,
// failures). Times are shown in local time, with the date when not on `now`'s day.
// Never throws on unexpected JSON: a missing or mistyped field prints as "-", and
// control characters in strings are neutralised. Ends with a newline.
std::string format_status(const boost::json::value& status, clock::time_point now);

// "45s", "5m03s", "2h05m", "3d04h"; "-" for negative or absurd values.
std::string format_uptime(double seconds);

} // namespace clipal::supervisor
