// When to restart a worker that died: fast at first, exponentially slower while it
// keeps dying, fast again after it has run healthily; and parking a worker that is in
// a crash loop for a cool-off (doubling while it keeps failing) or until its config
// changes. Pure logic.
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
    // A parked worker is tried again by itself after this cool-off. The fault that parked
    // it may be outside clipal (a full disk, a missing library); nobody may be watching.
    duration park_cool_off = std::chrono::minutes(1);
    duration max_park_cool_off = std::chrono::minutes(30); // each re-park doubles it up to this
};

struct restart_decision {
    bool park = false;              // crash loop: do not restart before retry_after, or reset()
    duration delay{};               // when !park: wait this long before restarting
    duration retry_after{};         // when park: the cool-off before retry()
    bool retry_failed = false;      // parked because it died again soon after retry()
    std::size_t recent_crashes = 0; // crashes within the window, this one included
};

class restart_backoff {
public:
    explicit restart_backoff(backoff_policy p = {}) : policy_(p) {}

    // The worker started at `started_at` died at `now`. A run of at least
    // healthy_after resets the delay and the cool-off; crash_limit crashes within
    // crash_window park it, and so does a crash within healthy_after of retry().
    // Once parked, every further call answers park until retry() or reset().
    restart_decision on_crash(clock::time_point started_at, clock::time_point now);

    // The cool-off is over: unparks for one more try. A worker that dies again before it
    // has run healthily is parked again at once, for twice the cool-off.
    void retry();

    // A fresh start: forgets the crash history and the cool-off, and unparks (the config
    // changed, or the operator asked for a reload).
    void reset();

    bool parked() const { return parked_; }
    const backoff_policy& policy() const { return policy_; }

private:
    duration delay_for(unsigned attempt) const;
    duration cool_off_for(unsigned parks) const;

    backoff_policy policy_;
    unsigned attempt_ = 0;                  // consecutive crashes without a healthy run
    std::deque<clock::time_point> crashes_; // within crash_window, oldest first
    bool parked_ = false;
    bool on_trial_ = false; // retried after a cool-off and not yet run healthily
    unsigned parks_ = 0;    // parks without a healthy run in between
};

} // namespace clipal::supervisor
