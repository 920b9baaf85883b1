// Strict HTTP/1.1 framing and bounded heads in the real worker (issue 13: request smuggling,
// slowloris). Every head whose body could be framed two ways is answered 400 (or 501) and
// the connection closed; a local answer never leaves a body behind to become the next
// request; a head must arrive whole within 10 s of its first byte. Each test checks what
// the fake upstream received: nothing smuggled may reach it.
#include "integration/slow_client.hpp"
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace clipal::test;

const std::string host = "Host: 127.0.0.1\r\n";

// A complete request that, smuggled in a body, must never reach the upstream.
std::string smuggled_request(std::string_view target = "/claudecode/v1/messages") {
    const std::string body = R"({"smuggled":true})";
    return "POST " + std::string(target) + " HTTP/1.1\r\n" + host +
           "x-api-key: k\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// An ordinary request on a fresh connection, sent after a hostile one: once the upstream
// has it, anything the hostile connection smuggled would have arrived before it.
void send_fence(worker_process& w, fake_upstream_process& fu) {
    const auto r = w.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, R"({"fence":true})");
    EXPECT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(fu.wait_for_requests(1, 5s));
}

// Only the fence reached the upstream.
void expect_only_fence(fake_upstream_process& fu) {
    const auto got = fu.requests();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, R"({"fence":true})");
}

// Sends `bytes` on a fresh connection, expects `status` and the connection closed.
void expect_refused_and_closed(worker_process& w, const std::string& bytes, int status, std::string_view why) {
    auto c = w.connect();
    ASSERT_TRUE(c.send(bytes)) << why;
    const auto r = c.read_response(5s);
    ASSERT_TRUE(r.complete()) << why << ": " << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, status) << why << ": " << r.body;
    EXPECT_EQ(r.header("Connection").value_or(""), "close") << why;
    EXPECT_TRUE(c.wait_peer_closed(5s)) << why;
}

TEST(WorkerFraming, TransferEncodingNotEndingInChunkedIsRefusedAndNothingIsSmuggled) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    // TE.0: read as "no body", the smuggled request would be served as the next one.
    for (const char* coding : {"gzip", "chunked, gzip", "identity", "chunked;x=1"}) {
        expect_refused_and_closed(w,
                                  "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                      "x-api-key: k\r\nTransfer-Encoding: " + coding + "\r\n\r\n" + smuggled_request(),
                                  400, coding);
    }
    // A coding before chunked would leave its encoding in the forwarded body: not implemented.
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                  "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled_request(),
                              501, "gzip, chunked");
    EXPECT_TRUE(w.wait_for_log("Transfer-Encoding must end in chunked")) << w.log_text();
    send_fence(w, fu);
    expect_only_fence(fu);
}

TEST(WorkerFraming, ContentLengthWithTransferEncodingIsRefusedInEitherOrder) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const std::string smuggled = smuggled_request();
    const std::string chunk = "0\r\n\r\n" + smuggled;
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                  "Transfer-Encoding: gzip\r\nContent-Length: " + std::to_string(smuggled.size()) +
                                  "\r\n\r\n" + smuggled,
                              400, "TE gzip then CL");
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                  "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk,
                              400, "CL then TE chunked");
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                  "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + chunk,
                              400, "TE chunked then CL");
    send_fence(w, fu);
    expect_only_fence(fu);
}

TEST(WorkerFraming, SeveralContentLengthsAreRefusedEqualOrNot) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const std::string smuggled = smuggled_request();
    const std::string n = std::to_string(smuggled.size());
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                  "Content-Length: 0\r\nContent-Length: " + n + "\r\n\r\n" + smuggled,
                              400, "conflicting");
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host + "Content-Length: " + n +
                                  "\r\nContent-Length: " + n + "\r\n\r\n" + smuggled,
                              400, "repeated");
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host + "Content-Length: " + n + ", " + n +
                                  "\r\n\r\n" + smuggled,
                              400, "list");
    send_fence(w, fu);
    expect_only_fence(fu);
}

TEST(WorkerFraming, InvalidChunkSizesAreRefused) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    for (const char* size : {"-1", "0x5", "+5", "1ffffffffffffffff", "", " 5", "5\n"}) {
        expect_refused_and_closed(w,
                                  "POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                                      "Transfer-Encoding: chunked\r\n\r\n" + size + "\r\nhello\r\n0\r\n\r\n" +
                                      smuggled_request(),
                                  400, std::string("chunk size '") + size + "'");
    }
    send_fence(w, fu);
    expect_only_fence(fu);
}

TEST(WorkerFraming, HealthWithABodyNeverServesTheBodyAsTheNextRequest) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const std::string smuggled = smuggled_request();
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /health HTTP/1.1\r\n" + host + "Content-Length: " + std::to_string(smuggled.size()) +
                       "\r\n\r\n" + smuggled));
    const auto health = c.read_response(5s);
    ASSERT_TRUE(health.complete()) << to_string(health.end) << " " << health.error;
    EXPECT_EQ(health.status, 200);
    // A small announced body is read and dropped: the connection goes on with the next request.
    const auto next = c.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, R"({"fence":true})");
    ASSERT_TRUE(next.complete()) << to_string(next.end) << " " << next.error;
    EXPECT_EQ(next.status, 200) << next.body;
    expect_only_fence(fu);

    // A chunked body is not read: the answer closes the connection.
    auto chunked = w.connect();
    ASSERT_TRUE(chunked.send("POST /health HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n" +
                             "5\r\nhello\r\n0\r\n\r\n" + smuggled));
    const auto r = chunked.read_response(5s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Connection").value_or(""), "close");
    EXPECT_TRUE(chunked.wait_peer_closed(5s));
    expect_only_fence(fu);
}

