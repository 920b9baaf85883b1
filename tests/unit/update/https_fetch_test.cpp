// https_get against the in-process TLS server: trust via SSL_CERT_FILE, redirects,
// errors that say what happened, and the body bounds.
#include "app/https_fetch.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "unit/update/fake_release_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

using namespace std::chrono_literals;
using clipal::app::https_get;
using clipal::app::https_get_text;
using clipal::app::https_limits;
using clipal::test::fake_release_server;
using clipal::test::fake_response;
using ::testing::HasSubstr;

namespace {

class HttpsFetch : public ::testing::Test {
protected:
    HttpsFetch() : pki_(clipal::test::make_test_pki(dir_.path())), server_(pki_) {
        ::setenv("SSL_CERT_FILE", pki_.ca_cert.c_str(), 1);
    }

    clipal::test::temp_dir dir_;
    clipal::test::test_pki pki_;
    fake_release_server server_;
};

} // namespace

TEST_F(HttpsFetch, GetsABodyFromATrustedServer) {
    server_.set("/latest", fake_response{200, "hello"});
    std::string body;
    const auto r = https_get_text(server_.url("/latest?x=1"), "application/json", 1024, body);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(body, "hello");
    EXPECT_EQ(r.bytes, 5u);
    ASSERT_EQ(server_.requests().size(), 1u);
    EXPECT_EQ(server_.requests()[0], "/latest?x=1");
    EXPECT_THAT(server_.heads()[0], HasSubstr("User-Agent: clipal/"));
    EXPECT_THAT(server_.heads()[0], HasSubstr("Accept: application/json"));
}

TEST_F(HttpsFetch, FollowsRedirectsLikeGitHubDownloads) {
    server_.set("/download/asset",
                fake_response{302, "", std::nullopt, std::nullopt, false, {{"Location", "/objects/asset"}}});
    server_.set("/objects/asset", fake_response{200, "bytes"});
    std::string body;
    const auto r = https_get_text(server_.url("/download/asset"), "*/*", 1024, body);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(body, "bytes");
    EXPECT_EQ(server_.requests(), (std::vector<std::string>{"/download/asset", "/objects/asset"}));
}

TEST_F(HttpsFetch, StopsAfterTooManyRedirects) {
    server_.set("/loop", fake_response{302, "", std::nullopt, std::nullopt, false, {{"Location", "/loop"}}});
    std::string body;
    https_limits limits;
    limits.max_redirects = 3;
    const auto r = https_get_text(server_.url("/loop"), "*/*", 1024, body, limits);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("more than 3 redirects"));
    EXPECT_EQ(server_.requests().size(), 4u);
}

TEST_F(HttpsFetch, QuotesTheServerMessageOnHttpErrors) {
    server_.set("/limited",
                fake_response{403, R"({"message":"API rate limit exceeded for 1.2.3.4.","documentation_url":"x"})"});
    std::string body;
    const auto r = https_get_text(server_.url("/limited"), "*/*", 1024, body);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.status, 403);
    EXPECT_THAT(r.error, HasSubstr("HTTP 403 Forbidden from " + server_.url("/limited")));
    EXPECT_THAT(r.error, HasSubstr("API rate limit exceeded"));
}

TEST_F(HttpsFetch, RefusesPlainHttp) {
    std::string body;
    const auto r = https_get_text("http://127.0.0.1:" + std::to_string(server_.port()) + "/latest", "*/*", 1024, body);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("only https://"));
    EXPECT_TRUE(server_.requests().empty());
}

TEST_F(HttpsFetch, RefusesAServerTheTrustStoreDoesNotVouchFor) {
    fake_release_server untrusted(pki_.self_signed_cert, pki_.self_signed_key);
    untrusted.set("/latest", fake_response{200, "hello"});
    std::string body;
    const auto r = https_get_text(untrusted.url("/latest"), "*/*", 1024, body);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("TLS handshake"));
    EXPECT_THAT(r.error, HasSubstr("certificate verify failed"));
    EXPECT_TRUE(untrusted.requests().empty());
}

TEST_F(HttpsFetch, ReportsABodyCutShortOfItsContentLength) {
    server_.set("/cut", fake_response{200, std::string(1000, 'x'), std::nullopt, 400});
    std::uint64_t received = 0;
    const auto r = https_get(server_.url("/cut"), "*/*", 1 << 20, [&](std::string_view chunk) {
        received += chunk.size();
        return true;
    });
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("after 400 body bytes of the 1000 announced"));
    EXPECT_EQ(received, 400u);
}

TEST_F(HttpsFetch, ReportsAnAbruptCloseMidBody) {
    server_.set("/reset", fake_response{200, std::string(1000, 'x'), std::nullopt, 10, true});
    std::string body;
    const auto r = https_get_text(server_.url("/reset"), "*/*", 1 << 20, body);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("reading the response body failed"));
}

TEST_F(HttpsFetch, RefusesBodiesOverTheLimit) {
    server_.set("/big", fake_response{200, std::string(5000, 'x')});
    std::string body;
    const auto r = https_get_text(server_.url("/big"), "*/*", 4096, body);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("larger than the 4096 bytes accepted"));
}

TEST_F(HttpsFetch, ASinkThatSaysStopEndsTheTransfer) {
    server_.set("/asset", fake_response{200, std::string(100, 'x')});
    const auto r = https_get(server_.url("/asset"), "*/*", 4096, [](std::string_view) { return false; });
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("stopped by the receiver"));
}

TEST_F(HttpsFetch, ReportsAConnectionRefused) {
    std::string body;
    // Port 1 on loopback: nothing listens there in a test environment.
    const auto r = https_get_text("https://127.0.0.1:1/latest", "*/*", 1024, body);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("cannot connect to 127.0.0.1:1"));
}

TEST_F(HttpsFetch, TimesOutOnASilentServer) {
    // A listener that never accepts: connect succeeds (backlog), the TLS handshake never answers.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(fd, 4), 0);
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    https_limits limits;
    limits.io_timeout = 300ms;
    std::string body;
    const auto r =
        https_get_text("https://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/", "*/*", 1024, body, limits);
    ::close(fd);
    EXPECT_FALSE(r.ok);
    EXPECT_THAT(r.error, HasSubstr("TLS handshake"));
    EXPECT_THAT(r.error, HasSubstr("timed out"));
}
