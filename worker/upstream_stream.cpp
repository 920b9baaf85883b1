// The non-template parts of upstream_stream: TLS upgrade, hard close, and the idle
// liveness probe the pool runs before handing a kept-alive connection out again.
#include "worker/upstream_stream.hpp"

#include <openssl/ssl.h>

#include <sys/socket.h>

#include <cerrno>

namespace clipal::worker {

upstream_stream::upstream_stream(boost::beast::tcp_stream tcp) : plain_(std::move(tcp)) {}

upstream_stream::~upstream_stream() = default;

void upstream_stream::upgrade_to_tls(boost::asio::ssl::context& ctx) {
    tls_.emplace(std::move(*plain_), ctx);
    plain_.reset();
}

void upstream_stream::close() noexcept {
    auto& t = tcp();
    boost::beast::error_code ec;
    // shutdown first: the FIN goes out even if another descriptor still refers to the socket.
    t.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    t.close();
}

bool upstream_stream::idle_healthy() noexcept {
    auto& socket = tcp().socket();
    if (!socket.is_open()) return false;
    if (tls_ && ::SSL_pending(tls_->native_handle()) > 0) return false;
    char byte = 0;
    ssize_t n = 0;
    do {
        n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    // 0 is EOF, > 0 is stray data (a close_notify, a 408, junk); either way not reusable.
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

} // namespace clipal::worker
