#include "worker/retry_budget.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using clipal::action;
using clipal::failure_reason;
using clipal::manual_clock;
using clipal::verdict;
using clipal::worker::retry_budget;
using kind = retry_budget::decision::kind;

namespace {

const verdict server_error{action::try_next, failure_reason::server_error, std::nullopt};
const verdict reset{action::try_next, failure_reason::reset, std::nullopt};
const verdict unhinted_429{action::try_next, failure_reason::rate_limited, std::nullopt};
const verdict auth{action::deactivate, failure_reason::auth, std::nullopt};

verdict hinted(failure_reason r, clipal::duration d) { return {action::try_next, r, d}; }

class RetryBudget : public ::testing::Test {
protected:
    manual_clock clock_;
    retry_budget budget_{{1, 3s}, 42};

    retry_budget::decision fail(std::size_t provider, const verdict& v, int status, bool probe = false) {
        budget_.attempt_started(provider, 0, clock_.now());
        return budget_.after_failure(provider, 0, v, status, probe, clock_.now());
    }
};

} // namespace

TEST_F(RetryBudget, ATransientFaultIsRetriedOnceOnTheSameProviderAfterAJitteredQuarterSecond) {
    for (std::uint32_t seed = 0; seed < 50; ++seed) {
        retry_budget b({1, 3s}, seed);
        b.attempt_started(0, 0, clock_.now());
        const auto d = b.after_failure(0, 0, server_error, 500, false, clock_.now());
        EXPECT_EQ(d.what, kind::retry_same);
        EXPECT_FALSE(d.inline_wait);
        EXPECT_GE(d.delay, 200ms);
        EXPECT_LE(d.delay, 300ms);
    }
    const auto first = fail(0, reset, 0);
    EXPECT_EQ(first.what, kind::retry_same);
    clock_.advance(first.delay);
    EXPECT_EQ(fail(0, reset, 0).what, kind::move_on);             // one retry only
    EXPECT_EQ(fail(1, server_error, 503).what, kind::retry_same); // the next provider has its own
}

TEST_F(RetryBudget, NoRetriesWhenSetToZero) {
    retry_budget b({0, 3s}, 1);
    b.attempt_started(0, 0, clock_.now());
    EXPECT_EQ(b.after_failure(0, 0, server_error, 500, false, clock_.now()).what, kind::move_on);
}

TEST_F(RetryBudget, RateLimitsKeyTroubleTimeoutsAndProbesAreNotRetried) {
    EXPECT_EQ(fail(0, unhinted_429, 429).what, kind::move_on);
    EXPECT_EQ(fail(1, auth, 401).what, kind::move_on);
    EXPECT_EQ(fail(2, {action::try_next, failure_reason::header_timeout, std::nullopt}, 0).what, kind::move_on);
    EXPECT_EQ(fail(3, {action::try_next, failure_reason::first_byte_timeout, std::nullopt}, 0).what, kind::move_on);
    EXPECT_EQ(fail(4, server_error, 500, true).what, kind::move_on);
}

TEST_F(RetryBudget, AShortHintIsWaitedOutOnceAndALongOneMovesOnAtOnce) {
    const auto d = fail(0, hinted(failure_reason::rate_limited, 2s), 429);
    EXPECT_EQ(d.what, kind::retry_same);
    EXPECT_TRUE(d.inline_wait);
    EXPECT_EQ(d.delay, 2s);
    clock_.advance(2s);
    // One inline wait per request, on any provider.
    EXPECT_EQ(fail(0, hinted(failure_reason::rate_limited, 2s), 429).what, kind::move_on);
    EXPECT_EQ(fail(1, hinted(failure_reason::server_error, 1s), 503).what, kind::move_on);

    retry_budget b({1, 3s}, 7);
    b.attempt_started(0, 0, clock_.now());
    EXPECT_EQ(b.after_failure(0, 0, hinted(failure_reason::server_error, 4s), 503, false, clock_.now()).what,
              kind::move_on);
}

TEST_F(RetryBudget, A503WithAShortHintIsAnInlineWaitToo) {
    const auto d = fail(0, hinted(failure_reason::server_error, 1s), 503);
    EXPECT_EQ(d.what, kind::retry_same);
    EXPECT_TRUE(d.inline_wait);
}

TEST_F(RetryBudget, InlineWaitsOffMeansAHintedAnswerMovesOn) {
    retry_budget b({1, 0s}, 3);
    b.attempt_started(0, 0, clock_.now());
    EXPECT_EQ(b.after_failure(0, 0, hinted(failure_reason::rate_limited, 1s), 429, false, clock_.now()).what,
              kind::move_on);
}

TEST_F(RetryBudget, NeverThreeAttemptsToOneKeyWithinOneAndAHalfSeconds) {
    retry_budget b({3, 3s}, 9);
    const auto t0 = clock_.now();
    b.attempt_started(0, 0, t0);
    auto d = b.after_failure(0, 0, hinted(failure_reason::rate_limited, 100ms), 429, false, t0 + 10ms);
    ASSERT_EQ(d.what, kind::retry_same);
    EXPECT_EQ(d.delay, 100ms);
    b.attempt_started(0, 0, t0 + 110ms);
    d = b.after_failure(0, 0, server_error, 500, false, t0 + 120ms);
    ASSERT_EQ(d.what, kind::retry_same);
    // The third attempt waits until 1.5 s after the first.
    EXPECT_EQ(t0 + 120ms + d.delay, t0 + 1500ms);
}

TEST_F(RetryBudget, SixAttemptsPerRequestAtMost) {
    retry_budget b({5, 3s}, 11);
    auto now = clock_.now();
    for (std::size_t provider = 0; provider < 6; ++provider) b.attempt_started(provider, 0, now);
    EXPECT_TRUE(b.spent());
    EXPECT_EQ(b.after_failure(5, 0, server_error, 500, false, now).what, kind::move_on);
}

TEST_F(RetryBudget, RetriesLeaveAnAttemptForEveryProviderStillToTry) {
    retry_budget b({5, 3s}, 13);
    auto now = clock_.now();
    std::size_t retries = 0;
    for (;;) {
        b.attempt_started(0, 0, now);
        const auto d = b.after_failure(0, 0, server_error, 503, false, now, 2);
        if (d.what != kind::retry_same) break;
        ++retries;
        now += std::chrono::duration_cast<clipal::clock::time_point::duration>(d.delay);
    }
    EXPECT_EQ(retries, 3u); // 4 attempts on the first provider, 2 left for the other two
}
