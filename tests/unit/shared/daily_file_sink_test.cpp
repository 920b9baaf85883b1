#include "shared/daily_file_sink.hpp"
#include "shared/log_writer.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace std::chrono;

namespace {

clipal::clock::time_point at(year_month_day d, hours h = hours{12}) { return sys_days{d} + h; }

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class DailyFileSink : public ::testing::Test {
protected:
    void SetUp() override {
        setenv("TZ", "UTC", 1);
        tzset();
    }
    clipal::test::temp_dir tmp;
    clipal::manual_clock clk{at(2024y / 1 / 10)};
};

} // namespace

TEST_F(DailyFileSink, WritesOneFilePerDay) {
    clipal::log_writer w;
    w.configure(tmp.path().string(), 7, false);
    clipal::logger log(clk, w);
    log.info("", "first day");
    clk.advance(hours{24});
    log.info("codex", "second day");
    const auto d1 = tmp.path() / "clipal-2024-01-10.log";
    const auto d2 = tmp.path() / "clipal-2024-01-11.log";
    ASSERT_TRUE(std::filesystem::exists(d1));
    ASSERT_TRUE(std::filesystem::exists(d2));
    EXPECT_EQ(slurp(d1), "[INFO]  2024-01-10 12:00:00 first day\n");
    EXPECT_EQ(slurp(d2), "[INFO]  2024-01-11 12:00:00 [codex] second day\n");
}

TEST_F(DailyFileSink, DeletesFilesOlderThanRetentionOnRotation) {
    for (const char* old : {"clipal-2024-01-01.log", "clipal-2024-01-02.log", "clipal-2024-01-03.log",
                            "clipal-2024-01-09.log", "notes.txt", "clipal-garbage.log"})
        tmp.write(old, "x\n");
    clipal::log_writer w;
    w.configure(tmp.path().string(), 7, false);
    clipal::logger log(clk, w);
    log.info("", "today is 2024-01-10");
    // Kept: 2024-01-03 (exactly 7 days old) and newer; other people's files are untouched.
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "clipal-2024-01-01.log"));
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "clipal-2024-01-02.log"));
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "clipal-2024-01-03.log"));
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "clipal-2024-01-09.log"));
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "notes.txt"));
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "clipal-garbage.log"));

    // A week later the file of the 10th goes too, without a restart.
    clk.advance(days{8});
    log.info("", "later");
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "clipal-2024-01-03.log"));
    EXPECT_FALSE(std::filesystem::exists(tmp.path() / "clipal-2024-01-10.log"));
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "clipal-2024-01-18.log"));
}

TEST_F(DailyFileSink, RetentionZeroKeepsEverything) {
    tmp.write("clipal-2000-01-01.log", "ancient\n");
    clipal::log_writer w;
    w.configure(tmp.path().string(), 0, false);
    clipal::logger log(clk, w);
    log.info("", "hello");
    clk.advance(days{400});
    log.info("", "hello again");
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "clipal-2000-01-01.log"));
    EXPECT_TRUE(std::filesystem::exists(tmp.path() / "clipal-2024-01-10.log"));
}

TEST_F(DailyFileSink, CreatesTheLogDirectoryOwnerOnly) {
    const auto dir = tmp.path() / "nested" / "logs";
    clipal::log_writer w;
    w.configure(dir.string(), 7, false);
    clipal::logger log(clk, w);
    log.warn("gemini", "made the dir");
    EXPECT_TRUE(std::filesystem::exists(dir / "clipal-2024-01-10.log"));
    const auto perms = std::filesystem::status(dir).permissions();
    EXPECT_EQ(perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all),
              std::filesystem::perms::none);
}

TEST_F(DailyFileSink, ReconfigureMovesToNewDirectory) {
    clipal::log_writer w;
    w.configure((tmp.path() / "a").string(), 7, false);
    clipal::logger log(clk, w);
    log.info("", "in a");
    w.configure((tmp.path() / "b").string(), 7, false);
    log.info("", "in b");
    EXPECT_EQ(slurp(tmp.path() / "a" / "clipal-2024-01-10.log"), "[INFO]  2024-01-10 12:00:00 in a\n");
    EXPECT_EQ(slurp(tmp.path() / "b" / "clipal-2024-01-10.log"), "[INFO]  2024-01-10 12:00:00 in b\n");
}

TEST_F(DailyFileSink, TodaysFileIsOpenBeforeTheFirstLine) {
    // Opening it at configure keeps that work off the first line (often a failover warning
    // written while its request is in flight).
    const auto dir = tmp.path() / "logs";
    const auto today = [] {
        const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::tm tm{};
        localtime_r(&now, &tm);
        return clipal::daily_file_sink::file_name_for(
            std::chrono::year_month_day{std::chrono::year{tm.tm_year + 1900},
                                        std::chrono::month{static_cast<unsigned>(tm.tm_mon + 1)},
                                        std::chrono::day{static_cast<unsigned>(tm.tm_mday)}});
    };
    const auto before = today();
    clipal::log_writer w;
    w.configure(dir.string(), 7, false);
    // Either day when midnight passed meanwhile.
    EXPECT_TRUE(std::filesystem::exists(dir / before) || std::filesystem::exists(dir / today()));
}

TEST(DailyFileSinkName, IsZeroPadded) {
    EXPECT_EQ(clipal::daily_file_sink::file_name_for(2024y / 3 / 5), "clipal-2024-03-05.log");
}
