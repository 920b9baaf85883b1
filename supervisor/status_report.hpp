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

// `clipal status --watch` (and its one-shot form when stdout is not a terminal): the same
// header, worker rows, errors and key lines as format_status, but each provider row shows,
// from the worker's "activity" (docs/status-json.md), the requests and failures of the
// last minute, the p50 time to first byte and the tokens since midnight (input, output,
// cache read, cache write; 12.3k, 4.56M...) instead of the counters since the worker
// started, and each profile says its last provider switch and why. A document without
// activity (an older supervisor) shows "-" there and says so. Same robustness as
// format_status. Ends with a newline; screen control is the caller's.
std::string format_watch(const boost::json::value& status, clock::time_point now);

// "45s", "5m03s", "2h05m", "3d04h"; "-" for negative or absurd values.
std::string format_uptime(double seconds);

} // namespace clipal::supervisor
