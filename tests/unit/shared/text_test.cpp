#include "shared/text.hpp"

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

using clipal::is_utf8;

TEST(Text, Utf8AcceptsAsciiAndEveryEncodingLength) {
    EXPECT_TRUE(is_utf8(""));
    EXPECT_TRUE(is_utf8("backup-1"));
    EXPECT_TRUE(is_utf8("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80"));
    EXPECT_TRUE(is_utf8("\xF4\x8F\xBF\xBF")); // U+10FFFF
    EXPECT_TRUE(is_utf8(std::string_view("a\0b", 3)));
}

// The fuzzer's finding: a provider name like this passed `clipal check` and the worker could
// not read its config ("config is not valid JSON: syntax error").
TEST(Text, Utf8RefusesStrayAndTruncatedBytes) {
    EXPECT_FALSE(is_utf8("go\xC3\x97\xC3\x97\xCB\x7F"));
    EXPECT_FALSE(is_utf8("\x80"));
    EXPECT_FALSE(is_utf8("caf\xC3"));
    EXPECT_FALSE(is_utf8("\xE4\xB8"));
    EXPECT_FALSE(is_utf8("latin-1 \xE9t\xE9"));
}

TEST(Text, Utf8RefusesOverlongSurrogatesAndBeyondUnicode) {
    EXPECT_FALSE(is_utf8("\xC0\xAF"));         // overlong '/'
    EXPECT_FALSE(is_utf8("\xE0\x80\xAF"));     // overlong '/'
    EXPECT_FALSE(is_utf8("\xF0\x80\x80\xAF")); // overlong '/'
    EXPECT_FALSE(is_utf8("\xED\xA0\x80"));     // U+D800
    EXPECT_FALSE(is_utf8("\xF4\x90\x80\x80")); // U+110000
    EXPECT_FALSE(is_utf8("\xFF"));
}

// Every ASCII byte (control characters, DEL, quote, backslash) and UTF-8 text: what
// quoted_literal writes, a JSON parser reads back as the same string.
TEST(Text, QuotedLiteralRoundTripsThroughJson) {
    std::string all;
    for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
    all += "caf\xC3\xA9 \xF0\x9F\x98\x80";
    const auto literal = clipal::quoted_literal(all);
    for (const char c : literal) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20 || c == 0x7f) << literal;
    boost::system::error_code ec;
    const auto v = boost::json::parse(literal, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(std::string_view(v.as_string()), all);
    EXPECT_EQ(clipal::quoted_literal("a\"b\\c\n"), R"("a\"b\\c\n")");
}
