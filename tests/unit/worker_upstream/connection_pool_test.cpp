#include "worker/connection_pool.hpp"

#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "unit/worker_upstream/loopback_servers.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

namespace {

using namespace clipal::test;
using clipal::worker::acquire_handle;
using clipal::worker::connect_stage;
using clipal::worker::connect_timeouts;
using clipal::worker::connection_pool;
using clipal::worker::pool_options;
using clipal::worker::proxy_endpoint;
using clipal::worker::proxy_settings;
using clipal::worker::upstream_stream;
using clipal::worker::upstream_target;

upstream_target target(const std::string& url) {
    std::string error;
    auto t = upstream_target::parse(url, error);
    EXPECT_TRUE(t) << error;
    return t.value_or(upstream_target{});
}

struct acquired {
    bool done = false;
    boost::system::error_code ec;
    connect_stage stage = connect_stage::resolve;
    std::unique_ptr<upstream_stream> stream;
};

class ConnectionPool : public ::testing::Test {
protected:
    std::shared_ptr<connection_pool> make_pool(pool_options options = {}, proxy_settings proxies = {}) {
        return connection_pool::create(ioc_.get_executor(), nullptr, std::move(proxies), options);
    }

    acquire_handle start(connection_pool& pool, const upstream_target& t, acquired& out) {
        return pool.acquire(t, connect_timeouts{},
                            [&out](boost::system::error_code ec, connect_stage stage,
                                   std::unique_ptr<upstream_stream> s) {
                                out.done = true;
                                out.ec = ec;
                                out.stage = stage;
                                out.stream = std::move(s);
                            });
    }

    // A new connection.
    std::unique_ptr<upstream_stream> acquire(connection_pool& pool, const upstream_target& t) {
        acquired out;
        start(pool, t, out);
        EXPECT_TRUE(run_until(ioc_, [&] { return out.done; }));
        EXPECT_FALSE(out.ec) << out.ec.message();
        return std::move(out.stream);
    }

    // What upstream_attempt::start() does: an idle connection if there is one, else a new one.
    std::unique_ptr<upstream_stream> take_or_connect(connection_pool& pool, const upstream_target& t) {
        if (auto idle = pool.try_take(t)) return idle;
        return acquire(pool, t);
    }

    // A connection that has carried one request and is ready to go back to the pool.
    std::unique_ptr<upstream_stream> used(connection_pool& pool, const upstream_target& t) {
        auto s = acquire(pool, t);
        EXPECT_TRUE(s);
        if (s) {
            EXPECT_TRUE(exchange(ioc_, *s, "/", t.host_header));
        }
        return s;
    }

    net::io_context ioc_;
};

TEST_F(ConnectionPool, ReleasedKeepAliveConnectionIsReused) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    pool->release(used(*pool, t));
    EXPECT_EQ(pool->idle_count(), 1u);
    EXPECT_EQ(pool->idle_count(t), 1u);

    auto again = take_or_connect(*pool, t);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->reused());
    EXPECT_EQ(pool->idle_count(), 0u);
    EXPECT_EQ(exchange(ioc_, *again, "/", t.host_header), "response 2");
    EXPECT_EQ(server.record().accepted, 1);
}

TEST_F(ConnectionPool, TryTakeHandsOutAnIdleConnectionAtOnce) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    EXPECT_FALSE(pool->try_take(t));
    pool->release(used(*pool, t));
    auto s = pool->try_take(t);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->reused());
    EXPECT_EQ(pool->idle_count(), 0u);
    EXPECT_FALSE(pool->try_take(t));
    EXPECT_EQ(exchange(ioc_, *s, "/", t.host_header), "response 2");
    EXPECT_EQ(server.record().accepted, 1);
}

TEST_F(ConnectionPool, AcquireConnectsAndIsNotReused) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    auto a = acquire(*pool, t);
    auto b = acquire(*pool, t);
    ASSERT_TRUE(a && b);
    EXPECT_FALSE(a->reused());
    EXPECT_FALSE(b->reused());
    EXPECT_EQ(server.record().accepted, 2);
}

