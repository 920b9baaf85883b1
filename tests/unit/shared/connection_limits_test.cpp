#include "shared/connection_limits.hpp"

#include <gtest/gtest.h>

using clipal::admission;
using clipal::admit;
using clipal::refusal_reserve;

TEST(ConnectionLimits, BelowMaxConnectionsEveryConnectionIsServed) {
    EXPECT_EQ(admit(0, 3), admission::serve);
    EXPECT_EQ(admit(2, 3), admission::serve);
}

TEST(ConnectionLimits, PastMaxConnectionsTheReserveIsAnsweredThenTheRestClosed) {
    EXPECT_EQ(admit(3, 3), admission::refuse);
    EXPECT_EQ(admit(3 + refusal_reserve - 1, 3), admission::refuse);
    EXPECT_EQ(admit(3 + refusal_reserve, 3), admission::drop);
    EXPECT_EQ(admit(1'000'000, 3), admission::drop);
}

TEST(ConnectionLimits, TheLargestLimitDoesNotOverflow) {
    constexpr std::uint64_t most = ~std::uint64_t{0};
    EXPECT_EQ(admit(most - 1, most), admission::serve);
    EXPECT_EQ(admit(most, most), admission::refuse);
}
