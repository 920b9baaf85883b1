#include "supervisor/recent_activity.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

using namespace std::chrono_literals;
using namespace clipal;
using clipal::supervisor::is_live_failure;
using clipal::supervisor::recent_activity;
namespace json = boost::json;

namespace {

// Midnight is local midnight: the tests pin the zone (POSIX form, no tzdata needed).
class RecentActivity : public ::testing::Test {
protected:
    void SetUp() override { use_zone("UTC0"); }
    void TearDown() override {
        if (saved_)
            ::setenv("TZ", saved_->c_str(), 1);
        else
            ::unsetenv("TZ");
        ::tzset();
    }
    void use_zone(const char* tz) {
        ::setenv("TZ", tz, 1);
        ::tzset();
    }

private:
    std::optional<std::string> saved_ = [] {
        const char* tz = std::getenv("TZ");
        return tz != nullptr ? std::optional<std::string>(tz) : std::nullopt;
    }();
};

clock::time_point at_utc(int year, int month, int day, int hour, int minute, int second) {
    std::tm tm{};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

std::int64_t ms(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

usage_record row(const manual_clock& clk, std::string provider, int status = 200,
                 std::optional<std::uint32_t> ttfb = 100, std::uint64_t input = 0, std::uint64_t output = 0) {
    usage_record r;
    r.time_ms = ms(clk.now());
    r.profile = "claude-code";
    r.provider = std::move(provider);
    r.status = status;
    r.ttfb_ms = ttfb;
    r.input_tokens = input;
    r.output_tokens = output;
    return r;
}

const json::object& provider_json(const json::object& activity, std::string_view name) {
    return activity.at("providers").as_object().at(name).as_object();
}

std::uint64_t requests_1m(const recent_activity& a, std::string_view name, profile p = profile::claude_code) {
    return provider_json(a.to_json(p), name).at("requests_1m").to_number<std::uint64_t>();
}

json::value p50(const recent_activity& a, std::string_view name) {
    return provider_json(a.to_json(profile::claude_code), name).at("p50_ttfb_ms");
}

std::uint64_t tokens(const recent_activity& a, std::string_view name, std::string_view kind) {
    return provider_json(a.to_json(profile::claude_code), name).at("tokens_today").at(kind).to_number<std::uint64_t>();
}

} // namespace

TEST_F(RecentActivity, AnUnusedProfileHasNoProvidersAndNoSwitch) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    EXPECT_EQ(json::serialize(a.to_json(profile::codex)), R"({"providers":{},"last_switch":null})");
}

TEST_F(RecentActivity, ProducesTheDocumentedShape) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    auto ok = row(clk, "a", 200, 120, 10, 5);
    ok.cache_read_tokens = 1000;
    ok.cache_write_tokens = 7;
    a.add(profile::claude_code, ok);
    a.add(profile::claude_code, row(clk, "b", 503, std::nullopt));
    a.set_last_switch(profile::claude_code, provider_switch{ms(clk.now()) - 2500, "b", "a", "server_error"});
    a.add(profile::codex, row(clk, "c"));
    EXPECT_EQ(json::serialize(a.to_json(profile::claude_code)),
              R"({"providers":{)"
              R"("a":{"requests_1m":1,"failures_1m":0,"p50_ttfb_ms":124,)"
              R"("tokens_today":{"input":10,"output":5,"cache_read":1000,"cache_write":7}},)"
              R"("b":{"requests_1m":1,"failures_1m":1,"p50_ttfb_ms":null,)"
              R"("tokens_today":{"input":0,"output":0,"cache_read":0,"cache_write":0}}},)"
              R"("last_switch":{"time":"2026-11-26T11:59:57Z","from":"b","to":"a","reason":"server_error"}})");
    EXPECT_EQ(a.provider_count(profile::codex), 1u);
    EXPECT_EQ(a.provider_count(profile::gemini), 0u);
}

