// Raises the soft descriptor limit (RLIMIT_NOFILE) to the hard one when a process starts:
// every client connection holds a descriptor (two while it is forwarded), and sessions
// often start with a soft limit of 1024 under a much higher hard one. Children (the
// workers) inherit the raised limit.
#pragma once

#if !defined(_WIN32)
#include <sys/resource.h>
#endif

#include <cstdint>
#include <optional>
#include <string>

namespace clipal {

struct descriptor_limit {
    std::uint64_t soft_before = 0; // the soft limit the process started with
    std::uint64_t soft = 0;        // the soft limit now
    std::uint64_t hard = 0;
    bool refused = false; // the soft limit was below the hard one and could not be raised
};

// Where the hard limit is "unlimited" the kernel still refuses a soft limit above its own
// ceiling (Linux: fs.nr_open, 1 Mi by default, which this target matches).
inline constexpr std::uint64_t unlimited_descriptor_target = 1u << 20;

// Raises the soft limit as far as the hard limit allows. nullopt where the limit cannot be
// read (Windows has no such limit). A refused raise leaves the limit as it was (soft ==
// soft_before), which the caller logs; nothing else depends on it.
inline std::optional<descriptor_limit> raise_descriptor_limit() {
#if defined(_WIN32)
    return std::nullopt;
#else
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
    descriptor_limit out{lim.rlim_cur, lim.rlim_cur, lim.rlim_max, false};
    const rlim_t target = lim.rlim_max == RLIM_INFINITY ? rlim_t(unlimited_descriptor_target) : lim.rlim_max;
    if (lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= target) return out;
    rlimit raised = lim;
    raised.rlim_cur = target;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
        out.soft = target;
    else
        out.refused = true;
    return out;
#endif
}

// "soft 1024 raised to 65536, hard 65536", for the start-up log line.
inline std::string describe(const descriptor_limit& l) {
    const auto n = [](std::uint64_t v) {
#if !defined(_WIN32)
        if (v == RLIM_INFINITY) return std::string("unlimited");
#endif
        return std::to_string(v);
    };
    return "soft " + n(l.soft_before) + (l.soft != l.soft_before ? " raised to " + n(l.soft) : std::string()) +
           ", hard " + n(l.hard) + (l.refused ? " (the system refused to raise the soft limit)" : "");
}

} // namespace clipal
