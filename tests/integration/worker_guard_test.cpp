// Who may use the keys, against the real worker (shared/request_guard): a foreign Host (DNS
// rebinding) and a browser Origin get the protocol's 403, a missing or wrong access_token
// the protocol's 401, and none of them reaches the upstream; the client's token and its
// ?key= never reach the upstream or the log.
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

const std::string messages_body = R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";
const std::string access_token = "clipal-access-canary-7c2e9a0b4f1d6e83";

http_response post_message(const worker_process& w, const header_list& headers) {
    header_list h{{"Content-Type", "application/json"}, {"anthropic-version", "2023-06-01"}};
    h.insert(h.end(), headers.begin(), headers.end());
    return w.request("POST", "/claudecode/v1/messages", h, messages_body);
}

// A refusal: the status, the protocol's JSON error, and nothing forwarded. The request
// would have reached the upstream before its answer, so the recording is final by now.
void expect_refused(const fake_upstream_process& fu, const http_response& r, int status, std::string_view type) {
    EXPECT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_TRUE(fu.requests().empty()) << "the upstream received a refused request: " << fu.requests().front().target;
    const auto body = parse_json(r.body);
    const auto* error_value = body.is_object() ? body.as_object().if_contains("error") : nullptr;
    ASSERT_TRUE(error_value && error_value->is_object()) << r.body;
    const auto& error = error_value->as_object();
    const auto& kind = error.contains("type") ? error.at("type") : error.at("status"); // Gemini: status
    EXPECT_EQ(kind, boost::json::value(type)) << r.body;
}

TEST(WorkerGuard, ForeignHostIsRefusedAndNothingIsForwarded) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    // What a page on evil.example sends after its name was rebound to 127.0.0.1.
    const auto r = post_message(w, {{"Host", "evil.example:3333"}, {"x-api-key", "any"}});
    expect_refused(fu, r, 403, "permission_error");
    EXPECT_NE(r.body.find("allowed_hosts"), std::string::npos) << r.body;
    EXPECT_TRUE(w.wait_for_log("refused: Host \"evil.example:3333\" is not allowed")) << w.log_text();
    // The refusal loses nothing else: the next request is served.
    EXPECT_TRUE(answered_by(claude_message(w), "a"));
}

TEST(WorkerGuard, AFloodOfRefusedRequestsIsOneLinePerKind) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    // A page (or a rebound name) hammering the port: each refused, the log stays one line
    // per kind within the 10 s window whatever Host or Origin each request names.
    for (int i = 0; i < 40; ++i) {
        expect_refused(fu, post_message(w, {{"Host", "evil" + std::to_string(i) + ".example"}}), 403,
                       "permission_error");
        expect_refused(fu, post_message(w, {{"Origin", "http://evil" + std::to_string(i) + ".example"}}), 403,
                       "permission_error");
    }
    // Log lines are written in order: once this request's line is there, all earlier ones are.
    ASSERT_TRUE(answered_by(claude_message(w), "a"));
    ASSERT_TRUE(w.wait_for_log("request completed via a")) << w.log_text();
    const auto log = w.log_text();
    std::size_t hosts = 0, origins = 0;
    for (auto at = log.find("refused: Host"); at != std::string::npos; at = log.find("refused: Host", at + 1)) ++hosts;
    for (auto at = log.find("refused: Origin"); at != std::string::npos; at = log.find("refused: Origin", at + 1))
        ++origins;
    EXPECT_EQ(hosts, 1u) << log;
    EXPECT_EQ(origins, 1u) << log;
}

TEST(WorkerGuard, LoopbackNamesAndListedHostsPass) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"}), .global = {"allowed_hosts: [clipal.lan]"}});
    for (const char* host : {"localhost:3333", "127.0.0.1", "[::1]:3333", "clipal.lan:3333"})
        EXPECT_TRUE(answered_by(post_message(w, {{"Host", host}, {"x-api-key", "any"}}), "a")) << host;
}

TEST(WorkerGuard, BrowserOriginIsRefusedForSimpleAndPreflightRequests) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    // The simple request a page can send without a preflight...
    auto r =
        w.request("POST", "/claudecode/v1/messages",
                  {{"Content-Type", "text/plain;charset=UTF-8"}, {"Origin", "http://127.0.0.1:8080"}}, messages_body);
    expect_refused(fu, r, 403, "permission_error");
    EXPECT_TRUE(w.wait_for_log("refused: Origin \"http://127.0.0.1:8080\" is not allowed")) << w.log_text();
    // ...the preflight of one with x-api-key, and the sandboxed page's "null".
    r = w.request("OPTIONS", "/claudecode/v1/messages",
                  {{"Origin", "http://127.0.0.1:8080"},
                   {"Access-Control-Request-Method", "POST"},
                   {"Access-Control-Request-Headers", "content-type,x-api-key"}});
    expect_refused(fu, r, 403, "permission_error");
    r = post_message(w, {{"Origin", "null"}, {"x-api-key", "any"}});
    expect_refused(fu, r, 403, "permission_error");
}

