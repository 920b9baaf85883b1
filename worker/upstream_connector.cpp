// The connection attempt's state machine. One steady_timer carries the current stage's
// deadline; when it fires, or on cancel(), the attempt completes at once and the
// operations still pending are closed and their completions ignored (a blocked DNS
// lookup cannot hold the caller past its deadline).
#include "worker/upstream_connector.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/http/read.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <charconv>
#include <optional>

namespace clipal::worker {
namespace net = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

// Bounds what a proxy may send before the tunnel opens; real answers are ~100 bytes.
constexpr std::size_t proxy_head_limit = 8 * 1024;

// boost::system::error_category has a protected non-virtual destructor by design
// (categories are never deleted through a base pointer); GCC still warns.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class upstream_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "clipal.upstream"; }
    std::string message(int ev) const override {
        switch (static_cast<upstream_errc>(ev)) {
        case upstream_errc::proxy_auth_required: return "proxy requires authentication (407)";
        case upstream_errc::proxy_refused: return "proxy refused the CONNECT tunnel";
        case upstream_errc::proxy_bad_response: return "proxy sent an invalid answer to CONNECT";
        }
        return "unknown upstream error";
    }
};
#pragma GCC diagnostic pop

bool is_ip_literal(const std::string& host) {
    error_code ec;
    (void)net::ip::make_address(host, ec);
    return !ec;
}

// The endpoint for an IP-literal host and a decimal port; nothing for a host name.
std::optional<net::ip::tcp::endpoint> literal_endpoint(const std::string& host, const std::string& port) {
    error_code ec;
    const auto address = net::ip::make_address(host, ec);
    unsigned short number = 0;
    const auto [end, err] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec || err != std::errc{} || end != port.data() + port.size()) return std::nullopt;
    return net::ip::tcp::endpoint(address, number);
}

} // namespace

const boost::system::error_category& upstream_category() noexcept {
    static const upstream_category_impl category;
    return category;
}

error_code make_error_code(upstream_errc e) noexcept { return {static_cast<int>(e), upstream_category()}; }

std::string_view to_string(connect_stage s) noexcept {
    switch (s) {
    case connect_stage::resolve: return "resolve";
    case connect_stage::connect: return "connect";
    case connect_stage::proxy: return "proxy";
    case connect_stage::tls: return "tls";
    case connect_stage::done: return "done";
    }
    return "unknown";
}

upstream_connector::upstream_connector(executor ex, std::shared_ptr<net::ssl::context> tls_ctx, upstream_target target,
                                       std::optional<proxy_endpoint> proxy, connect_timeouts timeouts)
    : ex_(ex),
      tls_ctx_(std::move(tls_ctx)),
      target_(std::move(target)),
      proxy_(std::move(proxy)),
      timeouts_(timeouts),
      resolver_(ex),
      deadline_(ex),
      proxy_buffer_(proxy_head_limit) {}

void upstream_connector::start(handler_type handler) {
    handler_ = std::move(handler);
    if (target_.tls && !tls_ctx_) {
        stage_ = connect_stage::tls;
        detail_ = "no TLS context configured";
        finish(net::error::no_protocol_option);
        return;
    }
    stage_ = connect_stage::resolve;
    arm(timeouts_.connect);
    const auto& host = proxy_ ? proxy_->host : target_.host;
    const auto& port = proxy_ ? proxy_->port : target_.port;
    if (const auto endpoint = literal_endpoint(host, port)) {
        // Asio resolves on a private thread; an address needs no lookup, and skipping it
        // saves two thread hand-offs and a getaddrinfo per new connection.
        stage_ = connect_stage::connect;
        stream_ = std::make_unique<upstream_stream>(tcp_stream(ex_));
        stream_->tcp().async_connect(*endpoint, boost::beast::bind_front_handler(&upstream_connector::on_connect,
                                                                                 shared_from_this()));
        return;
    }
    resolver_.async_resolve(host, port, tcp_resolver::numeric_service,
                            boost::beast::bind_front_handler(&upstream_connector::on_resolve, shared_from_this()));
}

void upstream_connector::cancel() {
    if (finished_) return;
    finish(net::error::operation_aborted);
}

void upstream_connector::arm(std::chrono::nanoseconds timeout) {
    deadline_.expires_after(timeout);
    deadline_.async_wait(boost::beast::bind_front_handler(&upstream_connector::on_deadline, shared_from_this()));
}

void upstream_connector::on_deadline(error_code ec) {
    // A re-arm cancels the previous wait; a wait that had already fired before the
    // re-arm arrives here without error but before the new expiry.
    if (ec || finished_ || deadline_.expiry() > steady_timer::clock_type::now()) return;
    finish(net::error::timed_out);
}

