#include "shared/route.hpp"

#include <gtest/gtest.h>

#include <string>

using clipal::has_dot_segment;
using clipal::is_count_tokens;
using clipal::join_target;
using clipal::match_route;
using clipal::profile;

TEST(Route, MatchesEachPrefix) {
    auto m = match_route("/claudecode/v1/messages?beta=true");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, profile::claude_code);
    EXPECT_EQ(m->rest, "/v1/messages?beta=true");
    m = match_route("/codex/v1/responses");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, profile::codex);
    EXPECT_EQ(m->rest, "/v1/responses");
    m = match_route("/gemini/v1beta/models/x:streamGenerateContent?alt=sse");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, profile::gemini);
    EXPECT_EQ(m->rest, "/v1beta/models/x:streamGenerateContent?alt=sse");
}

TEST(Route, BarePrefixBecomesRoot) {
    EXPECT_EQ(match_route("/codex")->rest, "/");
    EXPECT_EQ(match_route("/codex/")->rest, "/");
    EXPECT_EQ(match_route("/codex?x=1")->rest, "/?x=1");
}

TEST(Route, OnlyWholeSegmentsMatch) {
    for (const char* t : {"/codexx", "/codex-v2/x", "/gemini2", "/claude", "/claudecodex/v1", "/", "", "*", "codex/v1",
                          "/CODEX/v1", "http://127.0.0.1/codex/v1", "/health", "/x/codex/v1"})
        EXPECT_FALSE(match_route(t)) << t;
}

TEST(Route, RestIsKeptByteForByte) {
    EXPECT_EQ(match_route("/gemini/v1/a%2Fb/../c//d?x=%20&y")->rest, "/v1/a%2Fb/../c//d?x=%20&y");
}

TEST(JoinTarget, ExactlyOneSlashAtTheJoin) {
    EXPECT_EQ(join_target("", "/v1/messages"), "/v1/messages");
    EXPECT_EQ(join_target("/", "/v1/messages"), "/v1/messages");
    EXPECT_EQ(join_target("/v1", "/responses"), "/v1/responses");
    EXPECT_EQ(join_target("/api/", "/v1/messages"), "/api/v1/messages");
    EXPECT_EQ(join_target("/api", "v1/messages"), "/api/v1/messages");
}

TEST(JoinTarget, RootRest) {
    EXPECT_EQ(join_target("", "/"), "/");
    EXPECT_EQ(join_target("/v1", "/"), "/v1/");
    EXPECT_EQ(join_target("/v1/", "/?x=1"), "/v1/?x=1");
}

TEST(JoinTarget, PathIsNotNormalised) {
    EXPECT_EQ(join_target("/v1", "/a%2Fb/./../c//d"), "/v1/a%2Fb/./../c//d");
    EXPECT_EQ(join_target("/v1", "//x"), "/v1//x");
}

TEST(JoinTarget, QueryIsKeptByteForByte) {
    EXPECT_EQ(join_target("/anthropic", "/v1/messages?beta=true"), "/anthropic/v1/messages?beta=true");
    EXPECT_EQ(join_target("", "/x?a=%2F&b=c+d&&e"), "/x?a=%2F&b=c+d&&e");
    EXPECT_EQ(join_target("", "/x?"), "/x?");
}

TEST(JoinTarget, RemovesKeyParameter) {
    EXPECT_EQ(join_target("/v1beta", "/models/m:streamGenerateContent?alt=sse&key=abc"),
              "/v1beta/models/m:streamGenerateContent?alt=sse");
    EXPECT_EQ(join_target("", "/m?key=abc"), "/m");
    EXPECT_EQ(join_target("", "/m?key=abc&alt=sse"), "/m?alt=sse");
    EXPECT_EQ(join_target("", "/m?a=1&key=abc&b=2"), "/m?a=1&b=2");
    EXPECT_EQ(join_target("", "/m?key&a=1"), "/m?a=1");
    EXPECT_EQ(join_target("", "/m?key=1&key=2"), "/m");
}

