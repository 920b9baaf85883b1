// A blocking keep-alive HTTP client for sequential requests (latency, failover, startup and
// restart timing), and polling a target until it answers 200.
#pragma once

#include "bench/bench_common.hpp"
#include "bench/loopback.hpp"

#include <optional>
#include <string>

namespace clipal::bench {

// One connection at a time to one target, opened on first use and again after the server
// closes it; a read waits at most 5 s. Single-threaded.
class blocking_client {
public:
    explicit blocking_client(target t);
    ~blocking_client();
    blocking_client(const blocking_client&) = delete;
    blocking_client& operator=(const blocking_client&) = delete;

    // Sends `wire` (a whole request) and reads the response. Returns its status, 0 on a
    // transport or parse failure; a response cut short after its head returns the status.
    int request(const std::string& wire);

    // Closes the connection, if any.
    void reset();

private:
    target t_;
    int fd_ = -1;
};

// POSTs small_body to `path` with a fresh connection each time, 0.5 ms apart, until one
// answers 200; returns µs since `t0`, or nullopt after `timeout_ms` from `t0`.
std::optional<double> poll_until_ok(const target& t, const std::string& path, steady::time_point t0, int timeout_ms);

} // namespace clipal::bench
