// Upstream TLS and outbound proxies through the real worker (SPEC §10, issue #3): a
// provider with a certificate from the test CA works when SSL_CERT_FILE trusts it, an
// untrusted certificate fails over, HTTPS_PROXY tunnels with CONNECT, NO_PROXY bypasses.
#include "integration/worker_fixture.hpp"

#include "support/test_ca.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace clipal::test;

class WorkerTls : public ::testing::Test {
protected:
    temp_dir pki_dir_;
    test_pki pki_ = make_test_pki(pki_dir_.path());

    // Trust the test CA only, so the outcome never depends on the machine's store.
    std::vector<std::pair<std::string, std::string>> trust_test_ca() const {
        return {{"SSL_CERT_FILE", pki_.ca_cert.string()}, {"SSL_CERT_DIR", pki_dir_.path().string() + "/none"}};
    }
};

TEST_F(WorkerTls, ProviderWithATrustedCertificateAnswers) {
    fake_upstream_options o = fakes({{"a", "ok"}});
    o.tls = &pki_;
    fake_upstream_process fu(o);
    worker_process w({.providers = providers_of(fu, {"a"}), .env = trust_test_ca()});
    const auto r = claude_message(w, true);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto q = fu.requests("a");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_TRUE(q[0].tls);
    EXPECT_EQ(q[0].header("Host"), "127.0.0.1:" + std::to_string(fu.port("a")));
}

TEST_F(WorkerTls, UntrustedCertificateFailsOverToTheNextProvider) {
    fake_upstream_options bad = fakes({{"bad", "ok"}});
    bad.tls = &pki_;
    bad.tls_self_signed = true;
    fake_upstream_process fu_bad(bad);
    fake_upstream_options good = fakes({{"good", "ok"}});
    good.tls = &pki_;
    fake_upstream_process fu_good(good);
    worker_process w(
        {.providers = {providers_of(fu_bad, {"bad"})[0], providers_of(fu_good, {"good"})[0]}, .env = trust_test_ca()});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "good")) << r.status << " " << r.body;
    // The untrusted server never saw a request (nor the key).
    EXPECT_TRUE(fu_bad.requests().empty());
    EXPECT_TRUE(w.wait_for_log("bad failed: tls failed")) << w.log_text();
}

TEST_F(WorkerTls, CertificateNotFromATrustedCaIsRejected) {
    fake_upstream_options o = fakes({{"a", "ok"}});
    o.tls = &pki_;
    fake_upstream_process fu(o);
    // The system store does not know the test CA.
    worker_process w({.providers = providers_of(fu, {"a"}),
                      .env = {{"SSL_CERT_FILE", pki_.self_signed_cert.string()},
                              {"SSL_CERT_DIR", pki_dir_.path().string() + "/none"}}});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("a: TLS error"), std::string::npos) << r.body;
    EXPECT_TRUE(fu.requests().empty());
}

// ---- outbound proxy ----

TEST_F(WorkerTls, HttpsProxyTunnelsWithConnect) {
    fake_upstream_options o = fakes({{"a", "ok"}});
    o.tls = &pki_;
    o.connect_proxy = true;
    fake_upstream_process fu(o);
    auto env = trust_test_ca();
    env.emplace_back("HTTPS_PROXY", "http://127.0.0.1:" + std::to_string(fu.proxy_port()));
    worker_process w({.providers = providers_of(fu, {"a"}), .env = env});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto tunnels = fu.requests("proxy");
    ASSERT_EQ(tunnels.size(), 1u);
    EXPECT_EQ(tunnels[0].method, "CONNECT");
    EXPECT_EQ(tunnels[0].target, "127.0.0.1:" + std::to_string(fu.port("a")));
    EXPECT_EQ(tunnels[0].status, 200);
    // TLS ran end to end through the tunnel.
    const auto q = fu.requests("a");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_TRUE(q[0].tls);
}

TEST(WorkerProxy, HttpProxyWithCredentialsTunnelsPlainHttp) {
    fake_upstream_options o = fakes({{"a", "ok"}});
    o.connect_proxy = true;
    o.proxy_auth = "user:secret-pass";
    fake_upstream_process fu(o);
    worker_process w({.providers = providers_of(fu, {"a"}),
                      .env = {{"http_proxy", "http://user:secret-pass@127.0.0.1:" + std::to_string(fu.proxy_port())}}});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto tunnels = fu.requests("proxy");
    ASSERT_EQ(tunnels.size(), 1u);
    EXPECT_EQ(tunnels[0].status, 200);
    EXPECT_TRUE(tunnels[0].header("Proxy-Authorization"));
    // The proxy credential is neither forwarded to the provider nor logged.
    EXPECT_FALSE(fu.requests("a")[0].header("Proxy-Authorization"));
    EXPECT_EQ(w.log_text().find("secret-pass"), std::string::npos);
}

TEST(WorkerProxy, ProxyRefusingTheTunnelFailsOver) {
    fake_upstream_options o = fakes({{"a", "ok"}});
    o.connect_proxy = true;
    o.proxy_auth = "user:right";
    fake_upstream_process fu(o);
    worker_process w({.providers = providers_of(fu, {"a"}),
                      .global = seed_failover(),
                      .env = {{"HTTP_PROXY", "http://user:wrong@127.0.0.1:" + std::to_string(fu.proxy_port())}}});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find("a: connect error"), std::string::npos) << r.body;
    EXPECT_TRUE(fu.requests("a").empty());
    ASSERT_EQ(fu.requests("proxy").size(), 1u);
    EXPECT_EQ(fu.requests("proxy")[0].status, 407);
}

TEST(WorkerProxy, NoProxyBypassesTheProxy) {
    fake_upstream_options o = fakes({{"a", "ok"}});
    o.connect_proxy = true;
    fake_upstream_process fu(o);
    const std::string proxy = "http://127.0.0.1:" + std::to_string(fu.proxy_port());
    worker_process w({.providers = providers_of(fu, {"a"}),
                      .env = {{"HTTP_PROXY", proxy}, {"HTTPS_PROXY", proxy}, {"NO_PROXY", "localhost,127.0.0.1"}}});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    EXPECT_TRUE(fu.requests("proxy").empty());
}

} // namespace
