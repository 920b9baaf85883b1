// Bounds on reading a client's request, the same in the supervisor's router (which reads
// up to the first request line) and in a worker's sessions (which read whole requests).
#pragma once

#include <chrono>
#include <cstddef>

namespace clipal::http_limits {

// SPEC §5: a request head is bounded in size and in the time it may take to arrive.
inline constexpr std::size_t max_request_head = 64 * 1024;
inline constexpr std::chrono::seconds head_timeout{10};
// A connection (new, or kept alive after an answer) may wait this long for its next request.
inline constexpr std::chrono::seconds keep_alive_idle{75};

} // namespace clipal::http_limits
