// The fake-upstream program, run for real and probed over loopback: protocol-shaped
// success answers, scripted failures, pacing, recording, the CONNECT proxy and TLS.
#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/fake_upstream/canned_responses.hpp"
#include "support/fake_upstream_process.hpp"
#include "support/http_probe.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>
#include <zlib.h>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clipal::test::end_kind;
using clipal::test::fake_provider;
using clipal::test::fake_upstream_options;
using clipal::test::fake_upstream_process;
using clipal::test::http_probe;
using clipal::test::http_response;

struct sse_event {
    std::string event;
    std::string data;
};

// Splits an SSE body into events (LF or CRLF line ends).
std::vector<sse_event> parse_sse(const std::string& body) {
    std::vector<sse_event> out;
    sse_event cur;
    bool any = false;
    std::size_t pos = 0;
    while (pos < body.size()) {
        auto eol = body.find('\n', pos);
        if (eol == std::string::npos) eol = body.size();
        std::string line = body.substr(pos, eol - pos);
        pos = eol + 1;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) {
            if (any) out.push_back(cur);
            cur = {};
            any = false;
        } else if (line.rfind("event: ", 0) == 0) {
            cur.event = line.substr(7);
            any = true;
        } else if (line.rfind("data: ", 0) == 0) {
            cur.data = line.substr(6);
            any = true;
        }
    }
    return out;
}

boost::json::value json(const std::string& text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    EXPECT_FALSE(ec) << "not JSON: " << text;
    return v;
}

std::string gunzip(const std::string& data) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 16);
    std::string out(64 * 1024, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    inflateEnd(&zs);
    return rc == Z_STREAM_END ? out : std::string("<bad gzip>");
}

fake_upstream_options one(std::string name, std::string script) {
    fake_upstream_options o;
    o.providers.push_back(fake_provider{std::move(name), std::move(script)});
    return o;
}

http_response post(const fake_upstream_process& fu, const std::string& name, const std::string& target,
                   const std::string& body, std::chrono::milliseconds timeout = 5s) {
    http_probe c("127.0.0.1", fu.port(name));
    return c.request("POST", target, {{"Content-Type", "application/json"}}, body, timeout);
}

// SIGTERM, then the program must exit 0 with no sanitizer report (a sanitizer build checks
// for leaks at exit, so sessions still open then must be freed too).
void expect_clean_stop(fake_upstream_process& fu) {
    const auto st = fu.process().stop();
    EXPECT_TRUE(st.exited_with(0)) << st.describe();
    EXPECT_FALSE(fu.process().has_sanitizer_report()) << fu.process().stderr_text();
}

std::vector<std::string> event_names(const std::vector<sse_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.event);
    return out;
}

// ---- ok: protocol-shaped answers ----

TEST(FakeUpstream, AnthropicStreamHasTheRealEventSequence) {
    fake_upstream_process fu(one("alpha", "ok"));
    const auto r = post(fu, "alpha", "/v1/messages?beta=true", R"({"model":"m","stream": true,"messages":[]})");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type")->rfind("text/event-stream", 0), 0u);
    EXPECT_EQ(r.header("Transfer-Encoding"), "chunked");
    const auto events = parse_sse(r.body);
    EXPECT_EQ(event_names(events),
              (std::vector<std::string>{"message_start", "content_block_start", "ping", "content_block_delta",
                                        "content_block_stop", "message_delta", "message_stop"}));
    for (const auto& e : events) EXPECT_EQ(json(e.data).at("type").as_string(), e.event);
    EXPECT_EQ(json(events[3].data).at("delta").at("text").as_string(), "Hello from alpha");
    expect_clean_stop(fu);
}

