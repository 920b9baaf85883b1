// SPEC §5 through the real worker: response_header_timeout and upstream_idle_timeout
// before the first body byte fail over; a stall after it aborts the client; SSE pacing is
// kept; big bodies arrive intact; many streams run at once; a client abort closes the
// upstream connection; a slow client applies backpressure instead of timing out.
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <openssl/evp.h>

#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace clipal::test;
using clock_type = std::chrono::steady_clock;

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    std::string out;
    char hex[3];
    for (unsigned int i = 0; i < len; ++i) {
        std::snprintf(hex, sizeof hex, "%02x", md[i]);
        out += hex;
    }
    return out;
}

long ms(clock_type::duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// The kernel's view (/proc/net/tcp) of the TCP sockets whose local port is `port`: for a
// provider's port, the provider's own ends of its connections.
struct socket_view {
    std::string state;            // "01" = ESTABLISHED
    unsigned long send_queue = 0; // bytes written by the provider, not yet taken by the peer
};

std::vector<socket_view> sockets_on(std::uint16_t port) {
    std::vector<socket_view> out;
    for (const char* file : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(file);
        std::string line;
        std::getline(in, line); // header
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string slot, local, remote, state, queues;
            f >> slot >> local >> remote >> state >> queues;
            const auto colon = local.rfind(':');
            if (colon == std::string::npos || std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
            out.push_back({state, std::stoul(queues.substr(0, queues.find(':')), nullptr, 16)});
        }
    }
    return out;
}

std::size_t established_on(std::uint16_t port) {
    std::size_t n = 0;
    for (const auto& sock : sockets_on(port)) n += sock.state == "01" ? 1 : 0;
    return n;
}

// ---- before the first body byte: fail over ----

TEST(WorkerStreaming, StallBeforeHeadersFailsOverAfterResponseHeaderTimeout) {
    fake_upstream_process fu(fakes({{"a", "stall-headers"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = {"response_header_timeout: 1s"}});
    const auto start = clock_type::now();
    const auto r = claude_message(w, true);
    const auto took = clock_type::now() - start;
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    EXPECT_GE(ms(took), 900);
    EXPECT_TRUE(w.wait_for_log("a failed: no response headers within 1s")) << w.log_text();
}

TEST(WorkerStreaming, StallAfterHeadersBeforeFirstByteFailsOverAfterIdleTimeout) {
    fake_upstream_process fu(fakes({{"a", "stall-body"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = {"upstream_idle_timeout: 1s"}});
    const auto start = clock_type::now();
    const auto r = claude_message(w, true);
    const auto took = clock_type::now() - start;
    ASSERT_TRUE(r.complete()) << r.error;
    // One clean response: b's. Nothing of a's head reached the client.
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    EXPECT_NE(r.body.find("event: message_stop"), std::string::npos);
    EXPECT_GE(ms(took), 900);
    EXPECT_TRUE(w.wait_for_log("before the first body byte")) << w.log_text();
}

// ---- after bytes reached the client: abort ----

TEST(WorkerStreaming, StallAfterBytesAbortsTheClientAndLogsTheByteCount) {
    fake_upstream_process fu(fakes({{"a", "stall-mid:2"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = {"upstream_idle_timeout: 1s"}});
    w.expect_error_log("broke off after");
    const auto r = claude_message(w, true, {}, 10s);
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.end == end_kind::reset || r.end == end_kind::closed_early) << to_string(r.end);
    EXPECT_NE(r.body.find("message_start"), std::string::npos) << r.body;
    // No failover once the client has bytes.
    EXPECT_TRUE(fu.requests("b").empty());
    ASSERT_TRUE(w.wait_for_log("broke off after")) << w.log_text();
    const std::regex count(R"(broke off after (\d+) body bytes)");
    std::smatch m;
    const auto log = w.log_text();
    ASSERT_TRUE(std::regex_search(log, m, count)) << log;
    EXPECT_EQ(std::stoul(m[1].str()), r.body.size());
}

TEST(WorkerStreaming, UpstreamCloseMidBodyAbortsTheClient) {
    fake_upstream_process fu(fakes({{"a", "close-mid"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    w.expect_error_log("broke off after");
    const auto r = claude_message(w);
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.complete()) << "a truncated body looked like a success";
    EXPECT_TRUE(r.end == end_kind::reset || r.end == end_kind::closed_early) << to_string(r.end);
    EXPECT_TRUE(fu.requests("b").empty());
    EXPECT_TRUE(w.wait_for_log("broke off after")) << w.log_text();
}

// ---- pacing and size ----

TEST(WorkerStreaming, SseEventsKeepTheirPacing) {
    fake_upstream_process fu(fakes({{"a", "sse:6:200"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const auto r = claude_message(w, true);
    ASSERT_TRUE(r.complete()) << r.error;
    const auto ends = r.arrival_times_of("\n\n");
    ASSERT_EQ(ends.size(), 6u) << r.body;
    for (std::size_t i = 1; i < ends.size(); ++i) {
        const auto gap = ms(ends[i] - ends[i - 1]);
        // Each event arrives on its own (no coalescing), about 200 ms after the previous.
        EXPECT_GE(gap, 100) << "event " << i << " arrived with the previous one";
        EXPECT_LE(gap, 1000) << "event " << i << " was held back";
    }
    // The first event is not held until the second.
    EXPECT_LT(ms(ends[0] - r.head_at), 150);
}

TEST(WorkerStreaming, TwentyMebibyteBodyArrivesByteIdentical) {
    fake_upstream_process fu(fakes({{"a", "bytes:20971520"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const auto r = w.request("GET", "/claudecode/v1/blob", {{"x-api-key", "k"}}, {}, 60s);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    ASSERT_EQ(r.body.size(), 20971520u);
    ASSERT_TRUE(r.header("X-Body-Sha256"));
    EXPECT_EQ(sha256_hex(r.body), *r.header("X-Body-Sha256"));
}

TEST(WorkerStreaming, TwoHundredConcurrentStreamsAllComplete) {
    // Each stream holds its upstream connection for two seconds, so they all overlap.
    fake_upstream_process fu(fakes({{"a", "sse:2:2000"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    constexpr int n = 200;
    std::vector<http_probe> clients;
    clients.reserve(n);
    for (int i = 0; i < n; ++i) {
        clients.push_back(w.connect());
        ASSERT_TRUE(clients.back().connected()) << clients.back().last_error();
        ASSERT_TRUE(clients.back().send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                                        "Content-Length: 2\r\n\r\n{}"));
    }
    int complete = 0;
    for (auto& c : clients) {
        const auto r = c.read_response(30s);
        if (r.complete() && r.status == 200 && r.body.find("\"seq\":1") != std::string::npos) {
            ++complete;
        } else {
            ADD_FAILURE() << to_string(r.end) << " " << r.status << " " << r.error;
        }
    }
    EXPECT_EQ(complete, n);
    const auto q = fu.requests();
    ASSERT_EQ(q.size(), static_cast<std::size_t>(n));
    // Upstream connections were opened side by side, not queued behind a small cap.
    std::set<std::size_t> conns;
    for (const auto& r : q) conns.insert(r.conn);
    EXPECT_GE(conns.size(), 150u);
}

// ---- the client side ----

TEST(WorkerStreaming, ClientAbortClosesTheUpstreamConnectionWithin500ms) {
    fake_upstream_process fu(fakes({{"a", "stall-mid:2"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                       "Content-Length: 15\r\n\r\n{\"stream\":true}"));
    // The stream has started: bytes reached the client.
    ASSERT_NE(c.read_until("message_start", 5s).find("message_start"), std::string::npos);
    ASSERT_EQ(established_on(fu.port("a")), 1u);

    const auto aborted = clock_type::now();
    c.abort();
    // The provider's end of the connection sees it closed.
    ASSERT_TRUE(eventually([&] { return established_on(fu.port("a")) == 0; }, 3s));
    EXPECT_LE(ms(clock_type::now() - aborted), 500);
    EXPECT_TRUE(w.wait_for_log("disconnected; upstream request cancelled")) << w.log_text();
    // No failover for a client that left.
    EXPECT_TRUE(fu.requests("b").empty());
}

TEST(WorkerStreaming, ClientAbortWhileWaitingForHeadersClosesTheUpstream) {
    fake_upstream_process fu(fakes({{"a", "stall-headers"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                       "Content-Length: 2\r\n\r\n{}"));
    ASSERT_TRUE(fu.wait_for_requests(1, 5s));
    ASSERT_TRUE(eventually([&] { return established_on(fu.port("a")) == 1; }, 2s));
    const auto aborted = clock_type::now();
    c.abort();
    ASSERT_TRUE(eventually([&] { return established_on(fu.port("a")) == 0; }, 3s));
    EXPECT_LE(ms(clock_type::now() - aborted), 500);
    EXPECT_TRUE(fu.requests("b").empty());
}

TEST(WorkerStreaming, SlowReadingClientDoesNotTriggerTheUpstreamIdleTimeout) {
    constexpr std::size_t size = 24u << 20;
    fake_upstream_process fu(fakes({{"a", "bytes:" + std::to_string(size)}}));
    worker_process w({.providers = providers_of(fu, {"a"}), .global = {"upstream_idle_timeout: 1s"}});
    auto c = w.connect();
    // A small fixed receive buffer (no autotuning): the client really holds little.
    const int rcvbuf = 64 * 1024;
    ASSERT_EQ(::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    ASSERT_TRUE(c.send("GET /claudecode/v1/blob HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n\r\n"));
    // The client reads nothing for three idle timeouts.
    std::this_thread::sleep_for(3s);
    // Backpressure reached the provider: it has bytes the worker did not take (so the
    // worker went without upstream data for longer than the idle timeout).
    unsigned long waiting = 0;
    for (const auto& sock : sockets_on(fu.port("a")))
        if (sock.state == "01") waiting += sock.send_queue;
    EXPECT_GT(waiting, 0u);

    const auto r = c.read_response(60s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    ASSERT_EQ(r.body.size(), size);
    EXPECT_EQ(sha256_hex(r.body), *r.header("X-Body-Sha256"));
    EXPECT_EQ(w.log_text().find("no data for"), std::string::npos) << w.log_text();
}

TEST(WorkerStreaming, Http10ClientGetsACloseDelimitedStream) {
    fake_upstream_process fu(fakes({{"a", "sse:3:50"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.0\r\nx-api-key: k\r\nContent-Length: 2\r\n\r\n{}"));
    const auto r = c.read_response(10s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(r.header("Transfer-Encoding")) << "HTTP/1.0 has no chunked encoding";
    EXPECT_NE(r.body.find("\"seq\":2"), std::string::npos) << r.body;
    EXPECT_TRUE(c.wait_peer_closed(5s));
}

// ---- shutdown ----

TEST(WorkerStreaming, SigtermLetsARunningStreamFinishThenExitsZero) {
    fake_upstream_process fu(fakes({{"a", "sse:5:300"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto idle = w.connect();
    ASSERT_EQ(idle.request("POST", "/claudecode/v1/messages", {{"x-api-key", "k"}}, "{}").status, 200);
    auto streaming = w.connect();
    ASSERT_TRUE(streaming.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                               "Content-Length: 2\r\n\r\n{}"));
    ASSERT_TRUE(fu.wait_for_requests(2, 5s));

    w.process().signal(SIGTERM);
    // The idle keep-alive connection is closed at once; the stream runs to its end.
    EXPECT_TRUE(idle.wait_peer_closed(2s));
    const auto r = streaming.read_response(10s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_NE(r.body.find("\"seq\":4"), std::string::npos) << r.body;
    const auto st = w.process().wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->exited_with(0)) << st->describe();
    // Nothing listens any more.
    http_probe late;
    EXPECT_FALSE(late.connect("127.0.0.1", w.port(), 1s));
}

TEST(WorkerStreaming, AnswerStartedDuringADrainTellsTheClientToClose) {
    fake_upstream_process fu(fakes({{"a", "delay:600"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: k\r\n"
                       "Content-Length: 2\r\n\r\n{}"));
    ASSERT_TRUE(fu.wait_for_requests(1, 5s));
    w.process().signal(SIGTERM);
    // The head goes out after the drain began: the client must not send another request
    // on this connection (it would race the close that follows).
    const auto r = c.read_response(10s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Connection").value_or(""), "close");
    EXPECT_TRUE(c.wait_peer_closed(2s));
}

} // namespace
