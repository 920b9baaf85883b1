// The same-request rules of failover v2 (SPEC §4 policies), pure and clock-driven: whether a
// failed attempt is retried on the same provider (a transient fault, a short rate-limit
// wait) and after how long, within the request's attempt budget. Which provider or key comes
// next, and what a failure does to a provider, is provider_set's business.
#pragma once

#include "shared/clock.hpp"
#include "shared/duration.hpp"
#include "shared/failure_classifier.hpp"

#include <boost/container/small_vector.hpp>

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace clipal::worker {

struct retry_settings {
    unsigned retries_per_provider = 1;                  // same-provider retries of a transient fault; 0 = move on
    duration max_inline_wait = std::chrono::seconds(3); // longest 429/503 hint waited out; 0 = never
};

// Hard bounds, whatever the settings: a request never makes more attempts than this, and one
// provider key never gets more than two attempts within the window.
inline constexpr std::size_t max_attempts_per_request = 6;
inline constexpr duration same_key_window = std::chrono::milliseconds(1500);
// The pause before a same-provider retry, jittered by ±retry_jitter so that the clients of a
// provider that just failed do not all come back in the same millisecond.
inline constexpr duration retry_backoff = std::chrono::milliseconds(250);
inline constexpr duration retry_jitter = std::chrono::milliseconds(50);

class retry_budget {
public:
    retry_budget(retry_settings s, std::uint32_t seed) : settings_(s), random_(seed) {}

    // An attempt to provider p with key k starts at `at`.
    void attempt_started(std::size_t provider, std::size_t key, clock::time_point at);
    std::size_t attempts() const { return attempts_.size(); }
    bool spent() const { return attempts_.size() >= max_attempts_per_request; }

    struct decision {
        enum class kind {
            retry_same, // try the same provider and key again after `delay`
            move_on,    // record the failure; the next key or provider comes next
        };
        kind what = kind::move_on;
        duration delay{};
        bool inline_wait = false; // waiting out a short hint: the provider is busy, not failed
    };

    // What follows a failed attempt on (provider, key) that ended at `now` with verdict v and
    // upstream status (0 when none). `probe`: the attempt was a fail-back probe, which is
    // never retried (a provider still failing should cost its request no extra wait).
    // `others_left`: providers still to try after this one; a retry never takes the attempt
    // one of them would need (so retries_per_provider: 5 cannot starve the fallback).
    decision after_failure(std::size_t provider, std::size_t key, const verdict& v, int status, bool probe,
                           clock::time_point now, std::size_t others_left = 0);

private:
    struct attempt {
        std::size_t provider, key;
        clock::time_point at;
    };
    // When the next attempt to (provider, key) may start: two attempts at most per window.
    clock::time_point earliest(std::size_t provider, std::size_t key, clock::time_point now) const;
    unsigned retries_of(std::size_t provider) const;

    retry_settings settings_;
    std::minstd_rand random_;
    boost::container::small_vector<attempt, max_attempts_per_request> attempts_; // no allocation per request
    std::vector<std::size_t> retried_; // one entry per same-provider retry of a transient fault
    bool waited_ = false;              // the one inline wait of the request is used
};

} // namespace clipal::worker