TEST(WorkerGuard, AllowedOriginPasses) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w(
        {.providers = providers_of(fu, {"a"}), .global = {"allowed_origins: [\"http://localhost:8080\"]"}});
    expect_refused(fu, post_message(w, {{"Origin", "http://localhost:8081"}}), 403, "permission_error");
    EXPECT_TRUE(answered_by(post_message(w, {{"Origin", "http://localhost:8080"}, {"x-api-key", "any"}}), "a"));
}

// Every log line so far, and every header and target the upstream saw, lack `secret`.
void expect_nowhere(const worker_process& w, const fake_upstream_process& fu, const std::string& secret) {
    EXPECT_EQ(w.log_text().find(secret), std::string::npos) << w.log_text();
    for (const auto& q : fu.requests()) {
        EXPECT_EQ(q.target.find(secret), std::string::npos) << q.target;
        for (const auto& [name, value] : q.headers) EXPECT_EQ(value.find(secret), std::string::npos) << name;
    }
}

TEST(WorkerGuard, ClaudeCodeMustPresentTheAccessToken) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"}), .global = {"access_token: " + access_token}});
    auto r = post_message(w, {});
    expect_refused(fu, r, 401, "authentication_error");
    EXPECT_NE(r.body.find("ANTHROPIC_API_KEY"), std::string::npos) << r.body;
    EXPECT_TRUE(w.wait_for_log("refused: no access token presented")) << w.log_text();
    expect_refused(fu, post_message(w, {{"x-api-key", access_token + "x"}}), 401, "authentication_error");
    expect_refused(fu, post_message(w, {{"x-api-key", "sk-ant-some-old-key"}}), 401, "authentication_error");
    EXPECT_TRUE(w.wait_for_log("refused: wrong access token presented")) << w.log_text();

    EXPECT_TRUE(answered_by(post_message(w, {{"x-api-key", access_token}}), "a"));
    EXPECT_TRUE(answered_by(post_message(w, {{"Authorization", "Bearer " + access_token}}), "a"));
    ASSERT_EQ(fu.requests().size(), 2u);
    EXPECT_EQ(fu.requests()[0].header("x-api-key"), "sk-a-key-1234");
    EXPECT_EQ(fu.requests()[1].header("Authorization"), "Bearer sk-a-key-1234");
    expect_nowhere(w, fu, access_token);
}

TEST(WorkerGuard, CodexMustPresentTheAccessTokenAsBearer) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w(
        {.profile = "codex", .providers = providers_of(fu, {"a"}), .global = {"access_token: " + access_token}});
    const std::string body = R"({"model":"gpt-x","input":"hi"})";
    auto r = w.request("POST", "/codex/v1/responses", {{"x-api-key", access_token}}, body);
    expect_refused(fu, r, 401, "authentication_error");
    r = w.request("POST", "/codex/v1/responses", {{"Authorization", "Bearer " + access_token}}, body);
    EXPECT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(fu.requests().size(), 1u);
    EXPECT_EQ(fu.requests()[0].header("Authorization"), "Bearer sk-a-key-1234");
    expect_nowhere(w, fu, access_token);
}

TEST(WorkerGuard, GeminiMustPresentTheAccessTokenInItsHeaderOrQuery) {
    fake_upstream_process fu(fakes({{"g", "ok"}}));
    worker_process w(
        {.profile = "gemini", .providers = providers_of(fu, {"g"}), .global = {"access_token: " + access_token}});
    const std::string target = "/gemini/v1beta/models/m:generateContent";
    const std::string body = R"({"contents":[]})";
    auto r = w.request("POST", target + "?key=AIza-wrong-key-000000", {}, body);
    expect_refused(fu, r, 401, "UNAUTHENTICATED");
    r = w.request("POST", target + "?key=" + access_token, {}, body);
    EXPECT_EQ(r.status, 200) << r.body;
    r = w.request("POST", target, {{"x-goog-api-key", access_token}}, body);
    EXPECT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(fu.requests().size(), 2u);
    for (const auto& q : fu.requests()) EXPECT_EQ(q.header("x-goog-api-key"), "sk-g-key-1234");
    expect_nowhere(w, fu, access_token);
}

TEST(WorkerGuard, ClientQueryKeyIsNotInTheDebugLog) {
    fake_upstream_process fu(fakes({{"g", "ok"}}));
    worker_process w({.profile = "gemini", .providers = providers_of(fu, {"g"})}); // log_level: debug
    const std::string client_key = "client-canary-gemini-5e8d1c0a9b7f3e26";
    const auto r = w.request("POST", "/gemini/v1beta/models/m:streamGenerateContent?alt=sse&key=" + client_key, {},
                             R"({"contents":[]})");
    EXPECT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(w.wait_for_log("request completed via g")) << w.log_text();
    EXPECT_NE(w.log_text().find(
                  "request received: POST /gemini/v1beta/models/m:streamGenerateContent?alt=sse&key=cli…"),
              std::string::npos)
        << w.log_text();
    expect_nowhere(w, fu, client_key);
}

} // namespace
