// When to restart a worker that died: fast at first, exponentially slower while it
// keeps dying, fast again after it has run healthily; and parking a worker that is in
// a crash loop until its config changes. Pure logic.
#pragma once

#include "shared/clock.hpp"
#include "shared/duration.hpp"

#include <chrono>
#include <cstddef>
#include <deque>

namespace clipal::supervisor {

struct backoff_policy {
    duration first_delay = std::chrono::milliseconds(100); // SPEC §1: first restart fast
    // Small, so ten quick crashes park a worker within the crash window instead of a
    // user waiting on ever longer restarts; parking is what ends a real crash loop.
    duration max_delay = std::chrono::seconds(2);
    duration healthy_after = std::chrono::seconds(60); // uptime that resets the delay to first_delay
    duration crash_window = std::chrono::seconds(60);
    std::size_t crash_limit = 10; // crashes within crash_window that park the worker
};

struct restart_decision {
    bool park = false;              // crash loop: do not restart until reset()
    duration delay{};               // when !park: wait this long before restarting
    std::size_t recent_crashes = 0; // crashes within the window, this one included
};

class restart_backoff {
public:
    explicit restart_backoff(backoff_policy p = {}) : policy_(p) {}

    // The worker started at `started_at` died at `now`. A run of at least
    // healthy_after resets the delay; crash_limit crashes within crash_window park it.
    // Once parked, every further call answers park until reset().
    restart_decision on_crash(clock::time_point started_at, clock::time_point now);

    // A fresh start: forgets the crash history and unparks (the config changed).
    void reset();

    bool parked() const { return parked_; }
    const backoff_policy& policy() const { return policy_; }

private:
    duration delay_for(unsigned attempt) const;

    backoff_policy policy_;
    unsigned attempt_ = 0;                  // consecutive crashes without a healthy run
    std::deque<clock::time_point> crashes_; // within crash_window, oldest first
    bool parked_ = false;
};

} // namespace clipal::supervisor
