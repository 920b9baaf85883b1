// Many streaming requests at once on one epoll loop: M3's 100 concurrent streams, M4's held
// streams, and the single timed stream of the SSE-origin figure. Each SSE event ("\n\n") is
// stamped when the recv() that completes it returns.
#pragma once

#include "bench/bench_common.hpp"
#include "bench/http_wire.hpp"
#include "bench/loopback.hpp"

#include <string>
#include <vector>

namespace clipal::bench {

// One streaming request; not movable (its reader is not).
struct stream_state {
    int fd = -1;
    response_reader rr;
    std::size_t scanned = 0; // body bytes already searched for event ends
    int events = 0;
    int coalesced = 0; // events completed by the same recv() as the event before them
    bool finished = false;
    bool failed = false;
    steady::time_point sent;
    std::vector<double> arrival_us; // per event, since the request was sent
};

struct stream_run {
    std::vector<stream_state> streams;
    double total_ms = 0;
    int failed = 0; // streams that failed or had not ended by the timeout
};

// Opens `count` connections at once, POSTs stream_body to `path` on each and reads until
// every response ends, or (`until_first`) has delivered one event, or `timeout_s` passes.
// The connections stay open; close them with close_streams().
stream_run run_streams(const target& t, const std::string& path, int count, bool until_first, int timeout_s);

void close_streams(stream_run& run);

// sse: `count` concurrent streams of `events` events `interval_ms` apart. Prints, over all
// events, the p50/p99 of lateness (arrival minus request sent minus i*interval) in µs, the
// number of coalesced events, the total wall time in ms, and failed or short streams.
int run_sse(const target& t, const std::string& path, int count, int events, int interval_ms);

// hold: opens `count` streams, waits for the first event on each, prints "held <ok> <failed>",
// then keeps them open until stdin reaches EOF (the script measures memory meanwhile).
int run_hold(const target& t, const std::string& path, int count);

} // namespace clipal::bench
