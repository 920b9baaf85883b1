// upstream_attempt relaying a streamed answer between loopback sockets on one io_context:
// every upstream piece reaches the client at once, and an open stream that waits for its
// next piece holds no relay buffer (what lets a worker keep thousands of idle streams).
#include "worker/upstream_attempt.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using clipal::worker::attempt_outcome;
using clipal::worker::attempt_settings;
using clipal::worker::connection_pool;
using clipal::worker::upstream_attempt;
using clipal::worker::upstream_request;
using clipal::worker::upstream_target;

template <class Pred>
bool run_until(net::io_context& ioc, Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.run_one_for(std::chrono::milliseconds(10));
        if (ioc.stopped()) ioc.restart();
    }
    return true;
}

// A connected pair on loopback: `near` is what the attempt writes to, `far` the client.
struct socket_pair {
    explicit socket_pair(net::io_context& ioc) : near(ioc), far(ioc) {
        tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
        far.connect(acceptor.local_endpoint());
        acceptor.accept(near);
    }
    clipal::worker::tcp_socket near; // the worker's socket type
    tcp::socket far;
};

// Keeps the client connection open and records the outcome.
struct listener : clipal::worker::attempt_listener {
    explicit listener(std::optional<attempt_outcome>& out) : outcome(out) {}
    bool client_keep_alive() override { return true; }
    void answer_started(int) override {}
    void attempt_done(attempt_outcome o) override { outcome = std::move(o); }
    std::optional<attempt_outcome>& outcome;
};

class UpstreamAttempt : public ::testing::Test {
protected:
    void SetUp() override {
        std::string error;
        target_ =
            *upstream_target::parse("http://127.0.0.1:" + std::to_string(upstream_.local_endpoint().port()), error);
        upstream_.async_accept(provider_, [](boost::system::error_code) {});
        settings_.response_header_timeout = std::chrono::seconds(5);
        settings_.idle_timeout = std::chrono::seconds(5);
        settings_.client_write_timeout = std::chrono::seconds(5);
    }

    std::shared_ptr<upstream_attempt> start_attempt() {
        upstream_request request;
        request.head = "GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        auto attempt = std::make_shared<upstream_attempt>(client_.near, *pool_, target_, std::move(request), false, 11,
                                                          settings_, std::make_shared<listener>(outcome_));
        attempt->start();
        // The provider reads the whole request before it answers.
        EXPECT_TRUE(run_until(ioc_, [&] { return provider_.is_open(); }));
        std::string head;
        bool read = false;
        net::async_read_until(provider_, net::dynamic_buffer(head), "\r\n\r\n",
                              [&](boost::system::error_code, std::size_t) { read = true; });
        EXPECT_TRUE(run_until(ioc_, [&] { return read; }));
        return attempt;
    }

    void provider_sends(const std::string& bytes) { net::write(provider_, net::buffer(bytes)); }

    // Reads from the client's end until `text` has arrived (or the deadline passes).
    bool client_receives(const std::string& text) {
        return client_reads_until([&] { return received_.find(text) != std::string::npos; });
    }

    template <class Pred>
    bool client_reads_until(Pred done) {
        bool reading = false;
        std::array<char, 4096> chunk{};
        return run_until(ioc_, [&] {
            if (done()) return true;
            if (!reading) {
                reading = true;
                client_.far.async_read_some(net::buffer(chunk), [&](boost::system::error_code ec, std::size_t n) {
                    if (!ec) received_.append(chunk.data(), n);
                    reading = false;
                });
            }
            return false;
        });
    }

    net::io_context ioc_;
    tcp::acceptor upstream_{ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)};
    tcp::socket provider_{ioc_};
    socket_pair client_{ioc_};
    std::shared_ptr<connection_pool> pool_ = connection_pool::create(ioc_.get_executor(), nullptr, {});
    upstream_target target_;
    attempt_settings settings_{};
    std::optional<attempt_outcome> outcome_;
    std::string received_;
};

