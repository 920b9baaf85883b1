// One attempt to open a connection to an upstream: resolve (skipped for an IP literal), TCP
// connect (each address in turn), an optional HTTP CONNECT tunnel through a proxy, then the
// TLS handshake with SNI and host-name verification. Each stage runs under a deadline; the attempt can be
// cancelled at any point.
#pragma once

#include "worker/asio_types.hpp"
#include "worker/proxy_settings.hpp"
#include "worker/upstream_stream.hpp"
#include "worker/upstream_target.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace clipal::worker {

// Errors of the proxy stage that have no system error code.
enum class upstream_errc {
    proxy_auth_required = 1, // the proxy answered CONNECT with 407
    proxy_refused,           // the proxy answered CONNECT with another non-2xx status
    proxy_bad_response,      // malformed, oversized, or followed by unexpected bytes
};

const boost::system::error_category& upstream_category() noexcept;
boost::system::error_code make_error_code(upstream_errc e) noexcept;

// How far an attempt got: on failure the stage that failed, `done` on success.
enum class connect_stage { resolve, connect, proxy, tls, done };

std::string_view to_string(connect_stage s) noexcept;

struct connect_timeouts {
    // Covers resolve + TCP connect + the proxy's CONNECT answer together.
    std::chrono::nanoseconds connect = std::chrono::seconds(10);
    // Covers the TLS handshake alone.
    std::chrono::nanoseconds tls = std::chrono::seconds(10);
};

class upstream_connector : public std::enable_shared_from_this<upstream_connector> {
public:
    // Called exactly once, always through the executor (never from inside start() or
    // cancel()). On success: no error, stage `done`, a connected stream. On failure: the
    // error (boost::asio::error::timed_out when a deadline passed, operation_aborted after
    // cancel()), the stage that failed, and a null stream.
    using handler_type =
        std::function<void(boost::system::error_code, connect_stage, std::unique_ptr<upstream_stream>)>;

    // `tls_ctx` is needed only for https targets. `proxy` is the result of
    // proxy_settings::proxy_for for this target.
    upstream_connector(executor ex, std::shared_ptr<boost::asio::ssl::context> tls_ctx, upstream_target target,
                       std::optional<proxy_endpoint> proxy, connect_timeouts timeouts);

    // Starts the attempt; call once. Keeps the connector alive until it completes.
    void start(handler_type handler);

    // Abandons the attempt: sockets close at once and the handler receives
    // operation_aborted (unless it already completed). Safe to call at any time after start().
    void cancel();

    // What the error code alone does not say, for log lines: the proxy's status line when
    // it refused the tunnel, OpenSSL's certificate verdict ("hostname mismatch",
    // "self-signed certificate", ...) when verification failed; empty otherwise.
    const std::string& detail() const noexcept { return detail_; }

private:
    void arm(std::chrono::nanoseconds timeout);
    void on_deadline(boost::system::error_code ec);
    void on_resolve(boost::system::error_code ec, tcp_resolver::results_type results);
    void on_connect(boost::system::error_code ec);
    void do_proxy_connect();
    void on_proxy_write(boost::system::error_code ec);
    void on_proxy_read(boost::system::error_code ec);
    void do_tls();
    void on_handshake(boost::system::error_code ec);
    // Ends the attempt once: closes what is open and posts the handler. Completions of
    // operations still pending afterwards see finished_ and do nothing.
    void finish(boost::system::error_code ec);

    executor ex_;
    std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
    upstream_target target_;
    std::optional<proxy_endpoint> proxy_;
    connect_timeouts timeouts_;
    handler_type handler_;

    tcp_resolver resolver_;
    steady_timer deadline_;
    std::unique_ptr<upstream_stream> stream_;
    std::string proxy_request_;
    boost::beast::flat_buffer proxy_buffer_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::empty_body>> proxy_parser_;
    std::string detail_;
    connect_stage stage_ = connect_stage::resolve;
    bool finished_ = false;
};

} // namespace clipal::worker

template <>
struct boost::system::is_error_code_enum<clipal::worker::upstream_errc> : std::true_type {};
