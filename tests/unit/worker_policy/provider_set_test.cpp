#include "worker/provider_set.hpp"

#include <gtest/gtest.h>

#include <ctime>

using namespace std::chrono_literals;
using clipal::action;
using clipal::failure_reason;
using clipal::manual_clock;
using clipal::verdict;
using clipal::worker::attempt_record;
using clipal::worker::failure_effect;
using clipal::worker::lane;
using clipal::worker::provider_set;
using idx = clipal::worker::provider_order;

namespace {

// The seed's rules (no breaker, no fail-back), which the tests before failover v2 describe.
clipal::worker::provider_policy seed(clipal::duration reactivate_after, bool separate_count_tokens) {
    return {reactivate_after, false, separate_count_tokens};
}

std::vector<clipal::provider_config> three() {
    std::vector<clipal::provider_config> v;
    for (const char* name : {"main", "backup", "other"}) {
        clipal::provider_config c;
        c.name = name;
        c.base_url = "https://example.test";
        c.api_keys = {std::string("sk-") + name};
        v.push_back(c);
    }
    return v;
}

const verdict auth{action::deactivate, failure_reason::auth, std::nullopt};
const verdict billing{action::deactivate, failure_reason::billing, std::nullopt};
const verdict quota{action::deactivate, failure_reason::quota, std::nullopt};
const verdict server_error{action::try_next, failure_reason::server_error, std::nullopt};

verdict rate_limited(clipal::duration d) { return {action::try_next, failure_reason::rate_limited, d}; }

std::string local_hms(clipal::clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    localtime_r(&tt, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

class ProviderSet : public ::testing::Test {
protected:
    manual_clock clock_;
    provider_set set_{three(), clock_, seed(1h, false)};
};

class ProviderSetCountTokens : public ::testing::Test {
protected:
    manual_clock clock_;
    provider_set set_{three(), clock_, seed(1h, true)};
};

} // namespace

TEST_F(ProviderSet, StartsWithTheFirstProviderInPriorityOrder) {
    EXPECT_EQ(set_.size(), 3u);
    EXPECT_EQ(set_.provider(0).name, "main");
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2}));
}

TEST_F(ProviderSet, SuccessMakesProviderCurrentAndOrderWraps) {
    set_.record_success(1, lane::main);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2, 0}));
    set_.record_success(2, lane::main);
    EXPECT_EQ(set_.candidates(lane::main), (idx{2, 0, 1}));
}

TEST_F(ProviderSet, FailureAloneDoesNotMoveCurrent) {
    set_.record_success(1, lane::main);
    EXPECT_EQ(set_.record_failure(1, lane::main, server_error), failure_effect::none);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2, 0}));
}

TEST_F(ProviderSet, AuthFailureDeactivatesUntilReactivateAfter) {
    const auto t0 = clock_.now();
    EXPECT_EQ(set_.record_failure(0, lane::main, auth), failure_effect::deactivated);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2}));
    EXPECT_FALSE(set_.available(0));
    const auto s = set_.snapshot()[0];
    EXPECT_EQ(s.state, "deactivated");
    EXPECT_EQ(s.until, t0 + 1h);
    EXPECT_EQ(s.reason, failure_reason::auth);

    clock_.advance(59min + 59s);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2}));
    clock_.advance(1s);
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2})) << "expired states count as available before expire_due";
    EXPECT_EQ(set_.snapshot()[0].state, "active");
    EXPECT_EQ(set_.expire_due(), (std::vector<std::size_t>{0}));
    EXPECT_EQ(set_.expire_due(), std::vector<std::size_t>{});
    EXPECT_FALSE(set_.next_change());
}

TEST_F(ProviderSet, BillingAndQuotaDeactivateToo) {
    set_.record_failure(0, lane::main, billing);
    set_.record_failure(1, lane::main, quota);
    EXPECT_EQ(set_.candidates(lane::main), (idx{2}));
    EXPECT_EQ(set_.snapshot()[0].reason, failure_reason::billing);
    EXPECT_EQ(set_.snapshot()[1].reason, failure_reason::quota);
}

