// The fake-upstream script language and request classification, without a process.
#include "support/fake_upstream/canned_responses.hpp"
#include "support/fake_upstream/script.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

namespace {

namespace fu = clipal::test::fake_upstream;
using namespace std::chrono_literals;

TEST(FakeUpstreamScript, StatusStepTakesHeadersBodyAndGzip) {
    const auto s =
        fu::parse_script("status:429;retry-after=2;reset-requests=1m;reset-tokens=20ms;body=openai-rate-limit;gzip");
    ASSERT_EQ(s.steps.size(), 1u);
    const auto& st = s.steps[0];
    EXPECT_EQ(st.kind, fu::step_kind::status);
    EXPECT_EQ(st.status, 429);
    EXPECT_EQ(st.retry_after, "2");
    EXPECT_EQ(st.reset_requests, "1m");
    EXPECT_EQ(st.reset_tokens, "20ms");
    EXPECT_EQ(st.body, fu::body_kind::openai_rate_limit);
    EXPECT_TRUE(st.gzip);
}

TEST(FakeUpstreamScript, RepeatCountsAndLastStepRepeatForever) {
    const auto s = fu::parse_script("status:503*2,reset,ok");
    EXPECT_EQ(s.at(0).status, 503);
    EXPECT_EQ(s.at(1).status, 503);
    EXPECT_EQ(s.at(2).kind, fu::step_kind::reset);
    EXPECT_EQ(s.at(3).kind, fu::step_kind::ok);
    EXPECT_EQ(s.at(1000).kind, fu::step_kind::ok);
}

TEST(FakeUpstreamScript, ArgumentsOfPacingAndStallSteps) {
    const auto s =
        fu::parse_script("sse:5:200,stall-mid,stall-mid:4,bytes:1048576,delay:150,ok;delay=20,redirect:http://h:1/x");
    EXPECT_EQ(s.steps[0].count, 5u);
    EXPECT_EQ(s.steps[0].interval, 200ms);
    EXPECT_EQ(s.steps[1].count, 2u);
    EXPECT_EQ(s.steps[2].count, 4u);
    EXPECT_EQ(s.steps[3].count, 1048576u);
    EXPECT_EQ(s.steps[4].kind, fu::step_kind::ok);
    EXPECT_EQ(s.steps[4].delay, 150ms);
    EXPECT_EQ(s.steps[5].delay, 20ms);
    EXPECT_EQ(s.steps[6].location, "http://h:1/x");
}

TEST(FakeUpstreamScript, InterimOptionListsCodesInOrder) {
    const auto s = fu::parse_script("echo;interim=103+100+102;delay=50,ok;interim=101,ok");
    EXPECT_EQ(s.steps[0].interim, (std::vector<int>{103, 100, 102}));
    EXPECT_EQ(s.steps[0].delay, 50ms);
    EXPECT_EQ(s.steps[1].interim, std::vector<int>{101});
    EXPECT_TRUE(s.steps[2].interim.empty());
    EXPECT_EQ(fu::interim_response(103),
              "HTTP/1.1 103 Early Hints\r\nLink: </hint.css>; rel=preload; as=style\r\n\r\n");
    EXPECT_EQ(fu::interim_response(100), "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST(FakeUpstreamScript, MistakesAreRejectedWithTheStep) {
    for (const char* bad :
         {"", "ok,", "nope", "status", "status:abc", "status:42", "sse:1", "ok*0", "status:500;body=unknown",
          "status:500;colour=red", "ok:1", "ok;interim=200", "ok;interim=99", "ok;interim=103+", "ok;interim=x"}) {
        try {
            fu::parse_script(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const std::invalid_argument& e) {
            EXPECT_FALSE(std::string(e.what()).empty());
        }
    }
}

TEST(FakeUpstreamScript, RequestsAreClassifiedByPathNotQuery) {
    EXPECT_EQ(fu::classify("/v1/messages?beta=true"), fu::api::anthropic_messages);
    EXPECT_EQ(fu::classify("/v1/messages/count_tokens?beta=true"), fu::api::anthropic_count_tokens);
    EXPECT_EQ(fu::classify("/v1/responses"), fu::api::openai_responses);
    EXPECT_EQ(fu::classify("/v1/chat/completions"), fu::api::openai_chat);
    EXPECT_EQ(fu::classify("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"), fu::api::gemini_stream);
    EXPECT_EQ(fu::classify("/v1beta/models/flash:generateContent"), fu::api::gemini_generate);
    EXPECT_EQ(fu::classify("/x?next=/v1/messages"), fu::api::other);
}

TEST(FakeUpstreamScript, PatternDigestCoversExactlyTheRequestedBytes) {
    std::string body(100000, '\0');
    fu::fill_pattern(0, body.data(), body.size());
    EXPECT_EQ(fu::pattern_sha256_hex(body.size()), fu::sha256_hex(body));
    std::string tail(999, '\0');
    fu::fill_pattern(99001, tail.data(), tail.size());
    EXPECT_EQ(tail, body.substr(99001));
    EXPECT_NE(body.substr(0, 65536).substr(8, 64), body.substr(65536, 64)); // no short period
}

} // namespace
