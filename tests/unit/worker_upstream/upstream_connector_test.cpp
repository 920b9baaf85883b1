#include "worker/upstream_connector.hpp"

#include "shared/route.hpp"
#include "worker/tls_context.hpp"

#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "unit/worker_upstream/loopback_servers.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace {

using namespace clipal::test;
using clipal::join_target;
using clipal::worker::connect_stage;
using clipal::worker::connect_timeouts;
using clipal::worker::make_client_tls_context;
using clipal::worker::proxy_endpoint;
using clipal::worker::upstream_connector;
using clipal::worker::upstream_errc;
using clipal::worker::upstream_stream;
using clipal::worker::upstream_target;

upstream_target target(const std::string& url) {
    std::string error;
    auto t = upstream_target::parse(url, error);
    EXPECT_TRUE(t) << error;
    return t.value_or(upstream_target{});
}

struct outcome {
    bool done = false;
    boost::system::error_code ec;
    connect_stage stage = connect_stage::resolve;
    std::unique_ptr<upstream_stream> stream;
};

class UpstreamConnector : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new temp_dir;
        pki_ = new test_pki(make_test_pki(dir_->path()));
    }
    static void TearDownTestSuite() {
        delete pki_;
        delete dir_;
    }

    static std::shared_ptr<net::ssl::context> trusting_context() { return trusting_client_context(pki_->ca_cert); }

    std::shared_ptr<upstream_connector> start(const upstream_target& t, outcome& out,
                                              std::optional<proxy_endpoint> proxy = std::nullopt,
                                              connect_timeouts timeouts = {},
                                              std::shared_ptr<net::ssl::context> ctx = nullptr) {
        if (!ctx) ctx = trusting_context();
        auto c = std::make_shared<upstream_connector>(ioc_.get_executor(), ctx, t, std::move(proxy), timeouts);
        c->start([&out](boost::system::error_code ec, connect_stage stage, std::unique_ptr<upstream_stream> s) {
            out.done = true;
            out.ec = ec;
            out.stage = stage;
            out.stream = std::move(s);
        });
        return c;
    }

    outcome connect(const upstream_target& t, std::optional<proxy_endpoint> proxy = std::nullopt,
                    connect_timeouts timeouts = {}, std::shared_ptr<net::ssl::context> ctx = nullptr) {
        outcome out;
        const auto c = start(t, out, std::move(proxy), timeouts, std::move(ctx));
        EXPECT_TRUE(run_until(
            ioc_, [&] { return out.done; }, std::chrono::seconds(10)));
        last_detail_ = c->detail();
        return out;
    }

    static inline temp_dir* dir_ = nullptr;
    static inline test_pki* pki_ = nullptr;
    net::io_context ioc_;
    std::string last_detail_;
};

proxy_endpoint local_proxy(const fake_proxy& p, std::string authorization = {}) {
    return proxy_endpoint{"127.0.0.1", p.port_string(), std::move(authorization)};
}

TEST_F(UpstreamConnector, PlainHttpConnectsAndCarriesARequest) {
    http_server server(ioc_);
    const auto t = target("http://127.0.0.1:" + server.port_string() + "/base");
    auto out = connect(t);
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.stage, connect_stage::done);
    ASSERT_TRUE(out.stream);
    EXPECT_FALSE(out.stream->tls());
    EXPECT_FALSE(out.stream->reused());
    EXPECT_EQ(exchange(ioc_, *out.stream, join_target(t.base_path, "/v1/x"), t.host_header), "response 1");
    EXPECT_EQ(server.record().targets.at(0), "/base/v1/x");
}

// Threads of this process; Asio's resolver runs its lookups on a thread of its own that
// it starts on the first async_resolve of an io_context.
std::size_t thread_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

TEST_F(UpstreamConnector, IpLiteralConnectsWithoutTheResolverThread) {
    http_server server(ioc_);
    const auto before = thread_count();
    auto out = connect(target("http://127.0.0.1:" + server.port_string()));
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(out.stage, connect_stage::done);
    EXPECT_EQ(thread_count(), before);
}

