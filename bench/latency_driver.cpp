// M1: sequential small POSTs measured in turns (see latency_driver.hpp).
#include "bench/latency_driver.hpp"

#include "bench/bench_common.hpp"
#include "bench/blocking_client.hpp"
#include "bench/http_wire.hpp"

#include <cstdio>
#include <memory>

namespace clipal::bench {

int run_latency(const std::vector<std::pair<target, std::string>>& targets, int count, int batch) {
    struct measured {
        measured(const target& t, std::string w) : client(t), wire(std::move(w)) {}
        blocking_client client;
        std::string wire;
        std::vector<double> us;
        int failures = 0;
    };
    std::vector<std::unique_ptr<measured>> all;
    for (const auto& [t, path] : targets) {
        all.push_back(std::make_unique<measured>(t, post_request(path, small_body)));
    }
    for (auto& x : all) {
        for (int i = 0; i < 50; ++i) {
            x->client.request(x->wire);
        }
    }
    // In turns: the machine's speed drifts over seconds, and targets measured one after the
    // other would each get a different spell (bench/ANALYSIS.md, M1).
    for (int done = 0; done < count; done += batch) {
        for (auto& x : all) {
            for (int i = 0; i < batch && done + i < count; ++i) {
                auto t0 = steady::now();
                int st = x->client.request(x->wire);
                auto t1 = steady::now();
                if (st != 200) {
                    ++x->failures;
                }
                x->us.push_back(micros_since(t0, t1));
            }
        }
    }
    int failures = 0;
    for (auto& x : all) {
        std::printf("%.1f %.1f %d\n", percentile(x->us, 0.5), percentile(x->us, 0.99), x->failures);
        failures += x->failures;
    }
    return failures == 0 ? 0 : 2;
}

} // namespace clipal::bench