TEST(ProviderSetNoReactivate, ReactivateAfterZeroNeverDeactivates) {
    manual_clock clock;
    provider_set set(three(), clock, seed(0s, false));
    EXPECT_EQ(set.record_failure(0, lane::main, auth), failure_effect::none);
    EXPECT_EQ(set.record_failure(0, lane::main, quota), failure_effect::none);
    EXPECT_EQ(set.candidates(lane::main), (idx{0, 1, 2}));
    EXPECT_EQ(set.snapshot()[0].state, "active");
    EXPECT_EQ(set.snapshot()[0].failures, 2u);
    EXPECT_FALSE(set.next_change());
}

TEST(ProviderSetNoReactivate, ReactivateAfterZeroStillCoolsDown) {
    manual_clock clock;
    provider_set set(three(), clock, seed(0s, false));
    EXPECT_EQ(set.record_failure(0, lane::main, rate_limited(10s)), failure_effect::cooling);
    EXPECT_EQ(set.candidates(lane::main), (idx{1, 2}));
}

TEST_F(ProviderSet, CooldownSkipsProviderUntilHintPasses) {
    const auto t0 = clock_.now();
    EXPECT_EQ(set_.record_failure(0, lane::main, rate_limited(30s)), failure_effect::cooling);
    const auto s = set_.snapshot()[0];
    EXPECT_EQ(s.state, "cooling");
    EXPECT_EQ(s.until, t0 + 30s);
    EXPECT_EQ(s.reason, failure_reason::rate_limited);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2}));
    clock_.advance(29s);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2}));
    clock_.advance(1s);
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2}));
}

TEST_F(ProviderSet, ServerErrorWithRetryAfterCoolsDown) {
    EXPECT_EQ(set_.record_failure(1, lane::main, {action::try_next, failure_reason::server_error, 5s}),
              failure_effect::cooling);
    EXPECT_EQ(set_.snapshot()[1].reason, failure_reason::server_error);
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 2}));
}

TEST_F(ProviderSet, FailureWithoutHintLeavesProviderAvailable) {
    EXPECT_EQ(set_.record_failure(0, lane::main, server_error), failure_effect::none);
    EXPECT_EQ(set_.record_failure(0, lane::main, rate_limited(0s)), failure_effect::none);
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2}));
}

TEST_F(ProviderSet, CooldownIsCappedAtOneHour) {
    const auto t0 = clock_.now();
    set_.record_failure(0, lane::main, rate_limited(5h));
    EXPECT_EQ(set_.snapshot()[0].until, t0 + 1h);
}

TEST_F(ProviderSet, CurrentProviderUnavailableStartsFromTheNextOne) {
    set_.record_success(1, lane::main);
    set_.record_failure(1, lane::main, auth);
    EXPECT_EQ(set_.candidates(lane::main), (idx{2, 0}));
}

TEST_F(ProviderSet, AllUnavailableMeansNoCandidates) {
    for (std::size_t i = 0; i < 3; ++i) set_.record_failure(i, lane::main, rate_limited(10s));
    EXPECT_EQ(set_.candidates(lane::main), idx{});
}

TEST_F(ProviderSet, CooldownDoesNotShortenDeactivation) {
    const auto t0 = clock_.now();
    set_.record_failure(0, lane::main, auth);
    EXPECT_EQ(set_.record_failure(0, lane::main, rate_limited(10s)), failure_effect::none);
    EXPECT_EQ(set_.snapshot()[0].state, "deactivated");
    EXPECT_EQ(set_.snapshot()[0].until, t0 + 1h);
}

TEST_F(ProviderSet, DeactivationOverridesCooldown) {
    const auto t0 = clock_.now();
    set_.record_failure(0, lane::main, rate_limited(10s));
    EXPECT_EQ(set_.record_failure(0, lane::main, auth), failure_effect::deactivated);
    EXPECT_EQ(set_.snapshot()[0].state, "deactivated");
    EXPECT_EQ(set_.snapshot()[0].until, t0 + 1h);
}

