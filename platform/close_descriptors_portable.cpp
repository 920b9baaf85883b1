// POSIX: one close()/fcntl() per descriptor number up to the soft descriptor limit. No
// listing of the open descriptors is used: /dev/fd shows only 0-2 on some systems (FreeBSD
// without fdescfs), and opendir allocates, which a forked child must not.
#include "platform/close_descriptors.hpp"

#include "platform/cloexec.hpp"
#include "platform/detail/descriptor_ranges.hpp"

namespace clipal::platform {

int descriptor_scan_limit() noexcept { return detail::scan_limit(); }

void close_descriptors_from(int first, const int* keep, std::size_t n) noexcept {
    const int limit = detail::scan_limit();
    detail::for_each_gap(first, keep, n, [&](int lo, int hi) { detail::close_by_loop(lo, hi, limit); });
}

void mark_cloexec_from(int first) noexcept {
    const int limit = detail::scan_limit();
    for (int fd = first; fd < limit; ++fd) set_cloexec(fd, true); // EBADF for numbers not open
}

} // namespace clipal::platform