TEST_F(UpstreamAttempt, OpenStreamWaitingForItsNextEventHoldsNoBuffer) {
    auto attempt = start_attempt();
    provider_sends("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "a\r\ndata: one\n\r\n");
    ASSERT_TRUE(client_receives("data: one\n"));
    // At most the chunk's trailing CRLF stays buffered (the next chunk header starts with it).
    EXPECT_TRUE(run_until(ioc_, [&] { return attempt->buffered_capacity() <= 2; }))
        << attempt->buffered_capacity() << " bytes held by an idle stream";

    provider_sends("a\r\ndata: two\n\r\n");
    ASSERT_TRUE(client_receives("data: two\n"));
    EXPECT_TRUE(run_until(ioc_, [&] { return attempt->buffered_capacity() <= 2; }));
    provider_sends("0\r\n\r\n");
    ASSERT_TRUE(run_until(ioc_, [&] { return outcome_.has_value(); }));
    EXPECT_EQ(outcome_->what, attempt_outcome::kind::completed);
    EXPECT_TRUE(client_receives("0\r\n\r\n"));
    EXPECT_EQ(received_.substr(0, 15), "HTTP/1.1 200 OK");
}

TEST_F(UpstreamAttempt, LargeBodyArrivesWholeAndTheAttemptCompletes) {
    auto attempt = start_attempt();
    std::string body(100 * 1024, 'x');
    for (std::size_t i = 0; i < body.size(); i += 1000) body[i] = static_cast<char>('a' + i / 1000 % 26);
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    provider_sends(head + body);
    ASSERT_TRUE(client_reads_until([&] { return received_.size() >= head.size() + body.size(); }));
    EXPECT_EQ(received_.substr(received_.find("\r\n\r\n") + 4), body);
    ASSERT_TRUE(run_until(ioc_, [&] { return outcome_.has_value(); }));
    EXPECT_EQ(outcome_->what, attempt_outcome::kind::completed);
    EXPECT_EQ(outcome_->bytes, body.size());
}

TEST_F(UpstreamAttempt, CompleteFailoverAnswerLeavesItsConnectionInThePool) {
    auto attempt = start_attempt();
    provider_sends("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_TRUE(run_until(ioc_, [&] { return outcome_.has_value(); }));
    EXPECT_EQ(outcome_->what, attempt_outcome::kind::failed);
    EXPECT_EQ(outcome_->status, 503);
    EXPECT_EQ(pool_->idle_count(target_), 1u);
    EXPECT_TRUE(received_.empty());
}

TEST_F(UpstreamAttempt, FailoverAnswerThatClosesIsNotPooled) {
    auto attempt = start_attempt();
    provider_sends("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_TRUE(run_until(ioc_, [&] { return outcome_.has_value(); }));
    EXPECT_EQ(outcome_->what, attempt_outcome::kind::failed);
    EXPECT_EQ(pool_->idle_count(target_), 0u);
}

TEST_F(UpstreamAttempt, PooledConnectionClosedJustBeforeItsTakeIsRetriedOnAFreshOne) {
    auto first = start_attempt();
    provider_sends("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ASSERT_TRUE(run_until(ioc_, [&] { return outcome_.has_value() && pool_->idle_count(target_) == 1; }));
    outcome_.reset();
    // The provider drops the idle connection and the next request takes it in the same turn
    // of the event loop, before the pool's watch could see the FIN.
    provider_.close();
    upstream_.async_accept(provider_, [](boost::system::error_code) {});
    auto second = start_attempt();
    provider_sends("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    ASSERT_TRUE(run_until(ioc_, [&] { return outcome_.has_value(); }));
    EXPECT_EQ(outcome_->what, attempt_outcome::kind::completed);
    EXPECT_EQ(pool_->idle_count(target_), 1u);
}

} // namespace
