#include "shared/log_burst.hpp"

#include <gtest/gtest.h>

namespace clipal {
namespace {

using namespace std::chrono_literals;

TEST(LogBurst, FirstEventIsLoggedTheRestOfTheWindowCounted) {
    manual_clock c;
    log_burst b(10s);
    EXPECT_TRUE(b.note(c.now()).log);
    for (int i = 0; i < 1000; ++i) {
        c.advance(1ms);
        EXPECT_FALSE(b.note(c.now()).log);
    }
    EXPECT_EQ(b.pending(), 1000u);
}

TEST(LogBurst, TheNextLoggedLineCarriesTheCount) {
    manual_clock c;
    log_burst b(10s);
    (void)b.note(c.now());
    (void)b.note(c.now());
    (void)b.note(c.now());
    c.advance(10s);
    const auto d = b.note(c.now());
    EXPECT_TRUE(d.log);
    EXPECT_EQ(d.suppressed, 2u);
    EXPECT_EQ(b.pending(), 0u);
}

TEST(LogBurst, QuietTimeStartsAFreshBurst) {
    manual_clock c;
    log_burst b(1s);
    EXPECT_TRUE(b.note(c.now()).log);
    c.advance(5min);
    const auto d = b.note(c.now());
    EXPECT_TRUE(d.log);
    EXPECT_EQ(d.suppressed, 0u);
}

TEST(LogBurst, AClockThatStepsBackDoesNotSilenceForever) {
    manual_clock c;
    log_burst b(1s);
    (void)b.note(c.now());
    c.advance(-1h);
    EXPECT_FALSE(b.note(c.now()).log); // within the window as seen from the earlier line
    c.advance(1h + 1s);
    EXPECT_TRUE(b.note(c.now()).log);
}

} // namespace
} // namespace clipal