TEST_F(RecentActivity, FailuresAreNoAnswerAuthBillingRateLimitAndServerErrors) {
    for (const int s : {0, -1, 99, 600, 999, 401, 402, 403, 429, 500, 502, 503, 504, 529, 599})
        EXPECT_TRUE(is_live_failure(s)) << s;
    for (const int s : {100, 101, 200, 204, 206, 301, 304, 400, 404, 408, 413, 422, 499})
        EXPECT_FALSE(is_live_failure(s)) << s;

    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    for (const int s : {200, 400, 404, 401, 429, 500, 0}) a.add(profile::gemini, row(clk, "g", s));
    const auto j = a.to_json(profile::gemini);
    EXPECT_EQ(provider_json(j, "g").at("requests_1m"), 7);
    EXPECT_EQ(provider_json(j, "g").at("failures_1m"), 4);
}

TEST_F(RecentActivity, TheWindowSlidesSecondBySecond) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0) + 400ms);
    recent_activity a(clk);
    a.add(profile::claude_code, row(clk, "a", 500)); // second 12:00:00
    clk.advance(30s);
    a.add(profile::claude_code, row(clk, "a"));
    a.add(profile::claude_code, row(clk, "a")); // second 12:00:30
    EXPECT_EQ(requests_1m(a, "a"), 3u);

    clk.set(at_utc(2026, 11, 26, 12, 0, 59) + 999ms); // the first request is 59.6 s old: still in
    EXPECT_EQ(requests_1m(a, "a"), 3u);
    EXPECT_EQ(provider_json(a.to_json(profile::claude_code), "a").at("failures_1m"), 1);
    clk.set(at_utc(2026, 11, 26, 12, 1, 0)); // its second has left the window
    EXPECT_EQ(requests_1m(a, "a"), 2u);
    EXPECT_EQ(provider_json(a.to_json(profile::claude_code), "a").at("failures_1m"), 0);

    // A new request in the slot the first one used (same second modulo 60) starts it afresh.
    a.add(profile::claude_code, row(clk, "a"));
    EXPECT_EQ(requests_1m(a, "a"), 3u);

    clk.advance(90s); // quiet: listed with zeros and no p50
    EXPECT_EQ(requests_1m(a, "a"), 0u);
    EXPECT_TRUE(p50(a, "a").is_null());
}

TEST_F(RecentActivity, RowsCountAtTheirOwnTime) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    auto old = row(clk, "a", 200, 100, 5);
    old.time_ms -= 61'000; // reported late: today's tokens, not the window
    a.add(profile::claude_code, old);
    auto future = row(clk, "a", 200, 100, 7);
    future.time_ms += 3'600'000; // a clock step: counts now
    a.add(profile::claude_code, future);
    EXPECT_EQ(requests_1m(a, "a"), 1u);
    EXPECT_EQ(tokens(a, "a", "input"), 12u);
    clk.advance(59s);
    EXPECT_EQ(requests_1m(a, "a"), 1u);
    clk.advance(1s);
    EXPECT_EQ(requests_1m(a, "a"), 0u);
}

TEST_F(RecentActivity, RowsWithoutAProviderAreIgnored) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    a.add(profile::claude_code, row(clk, "", 503));
    EXPECT_EQ(a.provider_count(profile::claude_code), 0u);
}

TEST_F(RecentActivity, P50IsTheLowerMedianOfTheWindow) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    a.add(profile::claude_code, row(clk, "a", 200, std::nullopt));
    EXPECT_TRUE(p50(a, "a").is_null()); // no byte came: no sample
    for (const std::uint32_t v : {3u, 9u, 1u}) a.add(profile::claude_code, row(clk, "a", 200, v));
    EXPECT_EQ(p50(a, "a"), 3); // exact below 16 ms
    a.add(profile::claude_code, row(clk, "a", 200, 12u));
    EXPECT_EQ(p50(a, "a"), 3); // 1 3 9 12: the lower of the middle two
    clk.advance(10s);
    for (int i = 0; i < 5; ++i) a.add(profile::claude_code, row(clk, "a", 200, 2000u));
    EXPECT_EQ(p50(a, "a"), 2048 - 128 + 64); // 2000 lies in [1920, 2048): the bin's middle
    clk.advance(55s);                        // the first four have left
    EXPECT_EQ(p50(a, "a"), 1984);
}