TEST_F(ProviderSet, LongerCooldownWins) {
    const auto t0 = clock_.now();
    set_.record_failure(0, lane::main, rate_limited(60s));
    EXPECT_EQ(set_.record_failure(0, lane::main, rate_limited(10s)), failure_effect::none);
    EXPECT_EQ(set_.snapshot()[0].until, t0 + 60s);
    EXPECT_EQ(set_.record_failure(0, lane::main, rate_limited(90s)), failure_effect::cooling);
    EXPECT_EQ(set_.snapshot()[0].until, t0 + 90s);
}

TEST_F(ProviderSet, NextChangeIsTheSoonestEnd) {
    const auto t0 = clock_.now();
    EXPECT_FALSE(set_.next_change());
    set_.record_failure(0, lane::main, auth);
    set_.record_failure(2, lane::main, rate_limited(30s));
    EXPECT_EQ(set_.next_change(), t0 + 30s);

    clock_.advance(30s);
    EXPECT_EQ(set_.next_change(), t0 + 30s) << "due but not yet expired";
    EXPECT_EQ(set_.expire_due(), (std::vector<std::size_t>{2}));
    EXPECT_EQ(set_.next_change(), t0 + 1h);
    EXPECT_EQ(set_.snapshot()[2].state, "active");
    EXPECT_FALSE(set_.snapshot()[2].reason);

    clock_.advance(1h);
    EXPECT_EQ(set_.expire_due(), (std::vector<std::size_t>{0}));
    EXPECT_FALSE(set_.next_change());
}

TEST_F(ProviderSet, ExpireDueReturnsEveryoneDue) {
    set_.record_failure(0, lane::main, rate_limited(5s));
    set_.record_failure(1, lane::main, rate_limited(10s));
    set_.record_failure(2, lane::main, rate_limited(20s));
    clock_.advance(10s);
    EXPECT_EQ(set_.expire_due(), (std::vector<std::size_t>{0, 1}));
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1}));
}

TEST_F(ProviderSet, SnapshotCountsRequestsFailuresAndMarksCurrent) {
    set_.record_failure(0, lane::main, server_error);
    set_.record_success(1, lane::main);
    set_.record_success(1, lane::main);
    const auto s = set_.snapshot();
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s[0].name, "main");
    EXPECT_EQ(s[0].requests, 1u);
    EXPECT_EQ(s[0].failures, 1u);
    EXPECT_FALSE(s[0].current);
    EXPECT_EQ(s[1].requests, 2u);
    EXPECT_EQ(s[1].failures, 0u);
    EXPECT_TRUE(s[1].current);
    EXPECT_EQ(s[2].state, "active");
    EXPECT_FALSE(s[2].until);
}

TEST_F(ProviderSet, PassThroughAndOutOfRangeAreIgnored) {
    EXPECT_EQ(set_.record_failure(0, lane::main, verdict{}), failure_effect::none);
    EXPECT_EQ(set_.record_failure(7, lane::main, auth), failure_effect::none);
    set_.record_success(7, lane::main);
    EXPECT_EQ(set_.snapshot()[0].requests, 0u);
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2}));
    EXPECT_FALSE(set_.available(7));
}

TEST_F(ProviderSet, WithoutSeparationCountTokensUsesTheMainLane) {
    EXPECT_EQ(set_.lane_for(true), lane::main);
    set_.record_success(2, lane::count_tokens);
    EXPECT_EQ(set_.candidates(lane::main), (idx{2, 0, 1}));
    set_.record_failure(2, lane::count_tokens, rate_limited(10s));
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1}));
}

TEST_F(ProviderSetCountTokens, CountTokensHasItsOwnCurrent) {
    EXPECT_EQ(set_.lane_for(true), lane::count_tokens);
    EXPECT_EQ(set_.lane_for(false), lane::main);
    set_.record_success(1, lane::count_tokens);
    EXPECT_EQ(set_.candidates(lane::count_tokens), (idx{1, 2, 0}));
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2}));
    EXPECT_TRUE(set_.snapshot()[0].current);
    set_.record_success(2, lane::main);
    EXPECT_EQ(set_.candidates(lane::count_tokens), (idx{1, 2, 0}));
}

