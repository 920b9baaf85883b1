// M5: two provider stand-ins inside clipal_bench (A and B) that can be made to fail, and the
// warm-failover measurement that drives a proxy in front of them — the same harness for
// clipal and nginx.
#pragma once

#include "bench/loopback.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace clipal::bench {

// Listens on 127.0.0.1:port (a thread per connection) and answers every request with 200, or
// 503 with an Anthropic error body while failing (no Retry-After, so clipal does not cool it
// down). Control calls come from one thread.
class flip_upstream {
public:
    explicit flip_upstream(int port);
    // Ends open connections with resets: a FIN from this side would leave the port in
    // TIME_WAIT, which can block the next run's bind.
    ~flip_upstream();
    flip_upstream(const flip_upstream&) = delete;
    flip_upstream& operator=(const flip_upstream&) = delete;

    void set_failing(bool failing) { failing_.store(failing); }

    // Listens again after refuse().
    void reopen();

    // Closes the listener and every open connection (with a FIN, as a stopped server's idle
    // connections end; with a reset if `reset`) and returns once all are closed, so from then
    // on a connection attempt is refused.
    void refuse(bool reset = false);

private:
    void accept_loop(int listen_fd);
    void serve(int fd);

    int port_;
    int listen_fd_ = -1;
    std::thread accept_thread_;
    std::atomic<bool> failing_{false};
    std::mutex mutex_;
    std::condition_variable drained_;
    std::vector<int> conns_;
};

// failover-warm: `count` failover samples through the proxy at `t`, providers A and B on
// `a_port`/`b_port` (started here; waits up to 10 s for the proxy's first 200). Each follows
// a plain sample on the same connection, which follows an unmeasured plain request. A failover
// sample makes the provider the proxy tries first fail: with KIND "503", or (KIND "refused")
// by A refusing, then listening again, with one unmeasured request that B answers with 503 to
// bring a sticky proxy back to A. `sticky` (clipal, whose failover moves its current provider,
// SPEC §4): the failing provider is the current one, so 503 samples alternate A→B and B→A;
// otherwise (nginx: A primary, B backup) A fails every time.
// Prints the p50 of the failover samples, the p50 of the plain ones, failed requests, and the
// p50 of (failover − the plain sample before it), all in µs.
int run_failover_warm(const target& t, const std::string& path, const std::string& kind, int a_port, int b_port,
                      int count, bool sticky);

} // namespace clipal::bench
