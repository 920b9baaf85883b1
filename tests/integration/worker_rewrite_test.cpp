// SPEC §3 request rewrite, judged by what the upstream received (fake-upstream's
// recording): URL join, byte-exact path and query, credentials swapped per profile,
// hop-by-hop headers removed, X-Forwarded-* and Host set, body byte for byte.
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using namespace clipal::test;

// The one request the upstream recorded after `r` came back.
recorded_request only_request(const fake_upstream_process& fu, const http_response& r) {
    EXPECT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    const auto all = fu.requests();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? recorded_request{} : all.back();
}

// No header value anywhere in the request carries `secret`.
void expect_absent(const recorded_request& q, const std::string& secret) {
    for (const auto& [name, value] : q.headers)
        EXPECT_EQ(value.find(secret), std::string::npos) << name << ": " << value;
    EXPECT_EQ(q.target.find(secret), std::string::npos) << q.target;
}

// ---- URL ----

struct join_case {
    const char* label;
    std::string base_path; // appended to the fake provider's origin
    std::string client;    // what the client asks for, prefix included
    std::string upstream;  // what the upstream must see
};

void PrintTo(const join_case& c, std::ostream* os) { *os << c.label; }

class WorkerUrlJoin : public ::testing::TestWithParam<join_case> {};

TEST_P(WorkerUrlJoin, UpstreamSeesBasePathJoinedToTheRestByteForByte) {
    const auto& c = GetParam();
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = {{"a", fu.base_url("a") + c.base_path}}});
    const auto r = w.request("POST", c.client, {{"Content-Type", "application/json"}, {"x-api-key", "k"}}, "{}");
    EXPECT_EQ(only_request(fu, r).target, c.upstream);
}