TEST_F(UpstreamConnector, HostNameIsResolvedThenConnected) {
    http_server server(ioc_);
    auto out = connect(target("http://localhost:" + server.port_string()));
    ASSERT_FALSE(out.ec) << out.ec.message();
    ASSERT_TRUE(out.stream);
    EXPECT_EQ(exchange(ioc_, *out.stream, "/", "localhost"), "response 1");
}

TEST_F(UpstreamConnector, IpLiteralProxyIsReachedWithoutTheResolverThread) {
    http_server origin(ioc_);
    fake_proxy proxy(ioc_);
    const auto before = thread_count();
    auto out = connect(target("http://127.0.0.1:" + origin.port_string()), local_proxy(proxy));
    ASSERT_FALSE(out.ec) << out.ec.message();
    EXPECT_EQ(proxy.record().accepted, 1);
    EXPECT_EQ(thread_count(), before);
}

TEST_F(UpstreamConnector, TlsToServerSignedByTrustedCaSucceedsWithSni) {
    http_server server(ioc_, server_tls_context(pki_->server_cert, pki_->server_key));
    const auto t = target("https://localhost:" + server.port_string());
    auto out = connect(t);
    ASSERT_FALSE(out.ec) << out.ec.message() << " " << last_detail_;
    ASSERT_TRUE(out.stream);
    EXPECT_TRUE(out.stream->tls());
    EXPECT_EQ(exchange(ioc_, *out.stream, "/hello", t.host_header), "response 1");
    ASSERT_EQ(server.record().sni.size(), 1u);
    EXPECT_EQ(server.record().sni[0], "localhost");
}

TEST_F(UpstreamConnector, TlsToIpLiteralChecksIpSanAndSendsNoSni) {
    http_server server(ioc_, server_tls_context(pki_->server_cert, pki_->server_key));
    auto out = connect(target("https://127.0.0.1:" + server.port_string()));
    ASSERT_FALSE(out.ec) << out.ec.message() << " " << last_detail_;
    // The client finishes its handshake first; the server's side completes a moment later.
    ASSERT_TRUE(run_until(ioc_, [&] { return server.record().handshakes == 1; }));
    ASSERT_EQ(server.record().sni.size(), 1u);
    EXPECT_EQ(server.record().sni[0], "");
}

TEST_F(UpstreamConnector, SelfSignedCertificateFailsAtTls) {
    http_server server(ioc_, server_tls_context(pki_->self_signed_cert, pki_->self_signed_key));
    auto out = connect(target("https://localhost:" + server.port_string()));
    EXPECT_TRUE(out.ec);
    EXPECT_EQ(out.stage, connect_stage::tls);
    EXPECT_FALSE(out.stream);
    EXPECT_NE(last_detail_.find("self-signed"), std::string::npos) << last_detail_;
}

TEST_F(UpstreamConnector, CertificateForAnotherHostFailsAtTls) {
    // The server certificate names 127.0.0.1, localhost and ::1, not 127.0.0.2.
    http_server server(ioc_, server_tls_context(pki_->server_cert, pki_->server_key), "127.0.0.2");
    auto out = connect(target("https://127.0.0.2:" + server.port_string()));
    EXPECT_TRUE(out.ec);
    EXPECT_EQ(out.stage, connect_stage::tls);
    EXPECT_NE(last_detail_.find("mismatch"), std::string::npos) << last_detail_;
}

TEST_F(UpstreamConnector, WithoutSslCertFileTheTestCaIsNotTrusted) {
    http_server server(ioc_, server_tls_context(pki_->server_cert, pki_->server_key));
    std::shared_ptr<net::ssl::context> system_ctx;
    {
        scoped_env env("SSL_CERT_FILE", nullptr);
        scoped_env env_dir("SSL_CERT_DIR", nullptr);
        system_ctx = make_client_tls_context();
    }
    auto out = connect(target("https://localhost:" + server.port_string()), std::nullopt, {}, system_ctx);
    EXPECT_TRUE(out.ec);
    EXPECT_EQ(out.stage, connect_stage::tls);
}

