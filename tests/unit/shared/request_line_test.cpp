#include "shared/request_line.hpp"

#include <gtest/gtest.h>

#include <string>

namespace clipal {
namespace {

TEST(RequestLine, EmptyLinesBeforeTheRequestLineAreSkipped) {
    EXPECT_EQ(leading_empty_lines("\r\n\r\nGET / HTTP/1.1\r\n"), 4u);
    EXPECT_EQ(leading_empty_lines("GET / HTTP/1.1\r\n"), 0u);
    EXPECT_EQ(leading_empty_lines("\n\r\n"), 3u);
    EXPECT_EQ(first_line("\r\nGET /x HTTP/1.1\r\nHost: a\r\n"), std::optional<std::string_view>("GET /x HTTP/1.1"));
}

TEST(RequestLine, AnIncompleteLineIsNotALineYet) {
    EXPECT_EQ(first_line(""), std::nullopt);
    EXPECT_EQ(first_line("\r\n\r\n"), std::nullopt);
    EXPECT_EQ(first_line("GET /codex/v1/responses HTTP/1.1"), std::nullopt);
    EXPECT_EQ(first_line("GET /codex/v1/responses HTTP/1.1\r"), std::nullopt);
}

TEST(RequestLine, SplitsMethodTargetAndVersion) {
    const auto l = parse_request_line("POST /claudecode/v1/messages?beta=true HTTP/1.1");
    ASSERT_TRUE(l);
    EXPECT_EQ(l->method, "POST");
    EXPECT_EQ(l->target, "/claudecode/v1/messages?beta=true");
    EXPECT_EQ(l->version, "HTTP/1.1");
    EXPECT_EQ(request_target("GET /health HTTP/1.0"), "/health");
}

TEST(RequestLine, AMalformedLineHasNoTarget) {
    EXPECT_EQ(parse_request_line("GET"), std::nullopt);
    EXPECT_EQ(parse_request_line("GET /x"), std::nullopt);
    EXPECT_EQ(request_target("GET /x"), "");
    EXPECT_EQ(request_target(""), "");
    // Two spaces in a row: an empty target, which no route matches.
    EXPECT_EQ(request_target("GET  HTTP/1.1"), "");
}

TEST(RequestLine, AHeadEndsWithItsEmptyLine) {
    EXPECT_EQ(head_length(""), std::nullopt);
    EXPECT_EQ(head_length("GET / HTTP/1.1\r\nHost: a\r\n"), std::nullopt);
    EXPECT_EQ(head_length("GET / HTTP/1.1\r\nHost: a\r\n\r"), std::nullopt);
    EXPECT_EQ(head_length("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 27u);
    EXPECT_EQ(head_length("GET / HTTP/1.0\r\n\r\nbody"), 18u);
    // Empty lines before the request line are neither its end nor part of its length.
    EXPECT_EQ(head_length("\r\n\r\n\r\nGET / HTTP/1.1\r\n"), std::nullopt);
    EXPECT_EQ(head_length("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 27u);
}

TEST(RequestLine, ArbitraryBytesNeverReadOutsideTheInput) {
    std::string bytes;
    for (int i = 0; i < 512; ++i) {
        bytes.push_back(static_cast<char>((i * 37) % 256));
        const auto line = first_line(bytes);
        if (line) {
            EXPECT_LE(line->size(), bytes.size());
            (void)request_target(*line);
        }
    }
}

} // namespace
} // namespace clipal