INSTANTIATE_TEST_SUITE_P(
    Spec, WorkerUrlJoin,
    ::testing::Values(join_case{"rootBase", "", "/claudecode/v1/messages?beta=true", "/v1/messages?beta=true"},
                      join_case{"basePath", "/api", "/claudecode/v1/messages?beta=true", "/api/v1/messages?beta=true"},
                      join_case{"basePathTrailingSlash", "/api/", "/claudecode/v1/messages?beta=true",
                                "/api/v1/messages?beta=true"},
                      join_case{"encodedSlashKept", "/api", "/claudecode/v1/models/a%2Fb?q=x%2Fy&z=%20",
                                "/api/v1/models/a%2Fb?q=x%2Fy&z=%20"},
                      // Dot-segments are refused instead (WorkerFraming.DotSegmentsAfterThePrefixAreRefused).
                      join_case{"doubleSlashesAndDottedNamesKept", "", "/claudecode/v1/.a/b../c//d", "/v1/.a/b../c//d"},
                      join_case{"prefixAlone", "/api", "/claudecode", "/api/"},
                      join_case{"prefixWithQueryOnly", "/api", "/claudecode?x=1", "/api/?x=1"}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(WorkerRewrite, GeminiKeyQueryParameterIsRemovedOthersKept) {
    fake_upstream_process fu(fakes({{"g", "ok"}}));
    worker_process w({.profile = "gemini", .providers = {{"g", fu.base_url("g"), "AIza-provider-key"}}});
    const auto r = w.request("POST", "/gemini/v1beta/models/m:streamGenerateContent?alt=sse&key=client-secret&x=%2F",
                             {{"Content-Type", "application/json"}}, R"({"contents":[]})");
    const auto q = only_request(fu, r);
    EXPECT_EQ(q.target, "/v1beta/models/m:streamGenerateContent?alt=sse&x=%2F");
    EXPECT_EQ(q.header("x-goog-api-key"), "AIza-provider-key");
    expect_absent(q, "client-secret");
}

// ---- credentials per profile ----

struct key_case {
    const char* label;
    std::string profile;
    std::string auth_header; // provider override, "" = the profile's rule
    header_list client_auth; // what the client sends
    std::string want_header; // where the provider key must be
    std::string want_value;
};

void PrintTo(const key_case& c, std::ostream* os) { *os << c.label; }

class WorkerProviderKey : public ::testing::TestWithParam<key_case> {};

TEST_P(WorkerProviderKey, ClientCredentialReplacedByTheProviderKeyInTheRightHeader) {
    const auto& c = GetParam();
    const std::string key = "sk-provider-secret-9876";
    fake_upstream_process fu(fakes({{"p", "ok"}}));
    worker_process w({.profile = c.profile, .providers = {{"p", fu.base_url("p"), key, 0, true, c.auth_header}}});
    const std::string target = c.profile == "claude-code" ? "/claudecode/v1/messages"
                               : c.profile == "codex"     ? "/codex/v1/responses"
                                                          : "/gemini/v1beta/models/m:generateContent";
    header_list h{{"Content-Type", "application/json"}};
    h.insert(h.end(), c.client_auth.begin(), c.client_auth.end());
    const auto q = only_request(fu, w.request("POST", target, h, "{}"));

    EXPECT_EQ(q.header(c.want_header), c.want_value);
    // Exactly one credential header reaches the upstream: the provider's.
    std::size_t carriers = 0;
    for (const auto* name : {"x-api-key", "Authorization", "x-goog-api-key"}) carriers += q.header_count(name);
    EXPECT_EQ(carriers, 1u);
    expect_absent(q, "client-secret");
    // The key never appears in the worker's log.
    EXPECT_EQ(w.log_text().find(key), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Spec, WorkerProviderKey,
    ::testing::Values(
        key_case{"claudeXApiKey",
                 "claude-code",
                 "",
                 {{"x-api-key", "client-secret"}},
                 "x-api-key",
                 "sk-provider-secret-9876"},
        key_case{"claudeBearerStaysBearer",
                 "claude-code",
                 "",
                 {{"Authorization", "Bearer client-secret"}},
                 "Authorization",
                 "Bearer sk-provider-secret-9876"},
        key_case{"claudeBothSentUsesXApiKey",
                 "claude-code",
                 "",
                 {{"x-api-key", "client-secret"}, {"Authorization", "Bearer client-secret"}},
                 "x-api-key",
                 "sk-provider-secret-9876"},
        key_case{"claudeNothingSentUsesXApiKey", "claude-code", "", {}, "x-api-key", "sk-provider-secret-9876"},
        key_case{"claudeForcedXApiKeyBehindAuthToken",
                 "claude-code",
                 "x-api-key",
                 {{"Authorization", "Bearer client-secret"}},
                 "x-api-key",
                 "sk-provider-secret-9876"},
        key_case{"claudeForcedBearer",
                 "claude-code",
                 "bearer",
                 {{"x-api-key", "client-secret"}},
                 "Authorization",
                 "Bearer sk-provider-secret-9876"},
        key_case{"codexBearer",
                 "codex",
                 "",
                 {{"Authorization", "Bearer client-secret"}},
                 "Authorization",
                 "Bearer sk-provider-secret-9876"},
        key_case{"codexNoAuthHeaderGetsBearer", "codex", "", {}, "Authorization", "Bearer sk-provider-secret-9876"},
        key_case{"codexClientXApiKeyDropped",
                 "codex",
                 "",
                 {{"x-api-key", "client-secret"}},
                 "Authorization",
                 "Bearer sk-provider-secret-9876"},
        key_case{"geminiGoogKey",
                 "gemini",
                 "",
                 {{"x-goog-api-key", "client-secret"}},
                 "x-goog-api-key",
                 "sk-provider-secret-9876"},
        key_case{"geminiBearerMechanism",
                 "gemini",
                 "",
                 {{"x-goog-api-key", "client-secret"}, {"Authorization", "Bearer client-secret"}},
                 "x-goog-api-key",
                 "sk-provider-secret-9876"},
        key_case{"geminiForcedBearer",
                 "gemini",
                 "bearer",
                 {{"x-goog-api-key", "client-secret"}},
                 "Authorization",
                 "Bearer sk-provider-secret-9876"}),
    [](const auto& p) { return std::string(p.param.label); });

// ---- headers ----

TEST(WorkerRewrite, HopByHopHeadersRemovedOthersKeptInOrder) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    auto c = w.connect();
    const std::string body = R"({"model":"m","messages":[]})";
    char size_line[16];
    std::snprintf(size_line, sizeof size_line, "%zx", body.size());
    const std::string req = "POST /claudecode/v1/messages?beta=true HTTP/1.1\r\n"
                            "Host: 127.0.0.1:" +
                            std::to_string(w.port()) +
                            "\r\n"
                            "anthropic-version: 2023-06-01\r\n"
                            "anthropic-beta: a-1,b-2\r\n"
                            "X-Repeat: one\r\n"
                            "Connection: keep-alive, X-Drop-Me\r\n"
                            "X-Drop-Me: 1\r\n"
                            "Keep-Alive: timeout=5\r\n"
                            "TE: trailers\r\n"
                            "Trailer: X-Trailer\r\n"
                            "Upgrade: example/1\r\n"
                            "Proxy-Authorization: Basic dXNlcjpwYXNz\r\n"
                            "Proxy-Connection: keep-alive\r\n"
                            "X-Repeat: two\r\n"
                            "x-app: cli\r\n"
                            "Transfer-Encoding: chunked\r\n"
                            "\r\n" +
                            std::string(size_line) + "\r\n" + body + "\r\n0\r\n\r\n";
    ASSERT_TRUE(c.send(req));
    const auto r = c.read_response();
    const auto q = only_request(fu, r);

    for (const auto* gone : {"Connection", "X-Drop-Me", "Keep-Alive", "TE", "Trailer", "Upgrade", "Proxy-Authorization",
                             "Proxy-Connection", "Transfer-Encoding"})
        EXPECT_EQ(q.header_count(gone), 0u) << gone;
    EXPECT_EQ(q.header("anthropic-version"), "2023-06-01");
    EXPECT_EQ(q.header("anthropic-beta"), "a-1,b-2");
    EXPECT_EQ(q.header("x-app"), "cli");
    std::vector<std::string> repeats;
    for (const auto& [name, value] : q.headers)
        if (name == "X-Repeat") repeats.push_back(value);
    EXPECT_EQ(repeats, (std::vector<std::string>{"one", "two"}));
    // The chunked body arrives whole, with a length.
    EXPECT_EQ(q.body, body);
    EXPECT_EQ(q.header("Content-Length"), std::to_string(body.size()));
}

TEST(WorkerRewrite, ForwardedHeadersAndUpstreamHost) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    // A name the user reaches clipal by must be listed (request_guard).
    worker_process w({.providers = {{"a", fu.base_url("a") + "/v1"}}, .global = {"allowed_hosts: [clipal.local]"}});
    const auto q = only_request(fu, w.request("POST", "/claudecode/messages",
                                              {{"Host", "clipal.local:3333"}, {"X-Forwarded-For", "10.1.2.3"}}, "{}"));
    EXPECT_EQ(q.header("Host"), "127.0.0.1:" + std::to_string(fu.port("a")));
    EXPECT_EQ(q.header_count("Host"), 1u);
    EXPECT_EQ(q.header("X-Forwarded-For"), "10.1.2.3, 127.0.0.1");
    EXPECT_EQ(q.header("X-Forwarded-Proto"), "http");
    EXPECT_EQ(q.header("X-Forwarded-Host"), "clipal.local:3333");
}

TEST(WorkerRewrite, ClaudeCodeSizedBodyArrivesByteForByte) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    std::string body = R"({"model":"claude","stream":true,"system":")";
    for (int i = 0; body.size() < 50 * 1024; ++i) body += "line " + std::to_string(i) + " \\u00e9 \\\"quoted\\\" ";
    body += R"(","messages":[]})";
    const auto r = w.request("POST", "/claudecode/v1/messages?beta=true",
                             {{"Content-Type", "application/json"}, {"x-api-key", "k"}}, body);
    const auto q = only_request(fu, r);
    EXPECT_EQ(q.body_length, body.size());
    EXPECT_EQ(q.body, body);
    // The streamed answer is passed through as it came.
    EXPECT_EQ(r.header("Content-Type")->rfind("text/event-stream", 0), 0u);
    EXPECT_NE(r.body.find("event: message_stop"), std::string::npos);
}

