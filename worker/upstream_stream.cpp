// The non-template parts of upstream_stream: TLS upgrade and hard close.
#include "worker/upstream_stream.hpp"

namespace clipal::worker {

upstream_stream::upstream_stream(tcp_stream tcp) : plain_(std::move(tcp)) {}

upstream_stream::~upstream_stream() = default;

void upstream_stream::upgrade_to_tls(boost::asio::ssl::context& ctx) {
    tls_.emplace(std::move(*plain_), ctx);
    plain_.reset();
}

void upstream_stream::close() noexcept {
    auto& t = tcp();
    boost::beast::error_code ec;
    // shutdown first: the FIN goes out even if another descriptor still refers to the socket.
    t.socket().shutdown(tcp_socket::shutdown_both, ec);
    t.close();
}

} // namespace clipal::worker
