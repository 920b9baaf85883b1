// Load generator and stopwatch for scripts/bench: parses the mode and its arguments and runs
// it. Each mode prints one line of space-separated numbers that the script parses; the modes
// live in latency_driver, fixed_load, sse_streams, sse_origin, failover_providers, process_timing, tree_rss
// and close_burst.
#include "bench/close_burst.hpp"
#include "bench/failover_providers.hpp"
#include "bench/fixed_load.hpp"
#include "bench/latency_driver.hpp"
#include "bench/loopback.hpp"
#include "bench/process_timing.hpp"
#include "bench/sse_origin.hpp"
#include "bench/sse_streams.hpp"
#include "bench/tree_rss.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace {

int usage() {
    std::fprintf(stderr, "usage: clipal_bench free-port\n"
                         "       clipal_bench tree-rss PID...\n"
                         "       clipal_bench latency COUNT BATCH PORT PATH [PORT PATH]...\n"
                         "       clipal_bench sse PORT PATH STREAMS EVENTS INTERVAL_MS\n"
                         "       clipal_bench sse-origin PORT ORIGIN_PORT PATH EVENTS INTERVAL_MS REPS\n"
                         "       clipal_bench hold PORT PATH STREAMS\n"
                         "       clipal_bench fixed-load PORT PATH CONNECTIONS REQUESTS\n"
                         "       clipal_bench failover-warm PORT PATH 503|refused A_PORT B_PORT COUNT sticky|fixed\n"
                         "       clipal_bench startup PORT PATH -- PROGRAM ARGS...\n"
                         "       clipal_bench restart PORT PATH PID\n"
                         "       clipal_bench close-burst PORT PATH COUNT CONCURRENCY PID SETTLE_MS\n"
                         "All targets are on 127.0.0.1.\n");
    return 64;
}

} // namespace

int main(int argc, char** argv) {
    using namespace clipal::bench;
    std::vector<std::string> a(argv + 1, argv + argc);
    if (a.empty()) {
        return usage();
    }
    if (a[0] == "free-port") {
        std::printf("%d\n", pick_free_port());
        return 0;
    }
    if (a[0] == "tree-rss" && a.size() >= 2) {
        return run_tree_rss(std::vector<std::string>(a.begin() + 1, a.end()));
    }
    if (a[0] == "latency" && a.size() >= 5 && a.size() % 2 == 1) {
        std::vector<std::pair<target, std::string>> targets;
        for (std::size_t i = 3; i + 1 < a.size(); i += 2) {
            targets.emplace_back(target{"127.0.0.1", std::atoi(a[i].c_str())}, a[i + 1]);
        }
        return run_latency(targets, std::atoi(a[1].c_str()), std::max(1, std::atoi(a[2].c_str())));
    }
    if (a.size() < 3) {
        return usage();
    }
    target t{"127.0.0.1", std::atoi(a[1].c_str())};
    const auto& path = a[2];
    if (a[0] == "sse" && a.size() == 6) {
        return run_sse(t, path, std::atoi(a[3].c_str()), std::atoi(a[4].c_str()), std::atoi(a[5].c_str()));
    }
    if (a[0] == "sse-origin" && a.size() == 7) {
        return run_sse_origin(t, std::atoi(a[2].c_str()), a[3], std::atoi(a[4].c_str()), std::atoi(a[5].c_str()),
                              std::atoi(a[6].c_str()));
    }
    if (a[0] == "fixed-load" && a.size() == 5) {
        return run_fixed_load(t, path, std::max(1, std::atoi(a[3].c_str())), std::max(0, std::atoi(a[4].c_str())));
    }
    if (a[0] == "hold" && a.size() == 4) {
        return run_hold(t, path, std::atoi(a[3].c_str()));
    }
    if (a[0] == "failover-warm" && a.size() == 8 && (a[7] == "sticky" || a[7] == "fixed")) {
        return run_failover_warm(t, path, a[3], std::atoi(a[4].c_str()), std::atoi(a[5].c_str()),
                                 std::atoi(a[6].c_str()), a[7] == "sticky");
    }
    if (a[0] == "startup" && a.size() >= 5 && a[3] == "--") {
        return run_startup(t, path, argv + 5);
    }
    if (a[0] == "close-burst" && a.size() == 7) {
        return run_close_burst(t, path, std::atoi(a[3].c_str()), std::max(1, std::atoi(a[4].c_str())),
                               static_cast<pid_t>(std::atoi(a[5].c_str())), std::atoi(a[6].c_str()));
    }
    if (a[0] == "restart" && a.size() == 4) {
        return run_restart(t, path, static_cast<pid_t>(std::atoi(a[3].c_str())));
    }
    return usage();
}
