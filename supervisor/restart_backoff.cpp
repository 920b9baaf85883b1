// Exponential restart delay with a cap, a healthy-run reset and crash-loop parking.
#include "supervisor/restart_backoff.hpp"

namespace clipal::supervisor {

duration restart_backoff::delay_for(unsigned attempt) const {
    duration d = policy_.first_delay;
    // Doubling step by step stops at the cap, so a long crash history cannot overflow.
    for (unsigned i = 0; i < attempt && d < policy_.max_delay; ++i) d *= 2;
    return d < policy_.max_delay ? d : policy_.max_delay;
}

restart_decision restart_backoff::on_crash(clock::time_point started_at, clock::time_point now) {
    while (!crashes_.empty() && now - crashes_.front() >= policy_.crash_window) crashes_.pop_front();
    crashes_.push_back(now);

    restart_decision d;
    d.recent_crashes = crashes_.size();
    if (parked_ || crashes_.size() >= policy_.crash_limit) {
        parked_ = true;
        d.park = true;
        return d;
    }
    if (now - started_at >= policy_.healthy_after) attempt_ = 0;
    d.delay = delay_for(attempt_);
    ++attempt_;
    return d;
}

void restart_backoff::reset() {
    attempt_ = 0;
    crashes_.clear();
    parked_ = false;
}

} // namespace clipal::supervisor
