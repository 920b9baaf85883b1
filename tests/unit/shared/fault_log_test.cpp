#include "shared/fault_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace clipal {
namespace {

using namespace std::chrono_literals;

struct capture_backend final : log_backend {
    std::vector<log_record> records;
    void write(const log_record& r) override { records.push_back(r); }
};

class FaultLogTest : public ::testing::Test {
protected:
    manual_clock clock;
    capture_backend lines;
    logger log{clock, lines, log_level::debug};
    fault_log faults{log, 10s};

    bool refuse(std::string_view tag = "gemini") {
        return faults.log(clock.now(), log_level::warn, "refused requests", tag, "refused a request from {}: {}",
                          "127.0.0.1", "its worker is parked");
    }
};

TEST_F(FaultLogTest, AFloodIsOneCompleteLineAndOneSummaryWithTheCount) {
    EXPECT_FALSE(refuse());
    EXPECT_TRUE(refuse()) << "the first counted event asks for a summary";
    for (int i = 0; i < 73000; ++i) EXPECT_FALSE(refuse());
    ASSERT_EQ(lines.records.size(), 1u);
    EXPECT_EQ(lines.records[0].message, "refused a request from 127.0.0.1: its worker is parked");
    EXPECT_EQ(lines.records[0].level, log_level::warn);
    EXPECT_EQ(lines.records[0].tag, "gemini");

    ASSERT_TRUE(faults.next_summary());
    EXPECT_EQ(*faults.next_summary(), clock.now() + 10s);
    clock.advance(9s);
    faults.flush(clock.now());
    EXPECT_EQ(lines.records.size(), 1u) << "not before the window is over";
    clock.advance(1s);
    faults.flush(clock.now());
    ASSERT_EQ(lines.records.size(), 2u);
    EXPECT_EQ(lines.records[1].message, "73001 more refused requests in the 10s after the line above were not logged");
    EXPECT_EQ(lines.records[1].level, log_level::warn);
    EXPECT_FALSE(faults.next_summary());
}

TEST_F(FaultLogTest, KindsAndTagsAreLimitedSeparately) {
    refuse("gemini");
    refuse("codex");
    faults.log(clock.now(), log_level::warn, "malformed requests", "gemini", "malformed request from {}", "::1");
    EXPECT_EQ(lines.records.size(), 3u);
}

TEST_F(FaultLogTest, ASingleEventNeedsNoSummary) {
    refuse();
    EXPECT_FALSE(faults.next_summary());
    clock.advance(1h);
    faults.flush(clock.now());
    EXPECT_EQ(lines.records.size(), 1u);
}

TEST_F(FaultLogTest, ALineAfterTheWindowCarriesACountNoSummaryReported) {
    refuse();
    refuse();
    refuse();
    clock.advance(11s); // the summary timer has not run yet
    refuse();
    ASSERT_EQ(lines.records.size(), 2u);
    EXPECT_EQ(lines.records[1].message,
              "refused a request from 127.0.0.1: its worker is parked (2 more refused requests before this one were "
              "not logged)");
}

TEST_F(FaultLogTest, EventsBelowTheLogLevelAreNeitherLoggedNorCounted) {
    log.set_level(log_level::error);
    EXPECT_FALSE(refuse());
    EXPECT_FALSE(refuse());
    EXPECT_FALSE(faults.next_summary());
    EXPECT_TRUE(lines.records.empty());
}

TEST_F(FaultLogTest, KeysAreRedactedInTheFirstLine) {
    log.set_redactor(std::make_shared<redactor>(std::vector<std::string>{"provider-secret-canary-1234"}));
    faults.log(clock.now(), log_level::warn, "malformed requests", "", "bad header {}",
               "x-api-key: provider-secret-canary-1234");
    ASSERT_EQ(lines.records.size(), 1u);
    EXPECT_EQ(lines.records[0].message.find("secret"), std::string::npos) << lines.records[0].message;
}

} // namespace
} // namespace clipal
