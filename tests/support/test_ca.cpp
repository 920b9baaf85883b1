// Builds the test PKI with OpenSSL 3: EC keys, X509 v3 certificates with SAN, PEM files.
#include "test_ca.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace clipal::test {
namespace {

struct pkey_free {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
struct bio_free {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct ext_free {
    void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;
using bio_ptr = std::unique_ptr<BIO, bio_free>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, ext_free>;

[[noreturn]] void fail(const std::string& what) {
    std::string msg = "test_ca: " + what;
    if (const unsigned long e = ERR_get_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        msg += ": ";
        msg += buf;
    }
    ERR_clear_error();
    throw std::runtime_error(msg);
}

void check(int ok, const char* what) {
    if (ok <= 0) fail(what);
}

pkey_ptr make_key() {
    pkey_ptr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!key) fail("EC key generation");
    return key;
}

// Distinct serials matter: a verifier that caches by issuer+serial must not confuse
// the certificates of two PKIs made in the same test run.
long next_serial() {
    static std::atomic<long> counter{0};
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    return static_cast<long>(std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000000L) +
           counter.fetch_add(1);
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    ext_ptr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext) fail(std::string("extension ") + OBJ_nid2sn(nid) + "=" + value);
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

x509_ptr make_cert(EVP_PKEY* key, const char* common_name, X509* issuer_cert, EVP_PKEY* issuer_key, bool is_ca) {
    x509_ptr cert(X509_new());
    if (!cert) fail("X509_new");
    check(X509_set_version(cert.get(), X509_VERSION_3), "X509_set_version");
    check(ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), next_serial()), "serial");
    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr) fail("notBefore");
    if (X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24L * 3600) == nullptr) fail("notAfter");
    check(X509_set_pubkey(cert.get(), key), "X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("clipal tests"),
                                     -1, -1, 0),
          "subject O");
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1,
                                     -1, 0),
          "subject CN");
    X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
    check(X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)), "issuer name");

    add_ext(cert.get(), issuer, NID_subject_key_identifier, "hash");
    if (is_ca) {
        add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        if (issuer_cert != nullptr) add_ext(cert.get(), issuer, NID_authority_key_identifier, "keyid:always");
        add_ext(cert.get(), issuer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
        add_ext(cert.get(), issuer, NID_ext_key_usage, "serverAuth");
        add_ext(cert.get(), issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    }
    if (X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) fail("X509_sign");
    return cert;
}

void write_file(const std::filesystem::path& path, const std::string& data, mode_t mode) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) throw std::runtime_error("test_ca: cannot create " + path.string() + ": " + std::strerror(errno));
    // open() honours the umask; fchmod makes the mode exact (keys must be 0600, certs readable).
    ::fchmod(fd, mode);
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            ::close(fd);
            throw std::runtime_error("test_ca: cannot write " + path.string());
        }
        off += static_cast<std::size_t>(n);
    }
    ::close(fd);
}

std::string bio_string(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(len));
}

void write_cert(const std::filesystem::path& path, X509* cert) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio) fail("BIO_new");
    check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
    write_file(path, bio_string(bio.get()), 0644);
}

void write_key(const std::filesystem::path& path, EVP_PKEY* key) {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio) fail("BIO_new");
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), "PEM_write_bio_PrivateKey");
    write_file(path, bio_string(bio.get()), 0600);
}

} // namespace

test_pki make_test_pki(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    test_pki pki{dir / "ca.pem", dir / "server.pem", dir / "server-key.pem", dir / "self-signed.pem",
                 dir / "self-signed-key.pem"};

    const pkey_ptr ca_key = make_key();
    const x509_ptr ca = make_cert(ca_key.get(), "clipal test CA", nullptr, ca_key.get(), true);
    const pkey_ptr server_key = make_key();
    const x509_ptr server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), false);
    const pkey_ptr self_key = make_key();
    const x509_ptr self = make_cert(self_key.get(), "localhost", nullptr, self_key.get(), false);

    write_cert(pki.ca_cert, ca.get());
    write_cert(pki.server_cert, server.get());
    write_key(pki.server_key, server_key.get());
    write_cert(pki.self_signed_cert, self.get());
    write_key(pki.self_signed_key, self_key.get());
    return pki;
}

} // namespace clipal::test