TEST(FakeUpstream, AnthropicJsonMessageAndCountTokens) {
    fake_upstream_process fu(one("alpha", "ok"));
    const auto r = post(fu, "alpha", "/v1/messages", R"({"model":"m","messages":[]})");
    ASSERT_TRUE(r.complete()) << r.error;
    const auto v = json(r.body);
    EXPECT_EQ(v.at("type").as_string(), "message");
    EXPECT_EQ(v.at("content").at(0).at("text").as_string(), "Hello from alpha");

    const auto t = post(fu, "alpha", "/v1/messages/count_tokens", std::string(400, 'x'));
    ASSERT_TRUE(t.complete()) << t.error;
    EXPECT_GT(json(t.body).at("input_tokens").as_int64(), 0);
}

TEST(FakeUpstream, ResponsesStreamEndsWithCompleted) {
    fake_upstream_process fu(one("beta", "ok"));
    const auto r = post(fu, "beta", "/v1/responses", R"({"model":"m","stream":true,"input":"hi"})");
    ASSERT_TRUE(r.complete()) << r.error;
    const auto events = parse_sse(r.body);
    const auto names = event_names(events);
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names.front(), "response.created");
    EXPECT_EQ(names.back(), "response.completed");
    for (const auto* want : {"response.output_item.added", "response.output_text.delta", "response.output_text.done",
                             "response.output_item.done"})
        EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto v = json(events[i].data);
        EXPECT_EQ(v.at("type").as_string(), events[i].event);
        EXPECT_EQ(v.at("sequence_number").as_int64(), static_cast<std::int64_t>(i));
    }
    const auto done = json(events.back().data);
    EXPECT_EQ(done.at("response").at("status").as_string(), "completed");
    EXPECT_EQ(done.at("response").at("output").at(0).at("content").at(0).at("text").as_string(), "Hello from beta");
}

TEST(FakeUpstream, ChatCompletionsStreamEndsWithDone) {
    fake_upstream_process fu(one("c", "ok"));
    const auto r = post(fu, "c", "/v1/chat/completions", R"({"stream":true})");
    ASSERT_TRUE(r.complete()) << r.error;
    const auto events = parse_sse(r.body);
    ASSERT_GE(events.size(), 2u);
    EXPECT_EQ(events.back().data, "[DONE]");
    EXPECT_EQ(json(events[1].data).at("choices").at(0).at("delta").at("content").as_string(), "Hello from c");
    const auto j = post(fu, "c", "/v1/chat/completions", "{}");
    EXPECT_EQ(json(j.body).at("choices").at(0).at("message").at("content").as_string(), "Hello from c");
}

TEST(FakeUpstream, GeminiGenerateStreamAndJsonMode) {
    fake_upstream_process fu(one("g", "ok"));
    const auto plain = post(fu, "g", "/v1beta/models/gemini-x:generateContent", R"({"contents":[]})");
    ASSERT_TRUE(plain.complete()) << plain.error;
    EXPECT_EQ(json(plain.body).at("candidates").at(0).at("content").at("parts").at(0).at("text").as_string(),
              "Hello from g");

    const auto routed = post(fu, "g", "/v1beta/models/flash:generateContent",
                             R"({"generationConfig":{"responseMimeType":"application/json"}})");
    const auto text = json(routed.body).at("candidates").at(0).at("content").at("parts").at(0).at("text").as_string();
    EXPECT_EQ(json(std::string(text)).at("model_choice").as_string(), "flash");

    const auto sse = post(fu, "g", "/v1beta/models/gemini-x:streamGenerateContent?alt=sse", R"({"contents":[]})");
    ASSERT_TRUE(sse.complete()) << sse.error;
    EXPECT_EQ(sse.header("Content-Type"), "text/event-stream");
    const auto events = parse_sse(sse.body);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(json(events[0].data).at("candidates").at(0).at("content").at("parts").at(0).at("text").as_string(),
              "Hello from g");
    EXPECT_EQ(json(events[1].data).at("candidates").at(0).at("finishReason").as_string(), "STOP");
}