TEST(WorkerFraming, HeadToALocalAnswerGetsItsHeadersWithoutABody) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    for (const char* target : {"/health", "/codex/v1/responses"}) {
        ASSERT_TRUE(c.send("HEAD " + std::string(target) + " HTTP/1.1\r\n" + host + "\r\n"));
        const auto head = c.read_response(5s, /*bodyless=*/true);
        ASSERT_TRUE(head.complete()) << target << ": " << to_string(head.end) << " " << head.error;
        EXPECT_EQ(head.status, std::string_view(target) == "/health" ? 200 : 404) << target;
        EXPECT_NE(head.header("Content-Length").value_or("0"), "0") << target; // as for GET
    }
    // Had a body followed either answer, it would be read here as the next response.
    const auto get = c.request("GET", "/health");
    ASSERT_TRUE(get.complete()) << to_string(get.end) << " " << get.error;
    EXPECT_EQ(get.body, R"({"status":"healthy"})");
    EXPECT_EQ(get.header("Content-Length").value_or(""), "20");
}

TEST(WorkerFraming, DotSegmentsAfterThePrefixAreRefused) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    for (const char* path :
         {"/claudecode/../v1/messages", "/claudecode/v1/./messages", "/claudecode/v1/messages/..",
          "/claudecode/v1/messages/.", "/claudecode/%2e%2e/admin", "/claudecode/%2E%2E/admin", "/claudecode/v1/.%2e/x",
          "/claudecode/v1/%2e/x", "/claudecode/v1/..%2fadmin", "/claudecode/..?beta=true"}) {
        const auto r = c.request("POST", path, {{"x-api-key", "k"}}, "{}");
        ASSERT_TRUE(r.complete()) << path << ": " << to_string(r.end) << " " << r.error;
        EXPECT_EQ(r.status, 400) << path;
        EXPECT_NE(r.body.find("dot-segment"), std::string::npos) << path << ": " << r.body;
    }
    // The connection stays usable (the refused bodies were read), and dots elsewhere pass.
    const auto ok = c.request("POST", "/claudecode/v1/messages?x=/../y", {{"x-api-key", "k"}}, R"({"fence":true})");
    EXPECT_EQ(ok.status, 200) << ok.body;
    expect_only_fence(fu);
    EXPECT_EQ(fu.requests()[0].target, "/v1/messages?x=/../y");
}

TEST(WorkerFraming, Http11WithoutExactlyOneHostIsRefused) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    expect_refused_and_closed(w, "POST /claudecode/v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400,
                              "no Host");
    expect_refused_and_closed(w,
                              "POST /claudecode/v1/messages HTTP/1.1\r\n" + host + host + "Content-Length: 2\r\n\r\n{}",
                              400, "two Hosts");
    EXPECT_TRUE(w.wait_for_log("needs a Host header")) << w.log_text();
    // HTTP/1.0 has no Host requirement.
    auto old = w.connect();
    ASSERT_TRUE(old.send("POST /claudecode/v1/messages HTTP/1.0\r\nx-api-key: k\r\nContent-Length: 14\r\n\r\n"
                         R"({"fence":true})"));
    const auto r = old.read_response(5s);
    EXPECT_EQ(r.status, 200) << to_string(r.end) << " " << r.body;
    expect_only_fence(fu);
}

TEST(WorkerFraming, ASlowHeadOnAKeptAliveConnectionIsCutAfterTenSeconds) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    const auto first = c.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, "{}");
    ASSERT_EQ(first.status, 200) << first.body;
    // One byte a second: every read used to re-arm the 10 s head deadline.
    EXPECT_TRUE(
        closed_while_trickling(c, byte_by_byte("P", "OST /claudecode/v1/messages HTTP/1.1\r\nX-Slow: aaaaaaaa"), 13s));
    EXPECT_EQ(fu.requests().size(), 1u);
}

TEST(WorkerFraming, EmptyLinesDoNotKeepAConnectionOpen) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    // Empty lines before a request line may be skipped (RFC 9112 §2.2), but their time counts.
    EXPECT_TRUE(closed_while_trickling(c, byte_by_byte("\r\n", std::string(30, '\n')), 13s));
}

TEST(WorkerFraming, AnIdleKeptAliveConnectionOutlivesTheHeadTimeout) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    ASSERT_EQ(c.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, "{}").status, 200);
    // Idle is not a slow head: the connection waits for its next request (75 s).
    EXPECT_FALSE(c.wait_peer_closed(12s));
    const auto again = c.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, "{}");
    EXPECT_EQ(again.status, 200) << to_string(again.end) << " " << again.error;
}

} // namespace
