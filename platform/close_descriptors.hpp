// Closing what a new program must not inherit. Asio, OpenSSL and SQLite open descriptors
// without close-on-exec, so a launcher closes every descriptor it does not mean to pass,
// and the supervisor marks them all close-on-exec before it re-executes itself.
// Linux: close_range(2). Portable: one call per descriptor number up to the soft
// RLIMIT_NOFILE (POSIX has no "close everything above N"); on this project's machine that
// costs ~0.14 us per number (3 ms at a limit of 20,000, 140 ms at 1 Mi).
#pragma once

#include <cstddef>

namespace clipal::platform {

// At most this many descriptors can be kept by close_descriptors_from.
inline constexpr std::size_t max_kept_descriptors = 16;

// Closes every descriptor >= `first` except the `n` listed in `keep` (any order; numbers
// below `first` and duplicates are ignored; at most max_kept_descriptors). For the child
// between fork and exec: async-signal-safe system calls only, no allocation.
void close_descriptors_from(int first, const int* keep, std::size_t n) noexcept;

// Marks every descriptor >= `first` close-on-exec.
void mark_cloexec_from(int first) noexcept;

// One more than the highest descriptor number the portable loops visit: the soft
// RLIMIT_NOFILE, and 1 Mi (Linux's default fs.nr_open) when that is unlimited.
// Async-signal-safe.
int descriptor_scan_limit() noexcept;

} // namespace clipal::platform