TEST(FakeUpstream, OkAnswersEchoTheRequestedModelWithUsage) {
    fake_upstream_process fu(one("m", "ok"));
    const auto a =
        json(post(fu, "m", "/v1/messages", R"({"model":"claude-opus-4","max_tokens":8,"messages":[]})").body);
    EXPECT_EQ(a.at("model").as_string(), "claude-opus-4");
    EXPECT_EQ(a.at("usage").at("output_tokens").as_int64(), 5);
    // Streams name it in every event that carries a model.
    const auto s = post(fu, "m", "/v1/messages", R"({"stream":true,"model":"claude-sonnet-4","messages":[]})");
    const auto events = parse_sse(s.body);
    ASSERT_FALSE(events.empty()) << s.body;
    EXPECT_EQ(json(events[0].data).at("message").at("model").as_string(), "claude-sonnet-4");
    EXPECT_EQ(json(events[0].data).at("message").at("usage").at("input_tokens").as_int64(), 12);
    const auto r = json(post(fu, "m", "/v1/responses", R"({"model":"gpt-5-codex","input":"hi"})").body);
    EXPECT_EQ(r.at("model").as_string(), "gpt-5-codex");
    EXPECT_EQ(r.at("usage").at("total_tokens").as_int64(), 17);
    const auto c = json(post(fu, "m", "/v1/chat/completions", R"({"model":"gpt-4o"})").body);
    EXPECT_EQ(c.at("model").as_string(), "gpt-4o");
    EXPECT_EQ(c.at("usage").at("total_tokens").as_int64(), 17);
    const auto g = json(post(fu, "m", "/v1beta/models/gemini-2.5-pro:generateContent", R"({"contents":[]})").body);
    EXPECT_EQ(g.at("modelVersion").as_string(), "gemini-2.5-pro");
    EXPECT_EQ(g.at("usageMetadata").at("totalTokenCount").as_int64(), 17);
    // No model: the default name.
    EXPECT_EQ(json(post(fu, "m", "/v1/messages", R"({"messages":[]})").body).at("model").as_string(), "fake-model");
    expect_clean_stop(fu);
}

TEST(FakeUpstream, HeadAndGetAnswerOkWithoutBodyForHead) {
    fake_upstream_process fu(one("a", "ok"));
    http_probe c("127.0.0.1", fu.port("a"));
    const auto head = c.request("HEAD", "/api/hello");
    ASSERT_TRUE(head.complete()) << head.error;
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
    const auto get = c.request("GET", "/anything"); // same connection: HEAD left no stray body
    ASSERT_TRUE(get.complete()) << get.error;
    EXPECT_EQ(get.body, R"({"ok":true})");
}

TEST(FakeUpstream, ExpectContinueIsAnsweredBeforeTheBody) {
    fake_upstream_process fu(one("a", "echo"));
    http_probe c("127.0.0.1", fu.port("a"));
    ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
    EXPECT_NE(c.read_until("\r\n\r\n", 2s).find("HTTP/1.1 100 Continue"), std::string::npos);
    ASSERT_TRUE(c.send("abc"));
    const auto r = c.read_response(5s);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(json(r.body).at("body_length").as_int64(), 3);
}

TEST(FakeUpstream, InterimHeadsComeBeforeTheDelayedAnswer) {
    fake_upstream_process fu(one("a", "echo;interim=103+100;delay=100"));
    http_probe c("127.0.0.1", fu.port("a"));
    ASSERT_TRUE(c.send("POST /v1/messages HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"));
    // Both interim heads arrive before the answer, which waits for the delay.
    const auto interim = c.read_until("HTTP/1.1 100 Continue\r\n\r\n", 2s);
    EXPECT_EQ(interim.rfind("HTTP/1.1 103 Early Hints\r\nLink: ", 0), 0u) << interim;
    EXPECT_EQ(interim.find("HTTP/1.1 200"), std::string::npos) << interim;
    const auto r = c.read_response(5s);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(json(r.body).at("body_length").as_int64(), 2);
}

