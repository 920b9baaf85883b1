// The total memory a worker spends on buffered request bodies, across all connections.
// Bodies are buffered so that they can be replayed to the next provider; without a
// shared bound a burst of large uploads could exhaust memory (issue #3, "Bad input").
#pragma once

#include <cstdint>

namespace clipal::worker {

// Single-threaded (the worker's io_context thread).
class body_budget {
public:
    explicit body_budget(std::uint64_t limit) : limit_(limit) {}

    void set_limit(std::uint64_t limit) { limit_ = limit; }
    std::uint64_t in_use() const { return in_use_; }

    // Reserves n bytes; false (and nothing reserved) when that would pass the limit.
    bool try_reserve(std::uint64_t n) {
        if (n > limit_ || in_use_ > limit_ - n) return false;
        in_use_ += n;
        return true;
    }
    void release(std::uint64_t n) { in_use_ = n > in_use_ ? 0 : in_use_ - n; }

private:
    std::uint64_t limit_;
    std::uint64_t in_use_ = 0;
};

// Gives back a reservation when the request that made it ends.
class body_reservation {
public:
    body_reservation() = default;
    body_reservation(body_budget& b, std::uint64_t n) : budget_(&b), n_(n) {}
    body_reservation(body_reservation&& o) noexcept : budget_(o.budget_), n_(o.n_) { o.budget_ = nullptr; }
    body_reservation& operator=(body_reservation&& o) noexcept {
        if (this != &o) {
            reset();
            budget_ = o.budget_;
            n_ = o.n_;
            o.budget_ = nullptr;
        }
        return *this;
    }
    ~body_reservation() { reset(); }
    void reset() {
        if (budget_) budget_->release(n_);
        budget_ = nullptr;
    }

private:
    body_budget* budget_ = nullptr;
    std::uint64_t n_ = 0;
};

} // namespace clipal::worker
