// Bad input on both sides of the real worker (issue #3 "Bad input", SPEC §10): garbage,
// oversized heads and bodies, truncated chunked bodies, the request body budget, and
// upstream answers with broken framing or huge headers. Each gets a clear status or a
// closed connection, is logged, never reaches an upstream when it should not, and never
// disturbs another connection.
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace clipal::test;

// A second client, connected before the bad input arrives, that must still be served.
void expect_other_connection_works(http_probe& other) {
    const auto r = other.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, "{}");
    EXPECT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 200);
}

std::string error_type(const http_response& r) {
    const auto v = parse_json(r.body);
    return v.is_object() ? std::string(v.at("error").at("type").as_string()) : std::string();
}

TEST(WorkerBadInput, GarbageBytesGet400AndOtherConnectionsKeepWorking) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto other = w.connect();
    auto bad = w.connect();
    // A TLS ClientHello's first bytes (a client speaking https to an http port), NULs included.
    static constexpr char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n";
    const std::string garbage(hello, sizeof hello - 1);
    ASSERT_TRUE(bad.send(garbage));
    const auto r = bad.read_response(5s);
    if (r.end != end_kind::reset && r.end != end_kind::closed_early) {
        EXPECT_EQ(r.status, 400) << to_string(r.end) << " " << r.error;
        EXPECT_EQ(error_type(r), "invalid_request_error") << r.body;
    }
    EXPECT_TRUE(bad.wait_peer_closed(5s));
    EXPECT_TRUE(w.wait_for_log("malformed request")) << w.log_text();
    EXPECT_TRUE(fu.requests().empty());
    expect_other_connection_works(other);
}

TEST(WorkerBadInput, OversizedRequestHeadGets431) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto other = w.connect();
    auto bad = w.connect();
    std::string head = "POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    while (head.size() < 80 * 1024) head += "X-Filler: " + std::string(1000, 'f') + "\r\n";
    head += "Content-Length: 2\r\n\r\n{}";
    bad.send(head); // the worker may stop reading part-way
    const auto r = bad.read_response(5s);
    if (r.end != end_kind::reset && r.end != end_kind::closed_early) {
        EXPECT_EQ(r.status, 431) << to_string(r.end);
    }
    EXPECT_TRUE(bad.wait_peer_closed(5s));
    EXPECT_TRUE(w.wait_for_log("head larger than")) << w.log_text();
    EXPECT_TRUE(fu.requests().empty());
    expect_other_connection_works(other);
}

TEST(WorkerBadInput, BodyOverTheLimitGets413WithoutContactingAnyUpstream) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"}), .global = {"max_request_body_bytes: 4096"}});
    const auto r = w.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, std::string(5000, 'x'));
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(error_type(r), "request_too_large") << r.body;
    EXPECT_NE(r.body.find("max_request_body_bytes"), std::string::npos) << r.body;
    // At the limit is fine.
    const auto ok = w.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, std::string(4096, 'x'));
    EXPECT_EQ(ok.status, 200);
    ASSERT_EQ(fu.requests().size(), 1u);
    EXPECT_EQ(fu.requests()[0].body_length, 4096u);
}

TEST(WorkerBadInput, ChunkedBodyOverTheLimitGets413WithoutContactingAnyUpstream) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"}), .global = {"max_request_body_bytes: 4096"}});
    auto c = w.connect();
    std::string req = "POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 5; ++i) req += "400\r\n" + std::string(1024, 'y') + "\r\n";
    req += "0\r\n\r\n";
    c.send(req);
    const auto r = c.read_response(5s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 413);
    EXPECT_TRUE(fu.requests().empty());
}