TEST(FakeUpstream, WebSocketUpgradeIsRefusedWithoutUsingAStep) {
    fake_upstream_process fu(one("a", "status:503,ok"));
    http_probe c("127.0.0.1", fu.port("a"));
    const auto ws = c.request("GET", "/v1/responses",
                              {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Version", "13"}});
    ASSERT_TRUE(ws.complete()) << ws.error;
    EXPECT_EQ(ws.status, 426);
    http_probe d("127.0.0.1", fu.port("a"));
    EXPECT_EQ(d.request("POST", "/v1/responses", {}, "{}").status, 503);
    EXPECT_EQ(d.request("POST", "/v1/responses", {}, "{}").status, 200);
}

// ---- scripted failures ----

TEST(FakeUpstream, StatusStepCarriesRateLimitHeadersAndGzipBody) {
    fake_upstream_process fu(
        one("o",
            "status:429;retry-after=7;reset-requests=1m30s;reset-tokens=20ms;body=openai-insufficient-quota;gzip"));
    const auto r = post(fu, "o", "/v1/responses", "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.header("Retry-After"), "7");
    EXPECT_EQ(r.header("X-RateLimit-Reset-Requests"), "1m30s");
    EXPECT_EQ(r.header("X-RateLimit-Reset-Tokens"), "20ms");
    EXPECT_EQ(r.header("Content-Encoding"), "gzip");
    EXPECT_EQ(json(gunzip(r.body)).at("error").at("code").as_string(), "insufficient_quota");
}

TEST(FakeUpstream, DefaultErrorBodyFollowsTheRequestProtocol) {
    fake_upstream_process fu(one("e", "status:503"));
    const auto anthropic = json(post(fu, "e", "/v1/messages", "{}").body);
    EXPECT_EQ(anthropic.at("type").as_string(), "error");
    EXPECT_TRUE(anthropic.at("error").at("message").is_string());
    const auto gemini = json(post(fu, "e", "/v1beta/models/x:generateContent", "{}").body);
    EXPECT_EQ(gemini.at("error").at("status").as_string(), "UNAVAILABLE");
    EXPECT_EQ(gemini.at("error").at("code").as_int64(), 503);
    const auto openai = json(post(fu, "e", "/v1/responses", "{}").body);
    EXPECT_EQ(openai.at("error").at("type").as_string(), "server_error");
}

TEST(FakeUpstream, TextBodyIsNotJson) {
    fake_upstream_process fu(one("e", "status:502;body=text"));
    const auto r = post(fu, "e", "/v1/messages", "{}");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.header("Content-Type")->rfind("text/plain", 0), 0u);
    boost::system::error_code ec;
    boost::json::parse(r.body, ec);
    EXPECT_TRUE(ec);
}

TEST(FakeUpstream, StepsRunInOrderWithRepeatsAndTheLastRepeats) {
    fake_upstream_process fu(one("s", "status:500*2,status:529,ok"));
    http_probe c("127.0.0.1", fu.port("s"));
    std::vector<int> statuses;
    for (int i = 0; i < 5; ++i) statuses.push_back(c.request("POST", "/v1/messages", {}, "{}").status);
    EXPECT_EQ(statuses, (std::vector<int>{500, 500, 529, 200, 200}));
}

TEST(FakeUpstream, PathScriptHasItsOwnCounter) {
    fake_upstream_options o;
    o.providers.push_back(fake_provider{"p", "ok", {{"count_tokens", "status:529"}}});
    fake_upstream_process fu(o);
    EXPECT_EQ(post(fu, "p", "/v1/messages/count_tokens", "{}").status, 529);
    EXPECT_EQ(post(fu, "p", "/v1/messages", "{}").status, 200);
    EXPECT_EQ(post(fu, "p", "/v1/messages/count_tokens", "{}").status, 529);
}

TEST(FakeUpstream, SseEventsArriveAtTheScriptedInterval) {
    fake_upstream_process fu(one("t", "sse:4:200"));
    const auto r = post(fu, "t", "/v1/messages", "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(parse_sse(r.body).size(), 4u);
    const auto times = r.arrival_times_of("\n\n");
    ASSERT_EQ(times.size(), 4u);
    for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GE(times[i] - times[i - 1], 150ms) << i;
    expect_clean_stop(fu);
}

TEST(FakeUpstream, BytesBodyMatchesItsAnnouncedDigest) {
    fake_upstream_process fu(one("b", "bytes:3000001"));
    const auto r = post(fu, "b", "/download", "");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.body.size(), 3000001u);
    EXPECT_EQ(r.header("X-Body-Sha256"), clipal::test::fake_upstream::sha256_hex(r.body));
    expect_clean_stop(fu);
}

TEST(FakeUpstream, StallHeadersNeverAnswers) {
    fake_upstream_process fu(one("s", "stall-headers"));
    const auto r = post(fu, "s", "/v1/messages", "{}", 400ms);
    EXPECT_EQ(r.end, end_kind::timed_out);
    EXPECT_EQ(r.status, 0);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, StallBodySendsHeadThenNothing) {
    fake_upstream_process fu(one("s", "stall-body"));
    const auto r = post(fu, "s", "/v1/messages", R"({"stream":true})", 400ms);
    EXPECT_EQ(r.end, end_kind::timed_out);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.body.empty());
    expect_clean_stop(fu);
}

TEST(FakeUpstream, StallMidSendsSomeEventsThenNothing) {
    fake_upstream_process fu(one("s", "stall-mid:3"));
    const auto r = post(fu, "s", "/v1/messages", R"({"stream":true})", 400ms);
    EXPECT_EQ(r.end, end_kind::timed_out);
    const auto events = parse_sse(r.body);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].event, "message_start");
    expect_clean_stop(fu);
}