TEST_F(UpstreamConnector, ClosedPortFailsAtConnect) {
    const auto port = closed_port(ioc_);
    const auto begin = std::chrono::steady_clock::now();
    auto out = connect(target("http://127.0.0.1:" + port));
    EXPECT_EQ(out.ec, net::error::connection_refused) << out.ec.message();
    EXPECT_EQ(out.stage, connect_stage::connect);
    EXPECT_FALSE(out.stream);
    EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(5));
}

TEST_F(UpstreamConnector, RefusedConnectsLeaveNoDescriptorBehind) {
    const auto port = closed_port(ioc_);
    const auto open_fds = [] {
        std::size_t n = 0;
        for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
        return n;
    };
    const auto before = open_fds();
    for (int i = 0; i < 20; ++i) {
        auto out = connect(target("http://127.0.0.1:" + port));
        ASSERT_EQ(out.ec, net::error::connection_refused) << out.ec.message();
    }
    ioc_.restart();
    ioc_.poll();
    EXPECT_EQ(open_fds(), before);
}

TEST_F(UpstreamConnector, HttpTargetThroughProxyUsesConnectTunnel) {
    http_server server(ioc_);
    fake_proxy proxy(ioc_);
    const auto t = target("http://127.0.0.1:" + server.port_string() + "/v1");
    auto out = connect(t, local_proxy(proxy));
    ASSERT_FALSE(out.ec) << out.ec.message() << " " << last_detail_;
    ASSERT_EQ(proxy.record().heads.size(), 1u);
    const auto& head = proxy.record().heads[0];
    EXPECT_EQ(head.rfind("CONNECT 127.0.0.1:" + server.port_string() + " HTTP/1.1\r\n", 0), 0u) << head;
    EXPECT_NE(head.find("\r\nHost: 127.0.0.1:" + server.port_string() + "\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("Proxy-Authorization"), std::string::npos);
    // Origin-form through the tunnel, answered by the origin itself.
    EXPECT_EQ(exchange(ioc_, *out.stream, join_target(t.base_path, "/models"), t.host_header), "response 1");
    EXPECT_EQ(server.record().targets.at(0), "/v1/models");
    EXPECT_EQ(server.record().accepted, 1);
}

TEST_F(UpstreamConnector, ProxyAuthorizationIsSentWhenConfigured) {
    http_server server(ioc_);
    fake_proxy proxy(ioc_);
    auto out = connect(target("http://127.0.0.1:" + server.port_string()), local_proxy(proxy, "Basic YTpi"));
    ASSERT_FALSE(out.ec) << out.ec.message();
    ASSERT_EQ(proxy.record().heads.size(), 1u);
    EXPECT_NE(proxy.record().heads[0].find("\r\nProxy-Authorization: Basic YTpi\r\n"), std::string::npos);
}

TEST_F(UpstreamConnector, HttpsTargetThroughProxyVerifiesTheOrigin) {
    http_server server(ioc_, server_tls_context(pki_->server_cert, pki_->server_key));
    fake_proxy proxy(ioc_);
    const auto t = target("https://localhost:" + server.port_string());
    auto out = connect(t, local_proxy(proxy));
    ASSERT_FALSE(out.ec) << out.ec.message() << " " << last_detail_;
    EXPECT_TRUE(out.stream->tls());
    EXPECT_EQ(proxy.record().heads.at(0).rfind("CONNECT localhost:" + server.port_string() + " ", 0), 0u);
    EXPECT_EQ(exchange(ioc_, *out.stream, "/", t.host_header), "response 1");
    EXPECT_EQ(server.record().sni.at(0), "localhost");
}

TEST_F(UpstreamConnector, ProxyAnswering407FailsAtProxy) {
    http_server server(ioc_);
    fake_proxy proxy(ioc_, 407);
    auto out = connect(target("http://127.0.0.1:" + server.port_string()), local_proxy(proxy));
    EXPECT_EQ(out.ec, upstream_errc::proxy_auth_required) << out.ec.message();
    EXPECT_EQ(out.stage, connect_stage::proxy);
    EXPECT_FALSE(out.stream);
    EXPECT_NE(last_detail_.find("407"), std::string::npos) << last_detail_;
    EXPECT_EQ(server.record().accepted, 0);
}

TEST_F(UpstreamConnector, UnreachableProxyFailsAtConnect) {
    const auto port = closed_port(ioc_);
    auto out = connect(target("https://localhost:1"), proxy_endpoint{"127.0.0.1", port, {}});
    EXPECT_EQ(out.ec, net::error::connection_refused);
    EXPECT_EQ(out.stage, connect_stage::connect);
}

TEST_F(UpstreamConnector, SilentProxyTimesOutAtProxy) {
    fake_proxy proxy(ioc_, 200, /*silent=*/true);
    connect_timeouts timeouts;
    timeouts.connect = std::chrono::milliseconds(200);
    auto out = connect(target("https://localhost:1"), local_proxy(proxy), timeouts);
    EXPECT_EQ(out.ec, net::error::timed_out) << out.ec.message();
    EXPECT_EQ(out.stage, connect_stage::proxy);
}

TEST_F(UpstreamConnector, StalledHandshakeTimesOutAtTls) {
    silent_listener listener(ioc_);
    connect_timeouts timeouts;
    timeouts.tls = std::chrono::milliseconds(200);
    auto out = connect(target("https://localhost:" + listener.port_string()), std::nullopt, timeouts);
    EXPECT_EQ(out.ec, net::error::timed_out) << out.ec.message();
    EXPECT_EQ(out.stage, connect_stage::tls);
}

TEST_F(UpstreamConnector, CancelWhileWaitingForProxyCompletesWithOperationAborted) {
    fake_proxy proxy(ioc_, 200, /*silent=*/true);
    outcome out;
    auto c = start(target("https://localhost:1"), out, local_proxy(proxy));
    ASSERT_TRUE(run_until(ioc_, [&] { return proxy.record().heads.size() == 1; }));
    EXPECT_FALSE(out.done);
    c->cancel();
    EXPECT_FALSE(out.done) << "the handler must not run inside cancel()";
    ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
    EXPECT_EQ(out.ec, net::error::operation_aborted);
    EXPECT_EQ(out.stage, connect_stage::proxy);
    EXPECT_FALSE(out.stream);
    c->cancel(); // a second cancel is harmless
}

TEST_F(UpstreamConnector, CancelRightAfterStartCompletesWithOperationAborted) {
    http_server server(ioc_);
    outcome out;
    auto c = start(target("http://127.0.0.1:" + server.port_string()), out);
    c->cancel();
    ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
    EXPECT_EQ(out.ec, net::error::operation_aborted);
    EXPECT_FALSE(out.stream);
    EXPECT_EQ(server.record().requests, 0);
}

TEST_F(UpstreamConnector, HandlerRunsExactlyOnceWhenCancelledAfterSuccess) {
    http_server server(ioc_);
    outcome out;
    int calls = 0;
    auto ctx = trusting_context();
    auto c = std::make_shared<upstream_connector>(ioc_.get_executor(), ctx,
                                                  target("http://127.0.0.1:" + server.port_string()), std::nullopt,
                                                  connect_timeouts{});
    c->start([&](boost::system::error_code ec, connect_stage, std::unique_ptr<upstream_stream> s) {
        ++calls;
        out.done = true;
        out.ec = ec;
        out.stream = std::move(s);
    });
    ASSERT_TRUE(run_until(ioc_, [&] { return out.done; }));
    c->cancel();
    run_until(
        ioc_, [] { return false; }, std::chrono::milliseconds(50));
    EXPECT_EQ(calls, 1);
    EXPECT_FALSE(out.ec);
    ASSERT_TRUE(out.stream);
    EXPECT_TRUE(out.stream->is_open());
}

} // namespace
