// Plain POSIX loopback sockets for the benchmark: connecting to a target, listening for the
// upstreams that run inside clipal_bench, sending everything. No Asio, so the client's own
// overhead is small and the same for every target it measures.
#pragma once

#include <string>
#include <string_view>

namespace clipal::bench {

struct target {
    std::string host;
    int port = 0;
};

// A TCP_NODELAY socket connected (or, if `nonblocking`, connecting) to `t`; -1 when the
// connection fails at once. Exits on a socket() failure.
int connect_to(const target& t, bool nonblocking);

// A listening socket on 127.0.0.1:port. A connection of an earlier run may still hold the
// port for a moment, so a busy port is retried for 3 s; exits when it stays busy.
int listen_loopback(int port);

// Sends all of `data` on a blocking socket; false on an error (never raises SIGPIPE).
bool send_all(int fd, std::string_view data);

// A loopback port that was free a moment ago (for config files); exits on failure.
int pick_free_port();

} // namespace clipal::bench