TEST(FakeUpstream, ResetAbortsTheConnection) {
    fake_upstream_process fu(one("r", "reset"));
    const auto r = post(fu, "r", "/v1/messages", "{}");
    EXPECT_EQ(r.end, end_kind::reset) << clipal::test::to_string(r.end);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, CloseMidEndsCleanlyButIncomplete) {
    fake_upstream_process fu(one("c", "close-mid"));
    const auto r = post(fu, "c", "/v1/messages", "{}");
    EXPECT_EQ(r.end, end_kind::closed_early) << clipal::test::to_string(r.end);
    EXPECT_EQ(r.body.size(), 500u);
}

TEST(FakeUpstream, BadFramingIsMalformedForTheClient) {
    fake_upstream_process fu(one("f", "bad-framing"));
    const auto r = post(fu, "f", "/v1/messages", "{}");
    EXPECT_EQ(r.end, end_kind::malformed) << clipal::test::to_string(r.end);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, HugeHeadersSendsAMebibyteHead) {
    fake_upstream_process fu(one("h", "huge-headers"));
    const auto r = post(fu, "h", "/v1/messages", "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_GE(r.raw_bytes, 1u << 20);
    EXPECT_EQ(r.header_count("X-Filler"), 128u);
}

TEST(FakeUpstream, RedirectAndEcho) {
    fake_upstream_process fu(one("r", "redirect:http://127.0.0.1:1/elsewhere,echo"));
    http_probe c("127.0.0.1", fu.port("r"));
    const auto redirect = c.request("GET", "/v1/models");
    EXPECT_EQ(redirect.status, 302);
    EXPECT_EQ(redirect.header("Location"), "http://127.0.0.1:1/elsewhere");
    const auto echo = c.request("POST", "/v1/x?y=%2F", {{"X-Test", "1"}}, "abc");
    const auto v = json(echo.body);
    EXPECT_EQ(v.at("target").as_string(), "/v1/x?y=%2F");
    EXPECT_EQ(v.at("body_length").as_int64(), 3);
}

TEST(FakeUpstream, RefuseStopsListening) {
    fake_upstream_process fu(one("r", "ok,refuse"));
    EXPECT_EQ(post(fu, "r", "/v1/messages", "{}").status, 200);
    EXPECT_FALSE(post(fu, "r", "/v1/messages", "{}").complete());
    http_probe late;
    EXPECT_FALSE(late.connect("127.0.0.1", fu.port("r"), 2s));
    expect_clean_stop(fu);
}

TEST(FakeUpstream, RefuseFirstNeverAccepts) {
    fake_upstream_process fu(one("r", "refuse"));
    http_probe c;
    EXPECT_FALSE(c.connect("127.0.0.1", fu.port("r"), 2s));
}

TEST(FakeUpstream, ForStepLastsItsTimeFromTheFirstRequestWhateverTheCount) {
    fake_upstream_process fu(one("f", "status:503;for=700,ok"));
    http_probe c("127.0.0.1", fu.port("f"));
    const auto start = std::chrono::steady_clock::now();
    std::vector<int> early;
    for (int i = 0; i < 4; ++i) early.push_back(c.request("POST", "/v1/messages", {}, "{}").status);
    // Well within the window (loopback requests take a millisecond or so).
    ASSERT_LT(std::chrono::steady_clock::now() - start, 600ms);
    EXPECT_EQ(early, (std::vector<int>{503, 503, 503, 503}));
    std::this_thread::sleep_until(start + 800ms);
    EXPECT_EQ(c.request("POST", "/v1/messages", {}, "{}").status, 200);
    EXPECT_EQ(post(fu, "f", "/v1/messages", "{}").status, 200);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, ContextLengthAndContentFilterBodiesComeWithTheirStatus) {
    fake_upstream_process fu(one("e", "status:400;body=openai-context-length,status:400;body=anthropic-prompt-too-long,"
                                      "status:400;body=gemini-token-limit,status:400;body=openai-content-filter"));
    const auto o = post(fu, "e", "/v1/responses", "{}");
    EXPECT_EQ(o.status, 400);
    EXPECT_EQ(json(o.body).at("error").at("code").as_string(), "context_length_exceeded");
    const auto a = post(fu, "e", "/v1/messages", "{}");
    EXPECT_EQ(a.status, 400);
    EXPECT_EQ(json(a.body).at("error").at("message").as_string(), "prompt is too long: 215000 tokens > 200000 maximum");
    const auto g = post(fu, "e", "/v1beta/models/x:generateContent", "{}");
    EXPECT_EQ(g.status, 400);
    EXPECT_EQ(json(g.body).at("error").at("status").as_string(), "INVALID_ARGUMENT");
    const auto f = post(fu, "e", "/v1/responses", "{}");
    EXPECT_EQ(f.status, 400);
    EXPECT_EQ(json(f.body).at("error").at("code").as_string(), "content_policy_violation");
}

TEST(FakeUpstream, DelayHoldsTheAnswer) {
    fake_upstream_process fu(one("d", "delay:300"));
    const auto r = post(fu, "d", "/v1/messages", "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_GE(r.head_at - r.sent_at, 250ms);
}

// ---- recording ----

TEST(FakeUpstream, RecordsEveryRequestWithHeadersBodyAndConnection) {
    fake_upstream_options o;
    o.providers = {fake_provider{"a"}, fake_provider{"b", "status:401;body=anthropic-auth"}};
    fake_upstream_process fu(o);
    http_probe c("127.0.0.1", fu.port("a"));
    EXPECT_EQ(c.request("POST", "/v1/messages?beta=true", {{"x-api-key", "sk-test"}}, R"({"n":1})").status, 200);
    EXPECT_EQ(c.request("POST", "/v1/messages", {}, R"({"n":2})").status, 200);
    EXPECT_EQ(post(fu, "b", "/v1/messages", "{}").status, 401);
    ASSERT_TRUE(fu.wait_for_requests(3, 5s));
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].target, "/v1/messages?beta=true");
    EXPECT_EQ(a[0].header("X-API-KEY"), "sk-test");
    EXPECT_EQ(a[0].body, R"({"n":1})");
    EXPECT_EQ(a[0].body_length, 7u);
    EXPECT_EQ(a[0].conn, a[1].conn);
    EXPECT_EQ(a[1].seq, 1u);
    const auto b = fu.requests("b");
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(b[0].step, "status");
    // Arrival times in ms since the program started, one clock for every listener.
    EXPECT_GE(a[0].t_ms, 0);
    EXPECT_LE(a[0].t_ms, a[1].t_ms);
    EXPECT_LE(a[1].t_ms, b[0].t_ms);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, RecordedArrivalTimesMatchTheGapsBetweenRequests) {
    fake_upstream_process fu(one("t", "ok"));
    const auto first_sent = std::chrono::steady_clock::now();
    EXPECT_EQ(post(fu, "t", "/v1/messages", "{}").status, 200);
    const auto first_done = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(300ms);
    const auto second_sent = std::chrono::steady_clock::now();
    EXPECT_EQ(post(fu, "t", "/v1/messages", "{}").status, 200);
    const auto second_done = std::chrono::steady_clock::now();
    ASSERT_TRUE(fu.wait_for_requests(2, 5s));
    const auto q = fu.requests("t");
    ASSERT_EQ(q.size(), 2u);
    const auto gap = q[1].t_ms - q[0].t_ms;
    // Each arrived after it was sent and before its answer came back.
    using ms = std::chrono::milliseconds;
    EXPECT_GE(gap, std::chrono::duration_cast<ms>(second_sent - first_done).count() - 1);
    EXPECT_LE(gap, std::chrono::duration_cast<ms>(second_done - first_sent).count() + 1);
    EXPECT_GE(gap, 299);
}

