// How a process takes new client connections when descriptors or its max_connections run
// short, the same in the supervisor's router and in a worker. Pure policy.
//
// max_connections counts per process, where the descriptors are spent: the router counts
// the connections it is still reading (it knows nothing of them once handed over), a
// worker its open sessions (kept-alive and streaming ones included). Past the limit a new
// connection still has its request read and is answered the protocol's 503 with
// Retry-After, then closed; those answers hold descriptors too, so past the limit plus
// `refusal_reserve` a new connection is closed unanswered.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace clipal {

// A failed accept (EMFILE, ENFILE, ENOBUFS, ENOMEM...) leaves the connection in the
// backlog and the listener readable: accepting again at once spins. Waiting this long lets
// descriptors free up; a client waits no longer than this once they have.
inline constexpr std::chrono::milliseconds accept_retry_delay{100};

// Connections past max_connections that still get a 503 rather than a bare close.
inline constexpr std::uint64_t refusal_reserve = 64;

// Seconds a client is told to wait (Retry-After) when refused for max_connections.
inline constexpr std::chrono::seconds over_capacity_retry_after{1};

enum class admission {
    serve,  // below max_connections
    refuse, // answer 503 with Retry-After, then close
    drop,   // close at once: even the refusals are at their bound
};

// `open`: the connections the process holds now, the new one not included.
constexpr admission admit(std::uint64_t open, std::uint64_t max_connections) {
    if (open < max_connections) return admission::serve;
    if (open - max_connections < refusal_reserve) return admission::refuse;
    return admission::drop;
}

} // namespace clipal
