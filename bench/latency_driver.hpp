// M1: sequential small POSTs to several targets on one keep-alive connection each, measured
// in turns so that every target sees the same stretch of the machine's time.
#pragma once

#include "bench/loopback.hpp"

#include <string>
#include <utility>
#include <vector>

namespace clipal::bench {

// `count` timed requests to each (target, path) after 50 untimed ones, in turns of `batch`
// requests. Prints one line per target, in the order given: p50 p99 (µs) failures. Returns
// 0, or 2 if any request did not answer 200.
int run_latency(const std::vector<std::pair<target, std::string>>& targets, int count, int batch);

} // namespace clipal::bench
