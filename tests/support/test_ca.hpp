// A throwaway PKI for tests: a CA, a server certificate it issued for the loopback names,
// and a self-signed pair the CA did not issue (for "untrusted certificate" cases).
// Generated in-process with the OpenSSL 3 API; no openssl command line needed.
#pragma once

#include <filesystem>

namespace clipal::test {

struct test_pki {
    std::filesystem::path ca_cert;          // PEM; point SSL_CERT_FILE here to trust the CA
    std::filesystem::path server_cert;      // PEM, issued by ca_cert
    std::filesystem::path server_key;       // PEM (PKCS#8), mode 0600
    std::filesystem::path self_signed_cert; // PEM, same SANs, NOT issued by ca_cert
    std::filesystem::path self_signed_key;  // PEM (PKCS#8), mode 0600
};

// Writes ca.pem, server.pem, server-key.pem, self-signed.pem and self-signed-key.pem into
// `dir` (created if missing). Keys are EC P-256; the server and self-signed certificates
// carry SAN DNS:localhost, IP:127.0.0.1, IP:::1 and are valid from now-1h for one day.
// Throws std::runtime_error (with OpenSSL's reason) on any failure.
test_pki make_test_pki(const std::filesystem::path& dir);

} // namespace clipal::test
