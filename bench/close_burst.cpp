// close-burst (see close_burst.hpp).
#include "bench/close_burst.hpp"

#include "bench/blocking_client.hpp"
#include "bench/http_wire.hpp"

#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

namespace clipal::bench {
namespace {

// VmRSS of `pid` in KiB; -1 when it cannot be read (the process is gone).
long vm_rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    long value = -1;
    while (in >> key) {
        if (key == "VmRSS:") {
            in >> value;
            return value;
        }
        in.ignore(4096, '\n');
    }
    return -1;
}

} // namespace

int run_close_burst(const target& t, const std::string& path, int count, int concurrency, pid_t pid, int settle_ms) {
    auto wire = post_request(path, small_body);
    wire.insert(wire.find("\r\n") + 2, "Connection: close\r\n");
    const long before = vm_rss_kib(pid);
    if (before < 0) {
        std::fprintf(stderr, "close-burst: cannot read /proc/%d/status\n", static_cast<int>(pid));
        return 2;
    }
    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    std::atomic<bool> done{false};
    std::atomic<long> peak{before};
    std::thread sampler([&] {
        while (!done.load()) {
            const long now = vm_rss_kib(pid);
            if (now > peak.load()) peak.store(now);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    std::vector<std::thread> clients;
    for (int i = 0; i < concurrency; ++i)
        clients.emplace_back([&] {
            blocking_client c(t);
            while (next.fetch_add(1) < count)
                if (c.request(wire) != 200) {
                    ++failed;
                    c.reset();
                }
        });
    for (auto& c : clients) c.join();
    const auto quiet_until = steady::now() + std::chrono::milliseconds(settle_ms);
    long after = before;
    while (steady::now() < quiet_until) {
        after = vm_rss_kib(pid);
        if (after > peak.load()) peak.store(after);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    done.store(true);
    sampler.join();
    std::printf("%ld %ld %ld %d\n", before, peak.load(), after, failed.load());
    return 0;
}

} // namespace clipal::bench