TEST_F(ConnectionPool, AcquireIgnoresIdleConnections) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    pool->release(used(*pool, t));
    auto s = acquire(*pool, t);
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->reused());
    EXPECT_EQ(server.record().accepted, 2);
    EXPECT_EQ(pool->idle_count(), 1u);
}

TEST_F(ConnectionPool, ConnectionClosedByServerWhileIdleLeavesThePoolWhenItCloses) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    pool->release(used(*pool, t));
    ASSERT_EQ(pool->idle_count(), 1u);
    server.close_connections();
    // No request comes: the pool's own watch sees the close.
    EXPECT_TRUE(run_until(ioc_, [&] { return pool->idle_count() == 0; }));

    auto again = take_or_connect(*pool, t);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->reused());
    EXPECT_EQ(server.record().accepted, 2);
    EXPECT_EQ(exchange(ioc_, *again, "/", t.host_header), "response 2");
}

TEST_F(ConnectionPool, ConnectionClosedByServerBeforeItsReleaseLeavesThePoolAtOnce) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    auto s = used(*pool, t);
    const int fd = s->tcp().socket().native_handle();
    server.close_connections();
    ASSERT_TRUE(run_until(ioc_, [&] {
        char c;
        return ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
    }));
    pool->release(std::move(s));
    // The watch's first read already met the EOF; its completion only waits for its turn.
    ioc_.poll();
    EXPECT_EQ(pool->idle_count(), 0u);
    auto again = take_or_connect(*pool, t);
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->reused());
    EXPECT_EQ(exchange(ioc_, *again, "/", t.host_header), "response 2");
}

