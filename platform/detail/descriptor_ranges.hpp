// Shared by both close_descriptors siblings: the kept descriptors sorted without allocating,
// the gaps between them, and the close()-per-number loop (the portable way, and Linux's
// fallback on kernels without close_range). Async-signal-safe.
#pragma once

#include "platform/close_descriptors.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <climits>

namespace clipal::platform::detail {

// Calls close_gap(lo, hi) for every range [lo, hi] of numbers >= first that holds no kept
// descriptor; the last range ends at INT_MAX.
template <typename CloseGap>
void for_each_gap(int first, const int* keep, std::size_t n, CloseGap&& close_gap) noexcept {
    int sorted[max_kept_descriptors];
    std::size_t count = 0;
    for (std::size_t i = 0; i < n && count < max_kept_descriptors; ++i) {
        if (keep[i] < first) continue;
        std::size_t j = count++;
        for (; j > 0 && sorted[j - 1] > keep[i]; --j) sorted[j] = sorted[j - 1];
        sorted[j] = keep[i];
    }
    int lo = first;
    for (std::size_t i = 0; i < count; ++i) {
        if (sorted[i] > lo) close_gap(lo, sorted[i] - 1);
        if (sorted[i] >= lo) lo = sorted[i] + 1;
    }
    if (lo <= INT_MAX - 1) close_gap(lo, INT_MAX);
}

inline int scan_limit() noexcept {
    constexpr rlim_t cap = rlim_t(1) << 20;
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
    const rlim_t top = lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > cap ? cap : lim.rlim_cur;
    return static_cast<int>(top);
}

// close() on every number in [lo, hi] below the scan limit.
inline void close_by_loop(int lo, int hi, int limit) noexcept {
    for (int fd = lo; fd <= hi && fd < limit; ++fd) ::close(fd);
}

} // namespace clipal::platform::detail
