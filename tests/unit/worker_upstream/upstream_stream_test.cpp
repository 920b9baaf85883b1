#include "worker/upstream_stream.hpp"

#include "unit/worker_upstream/loopback_servers.hpp"

#include <gtest/gtest.h>

namespace {

using namespace clipal::test;
using clipal::worker::upstream_stream;

// A connected plain stream to `server`, made without the connector.
std::unique_ptr<upstream_stream> connect_plain(net::io_context& ioc, const http_server& server) {
    clipal::worker::tcp_stream tcp(ioc);
    tcp.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), server.port()));
    return std::make_unique<upstream_stream>(std::move(tcp));
}

TEST(UpstreamStream, BeastHttpRunsOnAPlainStream) {
    net::io_context ioc;
    http_server server(ioc);
    auto s = connect_plain(ioc, server);
    EXPECT_EQ(exchange(ioc, *s, "/a", "x"), "response 1");
    EXPECT_EQ(exchange(ioc, *s, "/b", "x"), "response 2");
    EXPECT_EQ(server.record().accepted, 1);
}

TEST(UpstreamStream, CloseAbortsAPendingReadAndIsIdempotent) {
    net::io_context ioc;
    http_server server(ioc);
    auto s = connect_plain(ioc, server);
    std::array<char, 16> buf{};
    bool done = false;
    boost::system::error_code result;
    s->async_read_some(net::buffer(buf), [&](boost::system::error_code ec, std::size_t) {
        done = true;
        result = ec;
    });
    ioc.poll();
    EXPECT_FALSE(done);
    s->close();
    ASSERT_TRUE(run_until(ioc, [&] { return done; }));
    EXPECT_EQ(result, net::error::operation_aborted);
    EXPECT_FALSE(s->is_open());
    s->close();
    EXPECT_TRUE(run_until(ioc, [&] { return server.record().peer_closed == 1; }));
}

TEST(UpstreamStream, ReusedFlagAndPoolKeyAreCarried) {
    net::io_context ioc;
    upstream_stream s{clipal::worker::tcp_stream(ioc)};
    EXPECT_FALSE(s.reused());
    EXPECT_FALSE(s.tls());
    s.set_reused(true);
    s.set_pool_key("https://x:443");
    EXPECT_TRUE(s.reused());
    EXPECT_EQ(s.pool_key(), "https://x:443");
}

} // namespace