TEST(WorkerBadInput, TruncatedChunkedBodyNeverReachesAnUpstream) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto other = w.connect();
    auto bad = w.connect();
    ASSERT_TRUE(
        bad.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "100\r\nonly a few bytes of the announced 256"));
    bad.shutdown_write();
    const auto r = bad.read_response(5s);
    EXPECT_FALSE(r.complete() && r.status == 200) << r.status;
    EXPECT_TRUE(bad.wait_peer_closed(5s));
    EXPECT_TRUE(w.wait_for_log("request body from")) << w.log_text();
    EXPECT_TRUE(fu.requests().empty());
    expect_other_connection_works(other);
}

TEST(WorkerBadInput, BadChunkFramingInAChunkedBodyGets400) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto bad = w.connect();
    ASSERT_TRUE(
        bad.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "zz\r\nnot a chunk\r\n0\r\n\r\n"));
    const auto r = bad.read_response(5s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(fu.requests().empty());
}

TEST(WorkerBadInput, RequestBodyBudgetRefusesWhatDoesNotFitWith503) {
    fake_upstream_process fu(fakes({{"a", "stall-headers,ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"}),
                      .global = {"max_request_body_bytes: 60000", "request_body_budget_bytes: 100000",
                                 "response_header_timeout: 5s"}});
    // The first request's body stays buffered while its provider stalls.
    auto first = w.connect();
    ASSERT_TRUE(first.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                           "Content-Length: 60000\r\n\r\n" +
                           std::string(60000, 'a')));
    ASSERT_TRUE(fu.wait_for_requests(1, 5s));

    const auto second = w.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, std::string(50000, 'b'));
    ASSERT_TRUE(second.complete()) << to_string(second.end) << " " << second.error;
    EXPECT_EQ(second.status, 503);
    EXPECT_TRUE(second.header("Retry-After"));
    EXPECT_NE(second.body.find("request bodies"), std::string::npos) << second.body;
    EXPECT_EQ(fu.requests().size(), 1u);
    // A small body still fits beside the first.
    const auto small = w.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, std::string(1000, 'c'));
    EXPECT_EQ(small.status, 200);

    // Once the first request is over its share is free again.
    first.abort();
    ASSERT_TRUE(w.wait_for_log("disconnected; upstream request cancelled")) << w.log_text();
    const auto later = w.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, std::string(50000, 'd'));
    EXPECT_EQ(later.status, 200);
}

TEST(WorkerBadInput, UnknownPrefixGets404ListingThePrefixes) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const auto r = w.request("POST", "/claudecodex/v1/messages", {}, "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.body.find("/claudecode"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("/codex"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("/gemini"), std::string::npos) << r.body;
    const auto health = w.request("GET", "/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(health.body, R"({"status":"healthy"})");
    EXPECT_TRUE(fu.requests().empty());
}

// ---- broken upstream answers ----

TEST(WorkerBadInput, UpstreamBrokenChunkFramingAbortsTheClientOnly) {
    fake_upstream_process fu(fakes({{"a", "bad-framing,ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    w.expect_error_log("broke off after");
    auto other = w.connect();
    const auto r = claude_message(w, true);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.end == end_kind::reset || r.end == end_kind::closed_early) << to_string(r.end);
    EXPECT_TRUE(w.wait_for_log("broke off after")) << w.log_text();
    expect_other_connection_works(other);
}

TEST(WorkerBadInput, UpstreamHugeHeadersFailOver) {
    fake_upstream_process fu(fakes({{"a", "huge-headers"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    auto other = w.connect();
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    EXPECT_TRUE(w.wait_for_log("a failed: response headers too large")) << w.log_text();
    expect_other_connection_works(other);
}

TEST(WorkerBadInput, UpstreamHugeHeadersAloneGive503) {
    fake_upstream_process fu(fakes({{"a", "huge-headers"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("a: bad response"), std::string::npos) << r.body;
}

TEST(WorkerBadInput, SlowRequestHeadIsCutAfterTheHeadTimeout) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    // SPEC §5: 10 s to send a request head.
    EXPECT_TRUE(c.wait_peer_closed(13s));
    EXPECT_TRUE(fu.requests().empty());
}

} // namespace