// ---- process control ----

TEST(FakeUpstream, ExitsOnSigtermAndOnStdinEof) {
    fake_upstream_process by_signal(one("a", "ok"));
    by_signal.process().signal(SIGTERM);
    auto st = by_signal.process().wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->exited_with(0)) << st->describe();

    fake_upstream_process by_eof(one("a", "ok"));
    by_eof.process().close_stdin();
    st = by_eof.process().wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->exited_with(0)) << st->describe();
}

TEST(FakeUpstream, BadScriptIsAUsageError) {
    clipal::test::child_process p(clipal::test::fake_upstream_binary(),
                                  {.args = {"--listen", "127.0.0.1:0", "--script", "status:abc"}});
    const auto st = p.wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->exited_with(64)) << st->describe();
    EXPECT_NE(p.stderr_text().find("status:abc"), std::string::npos) << p.stderr_text();
}

// ---- CONNECT proxy ----

TEST(FakeUpstream, ConnectProxySplicesBytesToTheTarget) {
    fake_upstream_options o = one("a", "ok");
    o.connect_proxy = true;
    fake_upstream_process fu(o);
    http_probe c("127.0.0.1", fu.proxy_port());
    const std::string target = "127.0.0.1:" + std::to_string(fu.port("a"));
    ASSERT_TRUE(c.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"));
    const auto established = c.read_response(5s, true);
    ASSERT_TRUE(established.complete()) << established.error;
    EXPECT_EQ(established.status, 200);
    const auto r = c.request("POST", "/v1/messages", {}, R"({"stream":true})");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_NE(r.body.find("Hello from a"), std::string::npos);
    ASSERT_TRUE(fu.wait_for_requests(1, 5s, "proxy"));
    const auto rec = fu.requests("proxy");
    EXPECT_EQ(rec[0].method, "CONNECT");
    EXPECT_EQ(rec[0].target, target);
    EXPECT_EQ(rec[0].status, 200);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, ConnectProxyDemandsItsCredentials) {
    fake_upstream_options o = one("a", "ok");
    o.connect_proxy = true;
    o.proxy_auth = "user:secret";
    fake_upstream_process fu(o);
    const std::string target = "127.0.0.1:" + std::to_string(fu.port("a"));

    http_probe anonymous("127.0.0.1", fu.proxy_port());
    ASSERT_TRUE(anonymous.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n"));
    const auto denied = anonymous.read_response(5s);
    EXPECT_EQ(denied.status, 407);
    EXPECT_TRUE(denied.header("Proxy-Authenticate"));

    http_probe authed("127.0.0.1", fu.proxy_port());
    // base64("user:secret")
    ASSERT_TRUE(authed.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target +
                            "\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n"));
    EXPECT_EQ(authed.read_response(5s, true).status, 200);
    ASSERT_TRUE(fu.wait_for_requests(2, 5s, "proxy"));
    const auto rec = fu.requests("proxy");
    EXPECT_EQ(rec[0].status, 407);
    EXPECT_EQ(rec[1].header("Proxy-Authorization"), "Basic dXNlcjpzZWNyZXQ=");
}

// ---- TLS ----

// Fetches GET / over TLS trusting only `ca`; returns the status or the handshake error.
std::string tls_get(std::uint16_t port, const std::filesystem::path& ca) {
    namespace net = boost::asio;
    namespace http = boost::beast::http;
    net::io_context ioc;
    net::ssl::context ctx(net::ssl::context::tls_client);
    ctx.load_verify_file(ca.string());
    ctx.set_verify_mode(net::ssl::verify_peer);
    net::ssl::stream<net::ip::tcp::socket> stream(ioc, ctx);
    stream.set_verify_callback(net::ssl::host_name_verification("localhost"));
    SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
    std::string result = "timeout";
    boost::beast::flat_buffer buf;
    http::request<http::empty_body> req{http::verb::get, "/", 11};
    req.set(http::field::host, "localhost");
    http::response<http::string_body> res;
    stream.next_layer().async_connect({net::ip::make_address("127.0.0.1"), port}, [&](boost::system::error_code ec) {
        if (ec) return void(result = "connect: " + ec.message());
        stream.async_handshake(net::ssl::stream_base::client, [&](boost::system::error_code hec) {
            if (hec) return void(result = "handshake: " + hec.message());
            http::async_write(stream, req, [&](boost::system::error_code wec, std::size_t) {
                if (wec) return void(result = "write: " + wec.message());
                http::async_read(stream, buf, res, [&](boost::system::error_code rec, std::size_t) {
                    result = rec ? "read: " + rec.message() : std::to_string(res.result_int());
                });
            });
        });
    });
    ioc.run_for(5s);
    return result;
}

TEST(FakeUpstream, TlsListenerIsTrustedThroughTheTestCa) {
    clipal::test::temp_dir dir;
    const auto pki = clipal::test::make_test_pki(dir.path());
    fake_upstream_options o = one("s", "ok");
    o.tls = &pki;
    fake_upstream_process fu(o);
    EXPECT_EQ(fu.base_url("s").rfind("https://127.0.0.1:", 0), 0u);
    EXPECT_EQ(tls_get(fu.port("s"), pki.ca_cert), "200");
    ASSERT_TRUE(fu.wait_for_requests(1, 5s));
    EXPECT_TRUE(fu.requests()[0].tls);
    expect_clean_stop(fu);
}

TEST(FakeUpstream, SelfSignedTlsListenerFailsVerification) {
    clipal::test::temp_dir dir;
    const auto pki = clipal::test::make_test_pki(dir.path());
    fake_upstream_options o = one("s", "ok");
    o.tls = &pki;
    o.tls_self_signed = true;
    fake_upstream_process fu(o);
    EXPECT_EQ(tls_get(fu.port("s"), pki.ca_cert).rfind("handshake:", 0), 0u);
}

} // namespace