TEST_F(ProviderSetCountTokens, CountTokensSoftFailuresMarkNothing) {
    EXPECT_EQ(set_.record_failure(0, lane::count_tokens, rate_limited(30s)), failure_effect::none);
    EXPECT_EQ(set_.record_failure(0, lane::count_tokens, quota), failure_effect::none);
    EXPECT_EQ(set_.record_failure(0, lane::count_tokens, {action::try_next, failure_reason::server_error, 5s}),
              failure_effect::none);
    EXPECT_EQ(set_.candidates(lane::main), (idx{0, 1, 2}));
    EXPECT_EQ(set_.candidates(lane::count_tokens), (idx{0, 1, 2}));
    EXPECT_FALSE(set_.next_change());
    EXPECT_EQ(set_.snapshot()[0].failures, 3u);
}

TEST_F(ProviderSetCountTokens, CountTokensAuthAndBillingDeactivateForEveryone) {
    EXPECT_EQ(set_.record_failure(0, lane::count_tokens, auth), failure_effect::deactivated);
    EXPECT_EQ(set_.record_failure(1, lane::count_tokens, billing), failure_effect::deactivated);
    EXPECT_EQ(set_.candidates(lane::main), (idx{2}));
    EXPECT_EQ(set_.candidates(lane::count_tokens), (idx{2}));
}

TEST_F(ProviderSetCountTokens, MainLaneCooldownAlsoKeepsCountTokensAway) {
    set_.record_failure(0, lane::main, rate_limited(30s));
    EXPECT_EQ(set_.candidates(lane::count_tokens), (idx{1, 2}));
}

TEST_F(ProviderSet, ExhaustedWithNothingComingBackIs503AllFailed) {
    set_.record_failure(0, lane::main, server_error);
    set_.record_failure(1, lane::main, {action::try_next, failure_reason::connect, std::nullopt});
    set_.record_failure(2, lane::main, {action::try_next, failure_reason::reset, std::nullopt});
    const auto a = set_.when_exhausted({{0, failure_reason::server_error, 503, ""},
                                        {1, failure_reason::connect, 0, "connection refused"},
                                        {2, failure_reason::reset, 0, ""}});
    EXPECT_EQ(a.status, 503);
    EXPECT_FALSE(a.retry_after);
    EXPECT_EQ(a.message, "all providers failed: main: 503 server error; backup: connect error (connection refused); "
                         "other: connection reset");
}

TEST_F(ProviderSet, ExhaustedAllRateLimitedIs429WithSoonestRetryAfter) {
    set_.record_failure(0, lane::main, rate_limited(25s));
    set_.record_failure(1, lane::main, rate_limited(10s));
    set_.record_failure(2, lane::main, {action::try_next, failure_reason::overloaded, 40s});
    const auto a = set_.when_exhausted({{0, failure_reason::rate_limited, 429, ""},
                                        {1, failure_reason::rate_limited, 429, ""},
                                        {2, failure_reason::overloaded, 529, ""}});
    EXPECT_EQ(a.status, 429);
    EXPECT_EQ(a.retry_after, 10s);
    EXPECT_NE(a.message.find("main: 429 rate limited; backup: 429 rate limited; other: 529 overloaded"),
              std::string::npos)
        << a.message;
}

TEST_F(ProviderSet, ExhaustedRetryAfterRoundsUpToWholeSecondsAtLeastOne) {
    set_.record_failure(0, lane::main, rate_limited(2100ms));
    EXPECT_EQ(set_.when_exhausted({{0, failure_reason::rate_limited, 429, ""}}).retry_after, 3s);
    clock_.advance(2s);
    EXPECT_EQ(set_.when_exhausted({{0, failure_reason::rate_limited, 429, ""}}).retry_after, 1s);
}

