// Helpers every clipal_bench mode shares: the clock, microsecond differences, percentiles and
// the exit path for a failed system call. Each mode prints one line of space-separated numbers
// that scripts/bench parses.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace clipal::bench {

using steady = std::chrono::steady_clock;

inline double micros_since(steady::time_point t0, steady::time_point t1) {
    return std::chrono::duration<double, std::micro>(t1 - t0).count();
}

// The value at rank p·(n−1), rounded, of `v` sorted (0 when empty); `p` in [0, 1].
inline double percentile(std::vector<double> v, double p) {
    if (v.empty()) {
        return 0;
    }
    std::sort(v.begin(), v.end());
    auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(idx, v.size() - 1)];
}

// Prints `what` with errno's text and exits with 1.
[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "clipal_bench: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

} // namespace clipal::bench
