// Exact-count keep-alive load (see fixed_load.hpp).
#include "bench/fixed_load.hpp"

#include "bench/blocking_client.hpp"
#include "bench/http_wire.hpp"

#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

namespace clipal::bench {

std::string kib_body() {
    const std::string head = R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":")";
    const std::string tail = R"("}]})";
    return head + std::string(1024 - head.size() - tail.size(), 'x') + tail;
}

int run_fixed_load(const target& t, const std::string& path, int conns, int total) {
    const auto wire = post_request(path, kib_body());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    threads.reserve(static_cast<std::size_t>(conns));
    for (int c = 0; c < conns; ++c) {
        const int mine = total / conns + (c < total % conns ? 1 : 0);
        threads.emplace_back([&, mine] {
            blocking_client client(t);
            for (int i = 0; i < mine; ++i) {
                if (client.request(wire) != 200) {
                    failures.fetch_add(1, std::memory_order_relaxed);
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    std::printf("%d %d\n", total, failures.load());
    return failures.load() == 0 ? 0 : 2;
}

} // namespace clipal::bench