TEST(WorkerRewrite, HeadRequestWithoutCredentialIsForwarded) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    auto c = w.connect();
    ASSERT_TRUE(c.send("HEAD /claudecode/api/hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const auto r = c.read_response(5s, true);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    const auto q = fu.requests();
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(q[0].method, "HEAD");
    EXPECT_EQ(q[0].target, "/api/hello");
    // The connection stays usable after a bodyless answer.
    const auto next = c.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, "{}");
    EXPECT_TRUE(next.complete()) << next.error;
    EXPECT_EQ(next.status, 200);
}

TEST(WorkerRewrite, KeepAliveConnectionServesManyRequests) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    auto c = w.connect();
    for (int i = 0; i < 5; ++i) {
        const auto r = c.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, R"({"stream":true})");
        ASSERT_TRUE(r.complete()) << i << " " << r.error;
        EXPECT_EQ(r.status, 200);
    }
    const auto q = fu.requests();
    ASSERT_EQ(q.size(), 5u);
    // The upstream connection is kept alive and reused too.
    EXPECT_EQ(q.back().conn, q.front().conn);
}

TEST(WorkerRewrite, ExpectContinueIsAnsweredByTheWorkerNotForwarded) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                       "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"));
    EXPECT_NE(c.read_until("\r\n\r\n", 5s).find("HTTP/1.1 100 Continue"), std::string::npos);
    ASSERT_TRUE(c.send("{}"));
    const auto q = only_request(fu, c.read_response());
    EXPECT_FALSE(q.header("Expect"));
    EXPECT_EQ(q.body, "{}");
}

