// Exponential restart delay with a cap, a healthy-run reset, and crash-loop parking with
// a doubling cool-off.
#include "supervisor/restart_backoff.hpp"

namespace clipal::supervisor {

duration restart_backoff::delay_for(unsigned attempt) const {
    duration d = policy_.first_delay;
    // Doubling step by step stops at the cap, so a long crash history cannot overflow.
    for (unsigned i = 0; i < attempt && d < policy_.max_delay; ++i) d *= 2;
    return d < policy_.max_delay ? d : policy_.max_delay;
}

duration restart_backoff::cool_off_for(unsigned parks) const {
    duration d = policy_.park_cool_off;
    for (unsigned i = 1; i < parks && d < policy_.max_park_cool_off; ++i) d *= 2;
    return d < policy_.max_park_cool_off ? d : policy_.max_park_cool_off;
}

restart_decision restart_backoff::on_crash(clock::time_point started_at, clock::time_point now) {
    while (!crashes_.empty() && now - crashes_.front() >= policy_.crash_window) crashes_.pop_front();
    crashes_.push_back(now);

    restart_decision d;
    d.recent_crashes = crashes_.size();
    const bool healthy = now - started_at >= policy_.healthy_after;
    if (healthy && !parked_) {
        attempt_ = 0;
        parks_ = 0;
        on_trial_ = false;
    }
    if (parked_ || on_trial_ || crashes_.size() >= policy_.crash_limit) {
        d.retry_failed = on_trial_;
        if (!parked_) ++parks_;
        parked_ = true;
        on_trial_ = false;
        d.park = true;
        d.retry_after = cool_off_for(parks_);
        return d;
    }
    d.delay = delay_for(attempt_);
    ++attempt_;
    return d;
}

void restart_backoff::retry() {
    if (!parked_) return;
    parked_ = false;
    on_trial_ = true;
    attempt_ = 0;
    crashes_.clear();
}

void restart_backoff::reset() {
    attempt_ = 0;
    crashes_.clear();
    parked_ = false;
    on_trial_ = false;
    parks_ = 0;
}

} // namespace clipal::supervisor
