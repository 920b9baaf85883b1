// Rate limit for a log line that a fault can repeat thousands of times a second (a refused
// connection, a failed accept): the first event of a burst is logged, the rest of the
// window only counted, and the next logged line carries that count. Pure; time is passed in.
#pragma once

#include "shared/clock.hpp"

#include <cstdint>
#include <utility>

namespace clipal {

class log_burst {
public:
    explicit log_burst(clock::time_point::duration window) : window_(window) {}

    struct decision {
        bool log = false;             // write this event's line now
        std::uint64_t suppressed = 0; // events counted, not logged, since the last logged line
    };

    // One event at `now`. Logged when it is the first, or when `window` has passed since the
    // last logged line; otherwise counted.
    decision note(clock::time_point now) {
        if (logged_once_ && now < last_logged_ + window_) {
            ++suppressed_;
            return {false, 0};
        }
        logged_once_ = true;
        last_logged_ = now;
        const auto n = suppressed_;
        suppressed_ = 0;
        return {true, n};
    }

    // Events counted and not yet reported.
    std::uint64_t pending() const { return suppressed_; }

    // For a summary line when the window is over: the count, which is then reported.
    std::uint64_t take_pending() { return std::exchange(suppressed_, 0); }
    // The end of the window of the last logged line.
    clock::time_point window_end() const { return last_logged_ + window_; }

private:
    clock::time_point::duration window_;
    clock::time_point last_logged_{};
    bool logged_once_ = false;
    std::uint64_t suppressed_ = 0;
};

} // namespace clipal
