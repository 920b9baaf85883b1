// Client TLS settings. Host name checks and SNI are per connection (upstream_connector);
// this file holds what is the same for all of them.
#include "worker/tls_context.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/ssl.h>

namespace clipal::worker {
namespace {

[[noreturn]] void throw_openssl(const char* what) {
    throw boost::system::system_error(boost::system::error_code(static_cast<int>(::ERR_get_error()),
                                                                boost::asio::error::get_ssl_category()),
                                      what);
}

} // namespace

std::shared_ptr<boost::asio::ssl::context> make_client_tls_context() {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    if (::SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION) != 1)
        throw_openssl("cannot require TLS 1.2 or newer");
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ctx->set_default_verify_paths();
    ctx->set_verify_mode(ssl::verify_peer);
    // Wire format: length-prefixed protocol names.
    static constexpr unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    if (::SSL_CTX_set_alpn_protos(ctx->native_handle(), alpn, sizeof alpn) != 0)
        throw_openssl("cannot set ALPN to http/1.1");
    return ctx;
}

} // namespace clipal::worker