TEST_F(ConnectionPool, BytesArrivingOnAnIdleConnectionDropIt) {
    tcp::acceptor acceptor(ioc_, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    clipal::worker::tcp_stream client(ioc_);
    client.connect(acceptor.local_endpoint());
    tcp::socket peer = acceptor.accept();
    auto s = std::make_unique<upstream_stream>(std::move(client));
    s->set_pool_key("http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));
    auto pool = make_pool();
    pool->release(std::move(s));
    ioc_.poll();
    ASSERT_EQ(pool->idle_count(), 1u);
    // What a server sends before closing an idle keep-alive connection; never a response to reuse.
    net::write(peer, net::buffer(std::string("HTTP/1.1 408 Request Timeout\r\n\r\n")));
    EXPECT_TRUE(run_until(ioc_, [&] { return pool->idle_count() == 0; }));
    // The server sees the connection closed.
    char c;
    bool eof = false;
    peer.async_read_some(net::buffer(&c, 1),
                         [&](boost::system::error_code ec, std::size_t) { eof = ec == net::error::eof; });
    EXPECT_TRUE(run_until(ioc_, [&] { return eof; }));
}

TEST_F(ConnectionPool, TakenConnectionIsNoLongerWatched) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    pool->release(used(*pool, t));
    auto s = pool->try_take(t);
    ASSERT_TRUE(s);
    ioc_.poll();
    // The cancelled watch took no byte of the next response.
    EXPECT_EQ(exchange(ioc_, *s, "/", t.host_header), "response 2");
    EXPECT_EQ(exchange(ioc_, *s, "/", t.host_header), "response 3");
    EXPECT_EQ(pool->idle_count(), 0u);
}

TEST_F(ConnectionPool, IdleConnectionExpiresAndIsClosed) {
    http_server server(ioc_);
    pool_options options;
    options.idle_timeout = std::chrono::milliseconds(100);
    auto pool = make_pool(options);
    const auto t = target("http://127.0.0.1:" + server.port_string());
    pool->release(used(*pool, t));
    ASSERT_EQ(pool->idle_count(), 1u);
    EXPECT_TRUE(run_until(ioc_, [&] { return pool->idle_count() == 0; }));
    EXPECT_TRUE(run_until(ioc_, [&] { return server.record().peer_closed == 1; }));
}

TEST_F(ConnectionPool, IdleListPerKeyIsBounded) {
    http_server server(ioc_);
    pool_options options;
    options.max_idle_per_key = 2;
    auto pool = make_pool(options);
    const auto t = target("http://127.0.0.1:" + server.port_string());
    auto a = used(*pool, t);
    auto b = used(*pool, t);
    auto c = used(*pool, t);
    pool->release(std::move(a));
    pool->release(std::move(b));
    pool->release(std::move(c));
    EXPECT_EQ(pool->idle_count(), 2u);
    EXPECT_TRUE(run_until(ioc_, [&] { return server.record().peer_closed == 1; }));
}

TEST_F(ConnectionPool, DefaultPoolKeepsAConnectionForEachOf64ConcurrentClients) {
    // 64 requests at once (the benchmark's wrk -c64), then the next burst: every one of them
    // must find an idle connection instead of closing and reopening one.
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    std::vector<std::unique_ptr<upstream_stream>> busy;
    for (int i = 0; i < 64; ++i) busy.push_back(used(*pool, t));
    for (auto& s : busy) pool->release(std::move(s));
    EXPECT_EQ(pool->idle_count(t), 64u);
    for (int i = 0; i < 64; ++i) {
        auto s = take_or_connect(*pool, t);
        ASSERT_TRUE(s);
        EXPECT_TRUE(s->reused());
    }
    EXPECT_EQ(server.record().accepted, 64);
}

TEST_F(ConnectionPool, ZeroIdleLimitDisablesReuse) {
    http_server server(ioc_);
    pool_options options;
    options.max_idle_per_key = 0;
    auto pool = make_pool(options);
    const auto t = target("http://127.0.0.1:" + server.port_string());
    pool->release(used(*pool, t));
    EXPECT_EQ(pool->idle_count(), 0u);
}

TEST_F(ConnectionPool, DifferentOriginsDoNotShareConnections) {
    http_server one(ioc_);
    http_server two(ioc_);
    auto pool = make_pool();
    const auto t1 = target("http://127.0.0.1:" + one.port_string());
    const auto t2 = target("http://127.0.0.1:" + two.port_string());
    pool->release(used(*pool, t1));
    auto s = take_or_connect(*pool, t2);
    ASSERT_TRUE(s);
    EXPECT_FALSE(s->reused());
    EXPECT_EQ(pool->idle_count(t1), 1u);
    EXPECT_EQ(pool->idle_count(t2), 0u);
}

TEST_F(ConnectionPool, ShutdownClosesIdleConnectionsAndLaterReleasesClose) {
    http_server server(ioc_);
    auto pool = make_pool();
    const auto t = target("http://127.0.0.1:" + server.port_string());
    auto held = used(*pool, t);
    pool->release(used(*pool, t));
    pool->shutdown();
    EXPECT_EQ(pool->idle_count(), 0u);
    pool->release(std::move(held));
    EXPECT_EQ(pool->idle_count(), 0u);
    EXPECT_TRUE(run_until(ioc_, [&] { return server.record().peer_closed == 2; }));
}

TEST_F(ConnectionPool, CancelWhileConnectingAborts) {
    fake_proxy proxy(ioc_, 200, /*silent=*/true);
    std::vector<std::string> errors;
    auto proxies = proxy_settings::from_env(
        [&](std::string_view name) -> std::optional<std::string> {
            if (name == "HTTP_PROXY") return "http://127.0.0.1:" + proxy.port_string();
            return std::nullopt;
        },
        errors);
    auto pool = make_pool({}, proxies);
    acquired out;
    const auto handle = start(*pool, target("http://127.0.0.1:1"), out);
    ASSERT_TRUE(run_until(ioc_, [&] { return proxy.record().heads.size() == 1; }));
    handle.cancel();
    ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
    EXPECT_EQ(out.ec, net::error::operation_aborted);
    EXPECT_EQ(out.stage, connect_stage::proxy);
    handle.cancel(); // after completion: nothing happens
}

TEST_F(ConnectionPool, ProxiedAndDirectConnectionsHaveSeparateKeys) {
    http_server server(ioc_);
    fake_proxy proxy(ioc_);
    std::vector<std::string> errors;
    auto proxies = proxy_settings::from_env(
        [&](std::string_view name) -> std::optional<std::string> {
            if (name == "HTTP_PROXY") return "http://127.0.0.1:" + proxy.port_string();
            return std::nullopt;
        },
        errors);
    auto proxied = make_pool({}, proxies);
    const auto t = target("http://127.0.0.1:" + server.port_string());
    auto s = used(*proxied, t);
    ASSERT_TRUE(s);
    EXPECT_NE(s->pool_key(), t.key());
    EXPECT_NE(s->pool_key().find(proxy.port_string()), std::string::npos);
    proxied->release(std::move(s));
    auto again = take_or_connect(*proxied, t);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->reused());
    EXPECT_EQ(proxy.record().accepted, 1);
}