const std::string first_request = "POST /claudecode/first HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}";
const std::string second_request = "POST /claudecode/second HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n\r\n{}";

// Reads two echoed answers from `c`: first_request's, then second_request's, both whole.
void expect_first_then_second(http_probe& c) {
    for (const std::string target : {"/first", "/second"}) {
        const auto r = c.read_response();
        ASSERT_TRUE(r.complete()) << r.error;
        const auto echo = parse_json(r.body);
        EXPECT_EQ(echo.at("target").as_string(), target);
        EXPECT_EQ(echo.at("method").as_string(), "POST");
    }
}

TEST(WorkerRewrite, PipelinedRequestsAreAnsweredInOrder) {
    fake_upstream_process fu(fakes({{"a", "echo"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    auto c = w.connect();
    ASSERT_TRUE(c.send(first_request + second_request));
    expect_first_then_second(c);
}

// The next request arrives while the first is still with the upstream: the disconnect
// watch on the client reads its first byte, which must stay part of that request.
TEST(WorkerRewrite, RequestSentDuringTheLastOnesWaitIsAnsweredAfterIt) {
    fake_upstream_process fu(fakes({{"a", "echo;delay=300"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    auto c = w.connect();
    ASSERT_TRUE(c.send(first_request));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.send(second_request));
    expect_first_then_second(c);
    EXPECT_EQ(fu.requests().size(), 2u);
}

// The request of `parts` sent piece by piece, each after a pause, as a slow or segmenting
// client does: what is buffered is parsed at once and the rest read when it comes.
TEST(WorkerRewrite, RequestArrivingInPiecesIsForwardedWhole) {
    fake_upstream_process fu(fakes({{"a", "echo"}}));
    worker_process w({.providers = {{"a", fu.base_url("a")}}});
    const std::vector<std::vector<std::string>> splits = {
        {"POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le", "ngth: 11\r\n\r\n{\"a\":\"bcd\"}"},
        {"POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\n", "{\"a\":\"bcd\"}"},
        {"POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 11\r\n\r\n{\"a\"", ":\"bcd\"}"},
        {"POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":",
         "\r\n6\r\n\"bcd\"}\r\n0\r\n\r\n"},
    };
    auto c = w.connect();
    for (const auto& parts : splits) {
        for (const auto& p : parts) {
            ASSERT_TRUE(c.send(p));
            std::this_thread::sleep_for(50ms);
        }
        const auto r = c.read_response();
        ASSERT_TRUE(r.complete()) << r.error;
        EXPECT_EQ(r.status, 200) << parts.front();
    }
    const auto q = fu.requests();
    ASSERT_EQ(q.size(), splits.size());
    for (std::size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i].body, R"({"a":"bcd"})") << splits[i].front();
}

} // namespace
