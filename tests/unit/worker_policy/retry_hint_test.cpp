#include "shared/retry_hint.hpp"

#include <gtest/gtest.h>

using namespace std::chrono;
using namespace std::chrono_literals;
using clipal::cooldown_hint;
using clipal::parse_rate_limit_reset;
using clipal::parse_retry_after;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
const clipal::clock::time_point rfc_date = sys_days{1994y / November / 6} + 8h + 49min + 37s;

} // namespace

TEST(RetryAfter, DeltaSeconds) {
    EXPECT_EQ(parse_retry_after("120", rfc_date), 120s);
    EXPECT_EQ(parse_retry_after("0", rfc_date), 0s);
    EXPECT_EQ(parse_retry_after(" 7 ", rfc_date), 7s);
}

TEST(RetryAfter, HugeDeltaSaturatesInsteadOfOverflowing) {
    auto d = parse_retry_after("99999999999999999999999", rfc_date);
    ASSERT_TRUE(d);
    EXPECT_GT(*d, hours(24 * 365));
}

TEST(RetryAfter, ImfFixdateInTheFuture) {
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", rfc_date), 30s);
    EXPECT_EQ(parse_retry_after("Mon, 07 Nov 1994 08:49:37 GMT", rfc_date), 24h);
}

TEST(RetryAfter, Rfc850AndAsctimeDates) {
    EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:51:37 GMT", rfc_date), 2min);
    EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:47 1994", rfc_date), 10s);
    EXPECT_EQ(parse_retry_after("Sun Nov 16 08:49:37 1994", rfc_date), 240h);
}

// Found by fuzz_hints: a date beyond the ±292 years nanoseconds reach overflowed (UB).
TEST(RetryAfter, DatesFarOffSaturateOrAreZero) {
    const auto far = parse_retry_after("Thu Dec 31 23:59:59 3026", rfc_date);
    ASSERT_TRUE(far);
    EXPECT_EQ(*far, seconds(1'000'000'000));
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 1013 07:28:00 GMT", rfc_date), 0s);
    EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", rfc_date), seconds(1'000'000'000));
    EXPECT_EQ(parse_retry_after("Sat, 01 Jan 0000 00:00:00 GMT", rfc_date), 0s);
}

TEST(RetryAfter, DateKeepsTheSubSecondPartOfNow) {
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:38 GMT", rfc_date + 250ms), 750ms);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_date + 250ms), 0s);
}

TEST(RetryAfter, DateInThePastIsZero) {
    EXPECT_EQ(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", rfc_date), 0s);
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", rfc_date), 0s);
}

TEST(RetryAfter, GarbageIsRejected) {
    for (const char* bad :
         {"", "soon", "-5", "1.5", "5s", "12abc", "Sun, 06 Nov 1994 08:49:37", "Sun, 31 Feb 1994 08:49:37 GMT",
          "Sun, 06 Foo 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT", "Sun, 6 Nov 1994 08:49:37 GMT"})
        EXPECT_FALSE(parse_retry_after(bad, rfc_date)) << bad;
}

TEST(RateLimitReset, GoDurations) {
    EXPECT_EQ(parse_rate_limit_reset("20ms"), 20ms);
    EXPECT_EQ(parse_rate_limit_reset("1m30s"), 90s);
    EXPECT_EQ(parse_rate_limit_reset("6m0s"), 6min);
    EXPECT_EQ(parse_rate_limit_reset("1.5s"), 1500ms);
}

TEST(RateLimitReset, PlainSeconds) {
    EXPECT_EQ(parse_rate_limit_reset("1"), 1s);
    EXPECT_EQ(parse_rate_limit_reset("0.5"), 500ms);
    EXPECT_EQ(parse_rate_limit_reset(".25"), 250ms);
    EXPECT_EQ(parse_rate_limit_reset(" 30 "), 30s);
}

TEST(RateLimitReset, GarbageIsRejected) {
    for (const char* bad : {"", "-1s", "-1", "abc", "1x", ".", "1.2.3", "1 s"})
        EXPECT_FALSE(parse_rate_limit_reset(bad)) << bad;
}

TEST(CooldownHint, NoHeadersNoHint) {
    EXPECT_FALSE(cooldown_hint("", "", "", rfc_date));
    EXPECT_FALSE(cooldown_hint("garbage", "nope", "", rfc_date));
}

TEST(CooldownHint, TakesTheLargestHint) {
    EXPECT_EQ(cooldown_hint("10", "20ms", "1m30s", rfc_date), 90s);
    EXPECT_EQ(cooldown_hint("100", "20ms", "1m30s", rfc_date), 100s);
    EXPECT_EQ(cooldown_hint("", "2.5", "", rfc_date), 2500ms);
    EXPECT_EQ(cooldown_hint("Sun, 06 Nov 1994 08:59:37 GMT", "1s", "", rfc_date), 10min);
}

TEST(CooldownHint, IgnoresUnparsableHintsBesideGoodOnes) {
    EXPECT_EQ(cooldown_hint("later", "5s", "xyz", rfc_date), 5s);
}

TEST(CooldownHint, CappedAtOneHour) {
    EXPECT_EQ(cooldown_hint("7200", "", "", rfc_date), clipal::max_cooldown);
    EXPECT_EQ(cooldown_hint("", "", "3h", rfc_date), 1h);
    EXPECT_EQ(cooldown_hint("3599", "", "", rfc_date), 3599s);
}