TEST(JoinTarget, KeepsParametersThatOnlyLookLikeKey) {
    EXPECT_EQ(join_target("", "/m?apikey=1&key_id=2&monkey=3&Key=4"), "/m?apikey=1&key_id=2&monkey=3&Key=4");
}

TEST(CountTokens, RecognisesThePostOnly) {
    EXPECT_TRUE(is_count_tokens("POST", "/v1/messages/count_tokens"));
    EXPECT_TRUE(is_count_tokens("POST", "/v1/messages/count_tokens?beta=true"));
    EXPECT_FALSE(is_count_tokens("GET", "/v1/messages/count_tokens"));
    EXPECT_FALSE(is_count_tokens("POST", "/v1/messages"));
    EXPECT_FALSE(is_count_tokens("POST", "/v1/messages/count_tokens/x"));
    EXPECT_FALSE(is_count_tokens("POST", "/v1/messages?path=/v1/messages/count_tokens"));
}

TEST(DotSegment, PlainDotSegmentsAnywhereInThePathAreFound) {
    EXPECT_TRUE(has_dot_segment("/../admin"));
    EXPECT_TRUE(has_dot_segment("/v1/../../x"));
    EXPECT_TRUE(has_dot_segment("/./v1/messages"));
    EXPECT_TRUE(has_dot_segment("/v1/.."));
    EXPECT_TRUE(has_dot_segment("/v1/."));
    EXPECT_TRUE(has_dot_segment("/v1/..?a=b"));
    EXPECT_TRUE(has_dot_segment("/v1//../x"));
}

TEST(DotSegment, PercentEncodedAndMixedDotsAreFound) {
    EXPECT_TRUE(has_dot_segment("/%2e%2e/admin"));
    EXPECT_TRUE(has_dot_segment("/%2E%2E/admin"));
    EXPECT_TRUE(has_dot_segment("/.%2e/admin"));
    EXPECT_TRUE(has_dot_segment("/%2e./admin"));
    EXPECT_TRUE(has_dot_segment("/v1/%2e"));
    EXPECT_TRUE(has_dot_segment("/v1/%2E/x"));
}

TEST(DotSegment, EncodedSlashesAndBackslashesEndASegmentToo) {
    EXPECT_TRUE(has_dot_segment("/v1/..%2fadmin"));
    EXPECT_TRUE(has_dot_segment("/v1%2F..%2Fadmin"));
    EXPECT_TRUE(has_dot_segment("/v1\\..\\admin"));
    EXPECT_TRUE(has_dot_segment("/v1/..%5cadmin"));
    EXPECT_TRUE(has_dot_segment("/v1/%2e%2e%5Cadmin"));
}

TEST(DotSegment, DotsInsideNamesAndInTheQueryAreFine) {
    EXPECT_FALSE(has_dot_segment("/"));
    EXPECT_FALSE(has_dot_segment(""));
    EXPECT_FALSE(has_dot_segment("/v1/messages"));
    EXPECT_FALSE(has_dot_segment("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"));
    EXPECT_FALSE(has_dot_segment("/v1/.../x"));
    EXPECT_FALSE(has_dot_segment("/v1/..a/x"));
    EXPECT_FALSE(has_dot_segment("/v1/a../x"));
    EXPECT_FALSE(has_dot_segment("/v1/.well-known"));
    EXPECT_FALSE(has_dot_segment("/v1/%2e%2e%2e"));
    EXPECT_FALSE(has_dot_segment("/v1/%2ex"));
    EXPECT_FALSE(has_dot_segment("/v1/%252e%252e/x")); // decoded once, "%2e%2e" is a name
    EXPECT_FALSE(has_dot_segment("/x?path=/../etc"));
    EXPECT_FALSE(has_dot_segment("/x?.."));
}

TEST(DotSegment, AnIncompleteEscapeAtTheEndIsNoDot) {
    EXPECT_FALSE(has_dot_segment("/v1/%2"));
    EXPECT_FALSE(has_dot_segment("/v1/%"));
    EXPECT_FALSE(has_dot_segment("/v1/..%2"));
    EXPECT_FALSE(has_dot_segment(std::string(100000, '.').insert(0, "/")));
}
