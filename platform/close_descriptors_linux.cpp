// Linux: close_range(2) per gap (5.9+), CLOSE_RANGE_CLOEXEC (5.11+); older kernels fall back
// to the portable loop (closing) or to /proc/self/fd (marking, never in a forked child).
#include "platform/close_descriptors.hpp"

#include "platform/cloexec.hpp"
#include "platform/detail/descriptor_ranges.hpp"

#include <dirent.h>
#include <linux/close_range.h>
#include <unistd.h>

#include <cstdlib>

namespace clipal::platform {

int descriptor_scan_limit() noexcept { return detail::scan_limit(); }

void close_descriptors_from(int first, const int* keep, std::size_t n) noexcept {
    int limit = -1; // read only if close_range is missing
    detail::for_each_gap(first, keep, n, [&](int lo, int hi) {
        if (::close_range(static_cast<unsigned>(lo), static_cast<unsigned>(hi), 0) == 0) return;
        if (limit < 0) limit = detail::scan_limit();
        detail::close_by_loop(lo, hi, limit);
    });
}

void mark_cloexec_from(int first) noexcept {
    if (::close_range(static_cast<unsigned>(first), ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    // Kernels before 5.11: walk the descriptor table instead.
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return;
    const int own = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
        const int fd = std::atoi(e->d_name);
        if (fd >= first && fd != own) set_cloexec(fd, true);
    }
    ::closedir(d);
}

} // namespace clipal::platform