void upstream_connector::on_resolve(error_code ec, tcp_resolver::results_type results) {
    if (finished_) return;
    if (ec) return finish(ec);
    stage_ = connect_stage::connect;
    stream_ = std::make_unique<upstream_stream>(tcp_stream(ex_));
    stream_->tcp().async_connect(results, [self = shared_from_this()](error_code e, const net::ip::tcp::endpoint&) {
        self->on_connect(e);
    });
}

void upstream_connector::on_connect(error_code ec) {
    if (finished_) return;
    if (ec) return finish(ec);
    // Requests are written whole and SSE events must leave at once: no Nagle delay.
    error_code ignored;
    stream_->tcp().socket().set_option(net::ip::tcp::no_delay(true), ignored);
    if (proxy_) return do_proxy_connect();
    do_tls();
}

void upstream_connector::do_proxy_connect() {
    stage_ = connect_stage::proxy;
    const auto authority = target_.bracketed_host() + ":" + target_.port;
    proxy_request_ = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (!proxy_->authorization.empty()) proxy_request_ += "Proxy-Authorization: " + proxy_->authorization + "\r\n";
    proxy_request_ += "\r\n";
    net::async_write(stream_->tcp(), net::buffer(proxy_request_),
                     [self = shared_from_this()](error_code e, std::size_t) { self->on_proxy_write(e); });
}

void upstream_connector::on_proxy_write(error_code ec) {
    if (finished_) return;
    if (ec) return finish(ec);
    proxy_parser_.emplace();
    proxy_parser_->header_limit(static_cast<std::uint32_t>(proxy_head_limit));
    http::async_read_header(stream_->tcp(), proxy_buffer_, *proxy_parser_,
                            [self = shared_from_this()](error_code e, std::size_t) { self->on_proxy_read(e); });
}

void upstream_connector::on_proxy_read(error_code ec) {
    if (finished_) return;
    if (ec) return finish(ec);
    const auto& head = proxy_parser_->get();
    const unsigned status = head.result_int();
    if (status < 200 || status > 299) {
        detail_ = "proxy " + proxy_->key() + " answered " + std::to_string(status) + " " + std::string(head.reason());
        return finish(status == 407 ? upstream_errc::proxy_auth_required : upstream_errc::proxy_refused);
    }
    // The origin has not been sent anything yet, so nothing can legitimately follow the
    // proxy's head; bytes here would be lost or, worse, read as the origin's response.
    if (proxy_buffer_.size() != 0) {
        detail_ = "proxy " + proxy_->key() + " sent data after its 2xx answer";
        return finish(upstream_errc::proxy_bad_response);
    }
    do_tls();
}

void upstream_connector::do_tls() {
    if (!target_.tls) return finish({});
    stage_ = connect_stage::tls;
    stream_->upgrade_to_tls(*tls_ctx_);
    SSL* ssl = stream_->ssl().native_handle();
    X509_VERIFY_PARAM* param = ::SSL_get0_param(ssl);
    int ok = 0;
    if (is_ip_literal(target_.host)) {
        // RFC 6066: SNI carries host names only; an IP literal is checked against the
        // certificate's IP SANs.
        ok = ::X509_VERIFY_PARAM_set1_ip_asc(param, target_.host.c_str());
    } else {
        ::X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = ::X509_VERIFY_PARAM_set1_host(param, target_.host.c_str(), target_.host.size()) == 1 &&
             ::SSL_set_tlsext_host_name(ssl, target_.host.c_str()) == 1;
    }
    if (ok != 1) {
        detail_ = "cannot set up host name verification";
        return finish(error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category()));
    }
    arm(timeouts_.tls);
    stream_->ssl().async_handshake(net::ssl::stream_base::client,
                                   boost::beast::bind_front_handler(&upstream_connector::on_handshake,
                                                                    shared_from_this()));
}

void upstream_connector::on_handshake(error_code ec) {
    if (finished_) return;
    if (ec) {
        if (const long verdict = ::SSL_get_verify_result(stream_->ssl().native_handle()); verdict != X509_V_OK)
            detail_ = std::string("certificate rejected: ") + ::X509_verify_cert_error_string(verdict);
        return finish(ec);
    }
    finish({});
}

void upstream_connector::finish(error_code ec) {
    finished_ = true;
    deadline_.cancel();
    std::unique_ptr<upstream_stream> result;
    if (ec) {
        // Pending operations still refer to the stream, so it is closed here and
        // destroyed with the connector, after their completions have run.
        resolver_.cancel();
        if (stream_) stream_->close();
    } else {
        stage_ = connect_stage::done;
        result = std::move(stream_);
    }
    net::post(ex_, [h = std::move(handler_), ec, stage = stage_, s = std::move(result)]() mutable {
        h(ec, stage, std::move(s));
    });
}

} // namespace clipal::worker
