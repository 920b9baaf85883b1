// The one OpenSSL client context a worker uses for every upstream: TLS 1.2 or newer,
// the system trust store through OpenSSL's default paths, peer verification required.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace clipal::worker {

// Builds the client context. Trust comes from OpenSSL's default locations, so
// SSL_CERT_FILE / SSL_CERT_DIR (read now, at creation) replace the system store.
// ALPN offers only http/1.1, the protocol the forwarder speaks.
// Throws boost::system::system_error when OpenSSL cannot set the context up (startup only).
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context();

} // namespace clipal::worker
