// The fake-upstream script language and request classification, without a process.
#include "support/fake_upstream/canned_responses.hpp"
#include "support/fake_upstream/script.hpp"

#include <gtest/gtest.h>

#include <chrono>
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

TEST(FakeUpstreamScript, ForOptionTimesAStepFromTheListenersFirstRequest) {
    const auto s = fu::parse_script("status:503;for=6000,ok");
    ASSERT_EQ(s.steps.size(), 2u);
    EXPECT_EQ(s.steps[0].for_duration, 6000ms);
    const std::chrono::steady_clock::time_point t0{std::chrono::seconds(100)};
    fu::script_position pos;
    // However many requests arrive within 6 s of the first, they all get the 503.
    for (const auto at : {0ms, 1ms, 1200ms, 2400ms, 2400ms, 5999ms}) EXPECT_EQ(s.next(pos, t0 + at, t0).status, 503);
    EXPECT_EQ(s.next(pos, t0 + 6000ms, t0).kind, fu::step_kind::ok);
    EXPECT_EQ(s.next(pos, t0 + 60s, t0).kind, fu::step_kind::ok);
}

TEST(FakeUpstreamScript, ForWindowsFollowEachOtherAndMixWithCountedSteps) {
    const auto s = fu::parse_script("status:500*2,status:503;for=1000,status:502;for=1000,ok");
    const std::chrono::steady_clock::time_point t0{std::chrono::seconds(5)};
    fu::script_position pos;
    EXPECT_EQ(s.next(pos, t0, t0).status, 500);
    EXPECT_EQ(s.next(pos, t0 + 100ms, t0).status, 500);
    // The timed step begins with the request that moved past the counted one (t0 + 3 s).
    EXPECT_EQ(s.next(pos, t0 + 3000ms, t0).status, 503);
    EXPECT_EQ(s.next(pos, t0 + 3999ms, t0).status, 503);
    // 502 began where 503 ended (t0 + 4 s), not at the request that noticed.
    EXPECT_EQ(s.next(pos, t0 + 4500ms, t0).status, 502);
    // A quiet spell longer than a window skips it: 502 ended at t0 + 5 s.
    EXPECT_EQ(s.next(pos, t0 + 5000ms, t0).kind, fu::step_kind::ok);

    // The first step's window starts at the origin (the listener's first request), even for
    // a path script whose own first request comes later.
    const auto t = fu::parse_script("status:503;for=1000,ok");
    fu::script_position late;
    EXPECT_EQ(t.next(late, t0 + 1001ms, t0).kind, fu::step_kind::ok);
    // `for` on the last step changes nothing: it repeats forever.
    const auto last = fu::parse_script("ok,status:503;for=10");
    fu::script_position p2;
    EXPECT_EQ(last.next(p2, t0, t0).kind, fu::step_kind::ok);
    EXPECT_EQ(last.next(p2, t0 + 1h, t0).status, 503);
}

TEST(FakeUpstreamScript, RequestedModelIsTheTopLevelModelOrTheGeminiPathName) {
    EXPECT_EQ(fu::requested_model("/v1/messages", R"({"model":"claude-x","max_tokens":16})"), "claude-x");
    EXPECT_EQ(fu::requested_model("/v1/responses", R"( { "input":[{"model":"inner"}], "model" : "gpt-5" } )"), "gpt-5");
    // Nested models, a "model" string value and a non-string model are not the request's.
    EXPECT_EQ(fu::requested_model("/v1/messages", R"({"metadata":{"model":"nested"},"x":"model"})"), "");
    EXPECT_EQ(fu::requested_model("/v1/messages", R"({"x":"model","y":["model"]})"), "");
    EXPECT_EQ(fu::requested_model("/v1/messages", R"({"model":5})"), "");
    EXPECT_EQ(fu::requested_model("/v1/messages", R"({"model":"a\"b"})"), "");
    EXPECT_EQ(fu::requested_model("/v1/messages", "not json"), "");
    EXPECT_EQ(fu::requested_model("/v1/messages", R"({"a":"\"model\"","model":"m2"})"), "m2");
    EXPECT_EQ(fu::requested_model("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "{}"),
              "gemini-2.5-pro");
    EXPECT_EQ(fu::requested_model("/v1beta/models/flash:generateContent", R"({"model":"ignored"})"), "flash");
}

TEST(FakeUpstreamScript, OkAnswersNameTheRequestedModelAndCarryUsage) {
    const fu::canned_responses dflt("p");
    const fu::canned_responses named("p", "claude-opus-4");
    const auto& a = named.ok(fu::api::anthropic_messages, false, false);
    EXPECT_NE(a.find(R"("model":"claude-opus-4")"), std::string::npos) << a;
    EXPECT_NE(a.find(R"("usage":{"input_tokens":12)"), std::string::npos) << a;
    EXPECT_EQ(a.find("fake-model"), std::string::npos) << a;
    EXPECT_NE(dflt.ok(fu::api::anthropic_messages, false, false).find(R"("model":"fake-model")"), std::string::npos);
    for (const auto api : {fu::api::anthropic_messages, fu::api::openai_responses, fu::api::openai_chat}) {
        EXPECT_EQ(named.ok(api, true, false).find("fake-model"), std::string::npos);
        EXPECT_NE(named.ok(api, true, false).find(R"("model":"claude-opus-4")"), std::string::npos);
        EXPECT_NE(named.ok(api, false, false).find(R"("model":"claude-opus-4")"), std::string::npos);
        EXPECT_NE(named.ok(api, false, false).find(R"(_tokens":)"), std::string::npos) << "no usage";
    }
    EXPECT_NE(named.ok(fu::api::gemini_generate, false, false).find(R"("modelVersion":"claude-opus-4")"),
              std::string::npos);
    EXPECT_NE(dflt.ok(fu::api::gemini_generate, false, false).find(R"("modelVersion":"gemini-fake")"),
              std::string::npos);
}

TEST(FakeUpstreamScript, ContextLengthAndContentFilterBodies) {
    const auto s = fu::parse_script("status:400;body=openai-context-length,status:400;body=anthropic-prompt-too-long,"
                                    "status:400;body=gemini-token-limit,status:400;body=openai-content-filter");
    auto body_of = [](const fu::step& st) {
        const auto r = fu::status_response(st, fu::family::anthropic);
        return r.substr(r.find("\r\n\r\n") + 4);
    };
    EXPECT_EQ(
        body_of(s.steps[0]),
        R"({"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})");
    EXPECT_EQ(
        body_of(s.steps[1]),
        R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}})");
    EXPECT_EQ(
        body_of(s.steps[2]),
        R"({"error":{"code":400,"message":"The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})");
    EXPECT_NE(body_of(s.steps[3]).find(R"("code":"content_policy_violation")"), std::string::npos);
    EXPECT_EQ(fu::status_response(s.steps[3], fu::family::openai).rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
}

TEST(FakeUpstreamScript, MistakesAreRejectedWithTheStep) {
    for (const char* bad :
         {"", "ok,", "nope", "status", "status:abc", "status:42", "sse:1", "ok*0", "status:500;body=unknown",
          "status:500;colour=red", "ok:1", "ok;interim=200", "ok;interim=99", "ok;interim=103+", "ok;interim=x",
          "ok;for=", "ok;for=0", "ok;for=x", "ok;for=100*2"}) {
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
