#include "shared/log.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

namespace {

struct capture_backend final : clipal::log_backend {
    std::vector<clipal::log_record> records;
    void write(const clipal::log_record& r) override { records.push_back(r); }
};

clipal::clock::time_point utc(int y, unsigned m, unsigned d, int hh, int mm, int ss) {
    using namespace std::chrono;
    return sys_days{year{y} / month{m} / day{d}} + hours{hh} + minutes{mm} + seconds{ss};
}

struct utc_tz {
    utc_tz() {
        setenv("TZ", "UTC", 1);
        tzset();
    }
};

} // namespace

TEST(LogFormat, MatchesTheSeedLineFormat) {
    utc_tz tz;
    clipal::log_record r{clipal::log_level::warn, utc(2024, 1, 1, 12, 0, 6), "claudecode",
                         "anthropic-direct failed: 503, switching to openrouter"};
    EXPECT_EQ(clipal::format_log_line(r),
              "[WARN]  2024-01-01 12:00:06 [claudecode] anthropic-direct failed: 503, switching to openrouter");
    r = {clipal::log_level::info, utc(2024, 1, 1, 12, 0, 0), "", "clipal starting on :3333"};
    EXPECT_EQ(clipal::format_log_line(r), "[INFO]  2024-01-01 12:00:00 clipal starting on :3333");
    r.level = clipal::log_level::debug;
    EXPECT_EQ(clipal::format_log_line(r).substr(0, 8), "[DEBUG] ");
    r.level = clipal::log_level::error;
    EXPECT_EQ(clipal::format_log_line(r).substr(0, 8), "[ERROR] ");
}

TEST(Logger, FiltersByLevelAndTakesTimeFromClock) {
    clipal::manual_clock clk;
    capture_backend b;
    clipal::logger log(clk, b, clipal::log_level::info);
    log.debug("codex", "hidden {}", 1);
    log.info("codex", "shown {}", 2);
    ASSERT_EQ(b.records.size(), 1u);
    EXPECT_EQ(b.records[0].message, "shown 2");
    EXPECT_EQ(b.records[0].tag, "codex");
    EXPECT_EQ(b.records[0].time, clk.now());
    log.set_level(clipal::log_level::debug);
    log.debug("codex", "now shown");
    EXPECT_EQ(b.records.size(), 2u);
    log.set_level(clipal::log_level::error);
    log.warn("codex", "dropped");
    EXPECT_EQ(b.records.size(), 2u);
}

TEST(Logger, RedactsConfiguredKeys) {
    clipal::manual_clock clk;
    capture_backend b;
    clipal::logger log(clk, b);
    log.set_redactor(std::make_shared<clipal::redactor>(std::vector<std::string>{"sk-live-abcdefghijklmnop"}));
    log.info("", "upstream said: bad key sk-live-abcdefghijklmnop");
    ASSERT_EQ(b.records.size(), 1u);
    EXPECT_EQ(b.records[0].message.find("sk-live-abcdefghijklmnop"), std::string::npos);
    EXPECT_NE(b.records[0].message.find("sk-…mnop"), std::string::npos);
}