TEST_F(ProviderSet, ExhaustedMixedWithDeactivationIs503WithRetryAfterAndNamesSkipped) {
    set_.record_failure(2, lane::main, auth); // earlier request
    const auto back = clock_.now() + 1h;
    clock_.advance(1min);
    set_.record_failure(0, lane::main, rate_limited(20s));
    const auto a =
        set_.when_exhausted({{0, failure_reason::rate_limited, 429, ""}, {1, failure_reason::header_timeout, 0, ""}});
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.retry_after, 20s);
    EXPECT_NE(a.message.find("main: 429 rate limited"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("backup: response header timeout"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("other: deactivated (auth) until " + local_hms(back)), std::string::npos) << a.message;
}

TEST_F(ProviderSet, ExhaustedRateLimitedButOtherFailedIs503) {
    set_.record_failure(0, lane::main, rate_limited(20s));
    const auto a = set_.when_exhausted({{0, failure_reason::rate_limited, 429, ""},
                                        {1, failure_reason::connect, 0, ""},
                                        {2, failure_reason::server_error, 500, ""}});
    EXPECT_EQ(a.status, 503);
    EXPECT_EQ(a.retry_after, 20s);
}

TEST_F(ProviderSet, ExhaustedWithEveryoneSkippedNamesThemAll) {
    set_.record_failure(0, lane::main, rate_limited(20s));
    set_.record_failure(1, lane::main, rate_limited(50s));
    set_.record_failure(2, lane::main, {action::try_next, failure_reason::overloaded, 30s});
    const auto a = set_.when_exhausted({});
    EXPECT_EQ(a.status, 429);
    EXPECT_EQ(a.retry_after, 20s);
    EXPECT_NE(a.message.find("main: cooling (rate limited) until"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("backup: cooling (rate limited) until"), std::string::npos) << a.message;
    EXPECT_NE(a.message.find("other: cooling (overloaded) until"), std::string::npos) << a.message;
}

TEST(ProviderSetEmpty, NoProvidersSaysSo) {
    manual_clock clock;
    provider_set set({}, clock, seed(1h, false));
    EXPECT_EQ(set.size(), 0u);
    EXPECT_EQ(set.candidates(lane::main), idx{});
    const auto a = set.when_exhausted({});
    EXPECT_EQ(a.status, 503);
    EXPECT_NE(a.message.find("no providers are enabled"), std::string::npos);
}

TEST(ProviderSetHuge, EnormousReactivateAfterDoesNotOverflow) {
    manual_clock clock;
    provider_set set(three(), clock, seed(std::chrono::hours(2562047), false));
    set.record_failure(0, lane::main, auth);
    EXPECT_EQ(set.candidates(lane::main), (idx{1, 2}));
    clock.advance(std::chrono::hours(24 * 365 * 100));
    EXPECT_EQ(set.candidates(lane::main), (idx{1, 2}));
}

// ---- failover v2: breaker, fail-back probes, several keys ----

namespace {

clipal::worker::provider_policy failback(clipal::duration reactivate_after = 1h) {
    return {reactivate_after, true, false};
}

std::vector<clipal::provider_config> two_with_keys(std::vector<std::string> first_keys) {
    auto v = three();
    v.resize(2);
    v[0].api_keys = std::move(first_keys);
    return v;
}

class ProviderSetFailback : public ::testing::Test {
protected:
    manual_clock clock_;
    provider_set set_{three(), clock_, failback()};
};

} // namespace

TEST(BreakerBackoff, OneSecondDoublingToSixtyAndNoFurther) {
    EXPECT_EQ(clipal::worker::breaker_backoff(1), 1s);
    EXPECT_EQ(clipal::worker::breaker_backoff(2), 2s);
    EXPECT_EQ(clipal::worker::breaker_backoff(3), 4s);
    EXPECT_EQ(clipal::worker::breaker_backoff(6), 32s);
    EXPECT_EQ(clipal::worker::breaker_backoff(7), 60s);
    EXPECT_EQ(clipal::worker::breaker_backoff(1000), 60s);
}

TEST_F(ProviderSetFailback, ATransientFailureOpensTheBreakerForOneSecondThenTheProviderIsProbedFirst) {
    EXPECT_EQ(set_.record_failure(0, lane::main, server_error), failure_effect::opened);
    set_.record_success(1, lane::main);
    EXPECT_EQ(set_.candidates(lane::main), (idx{1, 2}));
    EXPECT_EQ(set_.snapshot()[0].state, "open");
    EXPECT_EQ(set_.snapshot()[0].breaker, "open");
    EXPECT_EQ(set_.snapshot()[0].next_try, clock_.now() + 1s);
    clock_.advance(1s);
    EXPECT_EQ(set_.snapshot()[0].breaker, "half-open");
    // Half-open: the next request probes it first; the ones after it keep to the current provider.
    const auto probe = set_.route_for(lane::main);
    EXPECT_EQ(probe.order, (idx{0, 1, 2}));
    EXPECT_EQ(probe.probe, 0u);
    const auto other = set_.route_for(lane::main);
    EXPECT_EQ(other.order, (idx{1, 2, 0}));
    EXPECT_FALSE(other.probe);
    // The probe succeeds: the breaker closes and the provider is current again.
    set_.record_success(0, lane::main);
    EXPECT_EQ(set_.route_for(lane::main).order, (idx{0, 1, 2}));
    EXPECT_EQ(set_.snapshot()[0].breaker, "closed");
    EXPECT_TRUE(set_.snapshot()[0].current);
}

TEST_F(ProviderSetFailback, AFailedProbeReopensWithADoubledBackoffAndASuccessResetsIt) {
    set_.record_failure(0, lane::main, server_error);
    set_.record_success(1, lane::main);
    clock_.advance(1s);
    ASSERT_EQ(set_.route_for(lane::main).probe, 0u);
    EXPECT_EQ(set_.record_failure(0, lane::main, server_error), failure_effect::opened);
    EXPECT_EQ(set_.snapshot()[0].until, clock_.now() + 2s);
    clock_.advance(2s);
    ASSERT_EQ(set_.route_for(lane::main).probe, 0u);
    set_.record_failure(0, lane::main, server_error);
    EXPECT_EQ(set_.snapshot()[0].until, clock_.now() + 4s);
    clock_.advance(4s);
    ASSERT_EQ(set_.route_for(lane::main).probe, 0u);
    set_.record_success(0, lane::main);
    EXPECT_EQ(set_.snapshot()[0].consecutive_failures, 0u);
    set_.record_failure(0, lane::main, server_error);
    EXPECT_EQ(set_.snapshot()[0].until, clock_.now() + 1s);
}

TEST_F(ProviderSetFailback, AnEndedProbeWithoutAnOutcomeFreesTheProviderForTheNextRequest) {
    set_.record_failure(0, lane::main, server_error);
    set_.record_success(1, lane::main);
    clock_.advance(1s);
    ASSERT_EQ(set_.route_for(lane::main).probe, 0u);
    EXPECT_FALSE(set_.route_for(lane::main).probe);
    set_.end_probe(0); // the client went away
    EXPECT_EQ(set_.route_for(lane::main).probe, 0u);
}

TEST_F(ProviderSetFailback, AHintLongerThanTheBackoffCoolsTheProviderForTheHint) {
    const verdict hinted{action::try_next, failure_reason::server_error, 30s};
    EXPECT_EQ(set_.record_failure(0, lane::main, hinted), failure_effect::cooling);
    EXPECT_EQ(set_.snapshot()[0].state, "cooling");
    EXPECT_EQ(set_.snapshot()[0].until, clock_.now() + 30s);
}

TEST_F(ProviderSetFailback, AnUnhintedRateLimitRestsTheKeyForTheBackoffInsteadOfCostingEveryRequest) {
    const verdict limited{action::try_next, failure_reason::rate_limited, std::nullopt};
    EXPECT_EQ(set_.record_failure(0, lane::main, limited), failure_effect::cooling);
    EXPECT_FALSE(set_.available(0));
    clock_.advance(1s);
    EXPECT_TRUE(set_.available(0));
    set_.record_failure(0, lane::main, limited);
    clock_.advance(1s);
    EXPECT_FALSE(set_.available(0)); // 2 s the second time
    clock_.advance(1s);
    EXPECT_TRUE(set_.available(0));
}

TEST_F(ProviderSetFailback, A404DoesNotMakeTheProviderCurrent) {
    set_.record_success(1, lane::main);
    set_.record_answer(2);
    EXPECT_TRUE(set_.snapshot()[1].current);
    EXPECT_EQ(set_.snapshot()[2].requests, 1u);
}

TEST_F(ProviderSetFailback, AContextLengthVerdictChangesNothing) {
    const verdict too_long{action::try_next, failure_reason::context_length, std::nullopt};
    EXPECT_EQ(set_.record_failure(0, lane::main, too_long), failure_effect::none);
    EXPECT_TRUE(set_.available(0));
    EXPECT_EQ(set_.snapshot()[0].failures, 0u);
    EXPECT_EQ(set_.snapshot()[0].breaker, "closed");
}

TEST_F(ProviderSetFailback, SetPolicyKeepsEveryStateAndAppliesTheNewSettingsNext) {
    set_.record_failure(0, lane::main, auth);
    set_.record_failure(1, lane::main, server_error);
    set_.record_success(2, lane::main);
    set_.set_policy({2h, false, false});
    EXPECT_EQ(set_.snapshot()[0].state, "deactivated");
    EXPECT_EQ(set_.snapshot()[0].until, clock_.now() + 1h);
    EXPECT_EQ(set_.snapshot()[1].state, "open");
    EXPECT_TRUE(set_.snapshot()[2].current);
    set_.record_failure(2, lane::main, auth);
    EXPECT_EQ(set_.snapshot()[2].until, clock_.now() + 2h);
}

TEST(ProviderSetKeys, AnAuthFailureDeactivatesThatKeyOnlyAndTheNextKeyIsUsed) {
    manual_clock clock;
    provider_set set(two_with_keys({"sk-first-aaaa", "sk-second-bbbb"}), clock, failback());
    EXPECT_EQ(set.key_for(0), 0u);
    EXPECT_EQ(set.record_failure(0, 0, lane::main, auth), failure_effect::deactivated);
    EXPECT_TRUE(set.available(0));
    EXPECT_EQ(set.key_for(0), 1u);
    EXPECT_EQ(set.candidates(lane::main), (idx{0, 1}));
    const auto s = set.snapshot()[0];
    EXPECT_EQ(s.state, "active");
    ASSERT_EQ(s.keys.size(), 2u);
    EXPECT_EQ(s.keys[0].fingerprint, "…aaaa");
    EXPECT_EQ(s.keys[0].state, "deactivated");
    EXPECT_EQ(s.keys[0].reason, failure_reason::auth);
    EXPECT_FALSE(s.keys[0].in_use);
    EXPECT_TRUE(s.keys[1].in_use);
    // The second key rejected too: the provider is out, named deactivated.
    set.record_failure(0, 1, lane::main, quota);
    EXPECT_FALSE(set.available(0));
    EXPECT_EQ(set.snapshot()[0].state, "deactivated");
    EXPECT_EQ(set.candidates(lane::main), (idx{1}));
    clock.advance(1h);
    EXPECT_TRUE(set.available(0));
    EXPECT_EQ(set.expire_due(), (std::vector<std::size_t>{0}));
}

TEST(ProviderSetKeys, ARateLimitRotatesToTheNextKey) {
    manual_clock clock;
    provider_set set(two_with_keys({"sk-first-aaaa", "sk-second-bbbb", "sk-third-cccc"}), clock, seed(1h, false));
    const verdict limited{action::try_next, failure_reason::rate_limited, std::nullopt};
    EXPECT_EQ(set.record_failure(0, 0, lane::main, limited), failure_effect::none);
    EXPECT_EQ(set.key_for(0), 1u); // the seed's rules put nothing out, yet the keys rotate
    set.record_failure(0, 1, lane::main, rate_limited(20s));
    EXPECT_EQ(set.key_for(0), 2u);
    EXPECT_EQ(set.snapshot()[0].keys[1].state, "cooling");
}

TEST(ProviderSetKeys, AServerFailureOpensTheWholeProviderNotOneKey) {
    manual_clock clock;
    provider_set set(two_with_keys({"sk-first-aaaa", "sk-second-bbbb"}), clock, failback());
    set.record_failure(0, 0, lane::main, server_error);
    EXPECT_FALSE(set.available(0));
    EXPECT_EQ(set.snapshot()[0].keys[0].state, "active");
}
