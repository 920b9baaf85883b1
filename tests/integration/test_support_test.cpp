// Tests of the test tools themselves: the PKI, child_process and http_probe.
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

namespace {

using clipal::test::make_test_pki;
using clipal::test::temp_dir;

struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

x509_ptr read_cert(const std::filesystem::path& p) {
    std::FILE* f = std::fopen(p.c_str(), "r");
    if (f == nullptr) return nullptr;
    x509_ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return cert;
}

// Returns the X509_V_* result of verifying `leaf` against a store holding only `ca`,
// for the loopback IP 127.0.0.1.
int verify(X509* ca, X509* leaf) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
    X509_STORE_add_cert(store.get(), ca);
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx.get()), "127.0.0.1");
    X509_verify_cert(ctx.get());
    return X509_STORE_CTX_get_error(ctx.get());
}

TEST(TestPki, ServerCertVerifiesAgainstCaForLoopback) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path() / "pki");
    const auto ca = read_cert(pki.ca_cert);
    const auto server = read_cert(pki.server_cert);
    ASSERT_TRUE(ca && server);
    EXPECT_EQ(verify(ca.get(), server.get()), X509_V_OK);
    EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(server.get(), "::1", 0), 1);
    EXPECT_EQ(X509_check_host(server.get(), "example.com", 0, 0, nullptr), 0);
}

TEST(TestPki, SelfSignedCertIsNotTrustedByCa) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path());
    const auto ca = read_cert(pki.ca_cert);
    const auto self = read_cert(pki.self_signed_cert);
    ASSERT_TRUE(ca && self);
    EXPECT_NE(verify(ca.get(), self.get()), X509_V_OK);
    EXPECT_EQ(X509_check_ip_asc(self.get(), "127.0.0.1", 0), 1);
}

TEST(TestPki, KeysAreOwnerOnly) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path());
    using std::filesystem::perms;
    const auto owner_rw = perms::owner_read | perms::owner_write;
    EXPECT_EQ(std::filesystem::status(pki.server_key).permissions() & perms::all, owner_rw);
    EXPECT_EQ(std::filesystem::status(pki.self_signed_key).permissions() & perms::all, owner_rw);
}

} // namespace