TEST_F(RecentActivity, P50BinsStayWithinSixPercent) {
    EXPECT_EQ(recent_activity::ttfb_bin(0), 0u);
    EXPECT_EQ(recent_activity::ttfb_bin(15), 15u);
    EXPECT_EQ(recent_activity::ttfb_bin(UINT32_MAX), recent_activity::ttfb_bins - 1);
    std::size_t previous = 0;
    for (std::uint32_t v = 0; v < (1u << 18); ++v) {
        const auto bin = recent_activity::ttfb_bin(v);
        ASSERT_LT(bin, recent_activity::ttfb_bins);
        ASSERT_GE(bin, previous) << v; // monotone
        previous = bin;
        const double shown = recent_activity::ttfb_bin_value(bin);
        ASSERT_LE(std::abs(shown - v), 0.0625 * v + 1) << v;
    }
    for (std::size_t b = 0; b < recent_activity::ttfb_bins; ++b)
        EXPECT_EQ(recent_activity::ttfb_bin(recent_activity::ttfb_bin_value(b)), b) << b;
}

TEST_F(RecentActivity, TokensResetAtLocalMidnight) {
    use_zone("XYZ-3"); // UTC+3, no DST: local midnight is 21:00 UTC
    manual_clock clk(at_utc(2026, 11, 26, 20, 59, 50));
    recent_activity a(clk);
    auto before = row(clk, "a", 200, 100, 100, 10);
    a.add(profile::claude_code, before);
    EXPECT_EQ(tokens(a, "a", "input"), 100u);
    clk.advance(5s);
    EXPECT_EQ(tokens(a, "a", "output"), 10u);

    clk.advance(5s); // 00:00:00 local
    EXPECT_EQ(tokens(a, "a", "input"), 0u);
    EXPECT_EQ(requests_1m(a, "a"), 1u); // the window does not care about days

    before.time_ms += 1000; // yesterday's request, reported after midnight: not today's tokens
    a.add(profile::claude_code, before);
    EXPECT_EQ(tokens(a, "a", "input"), 0u);
    EXPECT_EQ(requests_1m(a, "a"), 2u);

    a.add(profile::claude_code, row(clk, "a", 200, 100, 40, 4));
    clk.advance(23h + 59min);
    EXPECT_EQ(tokens(a, "a", "input"), 40u);
    EXPECT_EQ(tokens(a, "a", "output"), 4u);
    clk.advance(1min);
    EXPECT_EQ(tokens(a, "a", "input"), 0u);

    use_zone("UTC0"); // the same clock, midnight three hours later: recounted by the new zone
    recent_activity utc(clk);
    clk.set(at_utc(2026, 11, 27, 23, 59, 59));
    utc.add(profile::claude_code, row(clk, "a", 200, 100, 1));
    clk.advance(1s);
    EXPECT_EQ(tokens(utc, "a", "input"), 0u);
}

TEST_F(RecentActivity, TokenCountsSaturate) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    a.add(profile::claude_code, row(clk, "a", 200, 100, UINT64_MAX - 1));
    a.add(profile::claude_code, row(clk, "a", 200, 100, 5));
    EXPECT_EQ(tokens(a, "a", "input"), UINT64_MAX);
}

TEST_F(RecentActivity, ProvidersAreBoundedPerProfileForgettingTheQuietest) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    for (std::size_t i = 0; i < recent_activity::max_providers_per_profile; ++i) {
        a.add(profile::codex, row(clk, "p" + std::to_string(i)));
        clk.advance(10ms);
    }
    a.add(profile::codex, row(clk, "p0")); // p0 is busy again; p1 is now the quietest
    a.add(profile::codex, row(clk, "new"));
    EXPECT_EQ(a.provider_count(profile::codex), recent_activity::max_providers_per_profile);
    const auto j = a.to_json(profile::codex);
    EXPECT_TRUE(j.at("providers").as_object().contains("p0"));
    EXPECT_FALSE(j.at("providers").as_object().contains("p1"));
    EXPECT_EQ(provider_json(j, "new").at("requests_1m"), 1);
    EXPECT_EQ(a.provider_count(profile::claude_code), 0u);
}