// An https server with a test CA, and a pool that trusts it.
struct tls_setup {
    explicit tls_setup(net::io_context& ioc)
        : pki(make_test_pki(dir.path())),
          server(ioc, server_tls_context(pki.server_cert, pki.server_key)),
          pool(connection_pool::create(ioc.get_executor(), [ctx = trusting_client_context(pki.ca_cert)] { return ctx; },
                                       {}, {})),
          t(target("https://localhost:" + server.port_string())) {}
    temp_dir dir;
    test_pki pki;
    http_server server;
    std::shared_ptr<connection_pool> pool;
    upstream_target t;
};

TEST_F(ConnectionPool, TlsConnectionIsReused) {
    tls_setup tls(ioc_);
    auto& pool = tls.pool;
    const auto& t = tls.t;
    pool->release(used(*pool, t));
    auto again = take_or_connect(*pool, t);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->reused());
    EXPECT_TRUE(again->tls());
    EXPECT_EQ(exchange(ioc_, *again, "/", t.host_header), "response 2");
    EXPECT_EQ(tls.server.record().handshakes, 1);
}

TEST_F(ConnectionPool, TlsConnectionClosedByServerWhileIdleLeavesThePool) {
    tls_setup tls(ioc_);
    auto& pool = tls.pool;
    pool->release(used(*pool, tls.t));
    ioc_.poll();
    ASSERT_EQ(pool->idle_count(), 1u);
    tls.server.close_connections();
    EXPECT_TRUE(run_until(ioc_, [&] { return pool->idle_count() == 0; }));
}

TEST_F(ConnectionPool, TlsContextIsMadeAtTheFirstHttpsAcquireOnly) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path());
    http_server plain(ioc_);
    http_server secure(ioc_, server_tls_context(pki.server_cert, pki.server_key));
    int made = 0;
    auto ctx = trusting_client_context(pki.ca_cert);
    auto pool = connection_pool::create(ioc_.get_executor(),
                                        [&] {
                                            ++made;
                                            return ctx;
                                        },
                                        {}, {});
    ASSERT_TRUE(acquire(*pool, target("http://127.0.0.1:" + plain.port_string())));
    EXPECT_EQ(made, 0);
    const auto t = target("https://localhost:" + secure.port_string());
    ASSERT_TRUE(acquire(*pool, t));
    ASSERT_TRUE(acquire(*pool, t));
    EXPECT_EQ(made, 1);
}

TEST_F(ConnectionPool, HttpsAcquireFailsAtTlsWhenNoContextCanBeMade) {
    http_server secure(ioc_);
    auto pool = connection_pool::create(ioc_.get_executor(), [] { return nullptr; }, {}, {});
    acquired out;
    start(*pool, target("https://localhost:" + secure.port_string()), out);
    ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
    EXPECT_TRUE(out.ec);
    EXPECT_EQ(out.stage, connect_stage::tls);
}

} // namespace
