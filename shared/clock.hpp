// The time source every timed decision goes through (cooldowns, reactivation,
// log rotation), so that tests can move time without sleeping.
#pragma once

#include <chrono>

namespace clipal {

class clock {
public:
    using time_point = std::chrono::system_clock::time_point;
    virtual ~clock() = default;
    // Wall-clock time. Callers compare time_points; nothing assumes monotonicity
    // beyond "a deadline in the past has passed".
    virtual time_point now() const = 0;
};

class system_clock final : public clock {
public:
    time_point now() const override { return std::chrono::system_clock::now(); }
};

// A clock tests set and advance by hand. Not thread-safe.
class manual_clock final : public clock {
public:
    explicit manual_clock(time_point start = time_point{std::chrono::hours(24 * 20000)}) : now_(start) {}
    time_point now() const override { return now_; }
    void advance(std::chrono::nanoseconds d) { now_ += std::chrono::duration_cast<time_point::duration>(d); }
    void set(time_point t) { now_ = t; }

private:
    time_point now_;
};

} // namespace clipal
