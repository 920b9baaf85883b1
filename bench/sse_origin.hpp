// M3's single-stream figure: an SSE origin inside clipal_bench that stamps each event when it
// writes it, and the client that streams from it through a proxy, so each event's delay is
// arrival minus send on one clock.
#pragma once

#include "bench/bench_common.hpp"
#include "bench/loopback.hpp"

#include <mutex>
#include <string>
#include <vector>

namespace clipal::bench {

// Listens on 127.0.0.1:port from construction and answers every request on every connection
// (a thread each, detached; they live until the process exits) with a chunked stream of
// `events` events, each sent `interval_ms` after the previous send, so a late wake-up is never
// followed by a catch-up burst.
class sse_origin {
public:
    sse_origin(int port, int events, int interval_ms);
    sse_origin(const sse_origin&) = delete;
    sse_origin& operator=(const sse_origin&) = delete;

    // Send times (µs since `epoch`) of the last stream written completely; they are stored
    // before its final chunk, so they are complete once a client has read the whole stream.
    // Thread-safe; clears them.
    std::vector<double> take_send_times(steady::time_point epoch);

private:
    void accept_loop();
    void serve(int fd);
    bool send_stream(int fd);

    int listen_fd_ = -1;
    int events_;
    int interval_ms_;
    std::mutex mutex_;
    std::vector<steady::time_point> sends_;
};

// sse-origin: `reps` sequential streams, after one warm-up, through the proxy at `t` whose
// upstream is an sse_origin on `origin_port`. Prints per-event delay (arrival minus origin
// send) p50/p99 in µs over all events, coalesced events, and failed streams.
int run_sse_origin(const target& t, int origin_port, const std::string& path, int events, int interval_ms, int reps);

} // namespace clipal::bench
