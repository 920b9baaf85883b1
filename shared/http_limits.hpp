// Bounds on reading a client's request, the same in the supervisor's router (which reads
// a connection's first request head) and in a worker's sessions (which read whole requests).
#pragma once

#include <chrono>
#include <cstddef>

namespace clipal::http_limits {

// SPEC §5: a request head is bounded in size and in the time it may take to arrive.
inline constexpr std::size_t max_request_head = 64 * 1024;
// The whole head, counted from its first byte (not re-armed by each read: slowloris).
inline constexpr std::chrono::seconds head_timeout{10};
// A kept-alive connection may wait this long for its next request.
inline constexpr std::chrono::seconds keep_alive_idle{75};
// A new connection must start its first request sooner: clients send it right after
// connecting, and a connection that sends nothing only holds a descriptor.
inline constexpr std::chrono::seconds new_connection_idle{10};

} // namespace clipal::http_limits