TEST_F(RecentActivity, TenThousandRequestsASecondForAMinuteKeepExactCounts) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    auto r = row(clk, "busy", 200, 250, 1, 1);
    for (int s = 0; s < 70; ++s) {
        for (int i = 0; i < 10'000; ++i) {
            r.time_ms = ms(clk.now()) + i / 10;
            r.status = i % 100 == 0 ? 503 : 200;
            r.ttfb_ms = 200 + static_cast<std::uint32_t>(i % 101); // median 250
            a.add(profile::claude_code, r);
        }
        clk.advance(1s);
    }
    clk.advance(-1ms); // the last request's second, its 999th ms
    const auto j = provider_json(a.to_json(profile::claude_code), "busy");
    EXPECT_EQ(j.at("requests_1m"), 600'000);
    EXPECT_EQ(j.at("failures_1m"), 6'000);
    const auto median = j.at("p50_ttfb_ms").to_number<std::int64_t>();
    EXPECT_NEAR(median, 250, 250 * 0.0625);
    EXPECT_EQ(j.at("tokens_today").at("input"), 700'000);
    EXPECT_EQ(a.provider_count(profile::claude_code), 1u);
}

TEST_F(RecentActivity, TheLastSwitchIsTheNewestReported) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    metrics_report r;
    const auto b_row = row(clk, "b");
    const usage_row_view rows[] = {b_row};
    r.last_switch = provider_switch{ms(at_utc(2026, 11, 26, 11, 0, 0)), "", "a", "failback"};
    a.add_report(profile::claude_code, r, rows);
    EXPECT_EQ(requests_1m(a, "b"), 1u);
    EXPECT_EQ(json::serialize(a.to_json(profile::claude_code).at("last_switch")),
              R"({"time":"2026-11-26T11:00:00Z","from":"","to":"a","reason":"failback"})");

    a.set_last_switch(profile::claude_code, provider_switch{ms(at_utc(2026, 11, 26, 11, 30, 0)), "a", "b", "auth"});
    // A retiring worker's older switch, and a restarted worker's report without one, change nothing.
    a.add_report(profile::claude_code, r);
    a.add_report(profile::claude_code, metrics_report{});
    EXPECT_EQ(json::serialize(a.to_json(profile::claude_code).at("last_switch")),
              R"({"time":"2026-11-26T11:30:00Z","from":"a","to":"b","reason":"auth"})");
    EXPECT_TRUE(a.to_json(profile::gemini).at("last_switch").is_null());
}

TEST_F(RecentActivity, AProviderARequestLeftCountsItAsARequestAndAFailure) {
    clipal::metrics_report r;
    auto& left = r.provider("a");
    left.counters.failovers[static_cast<std::size_t>(clipal::failure_reason::server_error)] = 2;
    r.provider("b"); // counts nothing: its rows say what it answered
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity activity(clk);
    activity.add_report(clipal::profile::claude_code, r);
    const auto doc = activity.to_json(clipal::profile::claude_code);
    const auto& a = doc.at("providers").at("a");
    EXPECT_EQ(a.at("requests_1m").to_number<std::int64_t>(), 2);
    EXPECT_EQ(a.at("failures_1m").to_number<std::int64_t>(), 2);
    EXPECT_FALSE(doc.at("providers").as_object().contains("b"));
}

TEST_F(RecentActivity, AReportsRowsCountUnderEachOfTheirProvidersWhateverTheirOrder) {
    manual_clock clk(at_utc(2026, 11, 26, 12, 0, 0));
    recent_activity a(clk);
    std::vector<usage_record> records;
    for (const char* p : {"a", "b", "a", "a", "", "c", "b", "a"}) records.push_back(row(clk, p, 200, 100, 1));
    const std::vector<usage_row_view> rows(records.begin(), records.end());
    a.add_report(profile::claude_code, metrics_report{}, rows);
    a.add_report(profile::claude_code, metrics_report{}, std::span(rows).subspan(5)); // c, b, a
    EXPECT_EQ(requests_1m(a, "a"), 5u);
    EXPECT_EQ(requests_1m(a, "b"), 3u);
    EXPECT_EQ(requests_1m(a, "c"), 2u);
    EXPECT_EQ(tokens(a, "a", "input"), 5u);
    EXPECT_EQ(a.provider_count(profile::claude_code), 3u); // the row without a provider is not shown
}
