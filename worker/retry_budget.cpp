#include "worker/retry_budget.hpp"

#include <algorithm>

namespace clipal::worker {

void retry_budget::attempt_started(std::size_t provider, std::size_t key, clock::time_point at) {
    attempts_.push_back({provider, key, at});
}

clock::time_point retry_budget::earliest(std::size_t provider, std::size_t key, clock::time_point now) const {
    // The attempt before the latest one to this key bounds the next: with it, the latest and
    // the next, no window may hold three.
    std::size_t seen = 0;
    for (auto it = attempts_.rbegin(); it != attempts_.rend(); ++it) {
        if (it->provider != provider || it->key != key) continue;
        if (++seen == 2)
            return std::max(now, it->at + std::chrono::duration_cast<clock::time_point::duration>(same_key_window));
    }
    return now;
}

unsigned retry_budget::retries_of(std::size_t provider) const {
    return static_cast<unsigned>(std::count(retried_.begin(), retried_.end(), provider));
}

retry_budget::decision retry_budget::after_failure(std::size_t provider, std::size_t key, const verdict& v, int status,
                                                   bool probe, clock::time_point now, std::size_t others_left) {
    decision d;
    if (spent() || v.act != action::try_next || !v.reason) return d;
    if (attempts_.size() + 1 + others_left > max_attempts_per_request) return d;
    const auto wait_until = [&](duration pause) {
        const auto at = std::max(now + std::chrono::duration_cast<clock::time_point::duration>(pause),
                                 earliest(provider, key, now));
        return std::chrono::duration_cast<duration>(at - now);
    };
    const bool hinted = v.cooldown && *v.cooldown > duration::zero();
    // A busy provider that says when to come back, soon enough: wait and ask it again.
    if ((status == 429 || status == 503) && hinted && *v.cooldown <= settings_.max_inline_wait && !waited_) {
        waited_ = true;
        d.what = decision::kind::retry_same;
        d.delay = wait_until(*v.cooldown);
        d.inline_wait = true;
        return d;
    }
    // A longer hint means "not now": cool down and move on at once.
    if (hinted || probe || !transient(*v.reason) || retries_of(provider) >= settings_.retries_per_provider) return d;
    retried_.push_back(provider);
    std::uniform_int_distribution<std::int64_t> spread(-retry_jitter.count(), retry_jitter.count());
    d.what = decision::kind::retry_same;
    d.delay = wait_until(retry_backoff + duration(spread(random_)));
    return d;
}

} // namespace clipal::worker
