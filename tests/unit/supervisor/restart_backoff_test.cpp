#include "supervisor/restart_backoff.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using clipal::supervisor::backoff_policy;
using clipal::supervisor::restart_backoff;
using clipal::supervisor::restart_decision;

namespace {

const clipal::clock::time_point t0{std::chrono::hours(24 * 20000)};

} // namespace

TEST(RestartBackoff, FirstRestartIsFast) {
    restart_backoff b;
    const auto d = b.on_crash(t0, t0 + 1s);
    EXPECT_FALSE(d.park);
    EXPECT_LE(d.delay, 100ms);
    EXPECT_GT(d.delay, 0ms);
}

TEST(RestartBackoff, DelayDoublesUpToTheCap) {
    restart_backoff b;
    auto now = t0;
    const std::chrono::milliseconds expected[] = {100ms, 200ms, 400ms, 800ms, 1600ms, 2s, 2s, 2s};
    for (auto want : expected) {
        // Crashes a minute apart never fill the crash window, each after 1 s of uptime.
        now += 61s;
        const auto d = b.on_crash(now - 1s, now);
        ASSERT_FALSE(d.park);
        EXPECT_EQ(d.delay, want);
    }
}

TEST(RestartBackoff, HealthyRunResetsTheDelay) {
    restart_backoff b;
    auto now = t0;
    for (int i = 0; i < 4; ++i, now += 1s) b.on_crash(now, now + 1s);
    EXPECT_EQ(b.on_crash(now, now + 1s).delay, 1600ms);
    now += 120s;
    EXPECT_EQ(b.on_crash(now - 60s, now).delay, 100ms) << "60 s of uptime counts as healthy";
    EXPECT_EQ(b.on_crash(now, now + 1s).delay, 200ms);
}

TEST(RestartBackoff, TenCrashesWithinAMinuteParks) {
    restart_backoff b;
    auto now = t0;
    for (int i = 0; i < 9; ++i) {
        const auto d = b.on_crash(now, now + 5s);
        now += 5s;
        ASSERT_FALSE(d.park) << i;
    }
    const auto d = b.on_crash(now, now + 5s);
    EXPECT_TRUE(d.park);
    EXPECT_EQ(d.recent_crashes, 10u);
    EXPECT_TRUE(b.parked());
    EXPECT_TRUE(b.on_crash(t0 + 1h, t0 + 2h).park) << "parked until reset, however long it waits";
}

TEST(RestartBackoff, CrashesSpreadWiderThanTheWindowDoNotPark) {
    restart_backoff b;
    auto now = t0;
    for (int i = 0; i < 30; ++i) {
        now += 7s; // ten crashes span 63 s
        ASSERT_FALSE(b.on_crash(now - 1s, now).park) << i;
    }
}

TEST(RestartBackoff, ResetUnparksAndStartsOverFast) {
    restart_backoff b;
    auto now = t0;
    for (int i = 0; i < 10; ++i, now += 1s) b.on_crash(now, now + 1s);
    ASSERT_TRUE(b.parked());
    b.reset();
    EXPECT_FALSE(b.parked());
    const auto d = b.on_crash(now, now + 1s);
    EXPECT_FALSE(d.park);
    EXPECT_EQ(d.delay, 100ms);
    EXPECT_EQ(d.recent_crashes, 1u);
}

TEST(RestartBackoff, ParkingCarriesACoolOffThatDoublesWhileTheWorkerKeepsFailing) {
    restart_backoff b;
    auto now = t0;
    restart_decision d;
    for (int i = 0; i < 10; ++i, now += 1s) d = b.on_crash(now, now + 1s);
    ASSERT_TRUE(d.park);
    EXPECT_EQ(d.retry_after, 1min);
    const std::chrono::minutes expected[] = {2min, 4min, 8min, 16min, 30min, 30min};
    for (const auto want : expected) {
        now += 1h;
        b.retry();
        EXPECT_FALSE(b.parked());
        d = b.on_crash(now, now + 59s);
        EXPECT_TRUE(d.park) << "a retried worker that dies before it is healthy parks at once";
        EXPECT_EQ(d.retry_after, want);
    }
}

TEST(RestartBackoff, AHealthyRunAfterARetryRestartsNormallyAndForgetsTheCoolOff) {
    restart_backoff b;
    auto now = t0;
    for (int i = 0; i < 10; ++i, now += 1s) b.on_crash(now, now + 1s);
    b.retry();
    now += 1h;
    auto d = b.on_crash(now, now + 60s);
    EXPECT_FALSE(d.park);
    EXPECT_EQ(d.delay, 100ms);
    now += 1h;
    for (int i = 0; i < 10; ++i, now += 1s) d = b.on_crash(now, now + 1s);
    EXPECT_TRUE(d.park);
    EXPECT_EQ(d.retry_after, 1min);
}

TEST(RestartBackoff, ResetForgetsTheCoolOff) {
    restart_backoff b;
    auto now = t0;
    for (int i = 0; i < 10; ++i, now += 1s) b.on_crash(now, now + 1s);
    b.retry();
    EXPECT_EQ(b.on_crash(now, now + 1s).retry_after, 2min);
    b.reset();
    restart_decision d;
    for (int i = 0; i < 10; ++i, now += 1s) d = b.on_crash(now, now + 1s);
    EXPECT_EQ(d.retry_after, 1min);
}

TEST(RestartBackoff, PolicyIsConfigurable) {
    backoff_policy p;
    p.first_delay = 10ms;
    p.max_delay = 35ms;
    p.crash_limit = 3;
    restart_backoff b(p);
    EXPECT_EQ(b.on_crash(t0, t0 + 1s).delay, 10ms);
    EXPECT_EQ(b.on_crash(t0, t0 + 2s).delay, 20ms);
    EXPECT_TRUE(b.on_crash(t0, t0 + 3s).park);
}
