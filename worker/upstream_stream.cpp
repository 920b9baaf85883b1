// The non-template parts of upstream_stream: TLS upgrade, the shared readiness wait and
// hard close.
#include "worker/upstream_stream.hpp"

#include <utility>

namespace clipal::worker {

upstream_stream::upstream_stream(tcp_stream tcp) : plain_(std::move(tcp)) {}

upstream_stream::~upstream_stream() = default;

void upstream_stream::upgrade_to_tls(boost::asio::ssl::context& ctx) {
    tls_.emplace(std::move(*plain_), ctx);
    plain_.reset();
}

void upstream_stream::await_readable(std::weak_ptr<readable_sink> sink, std::uint64_t tag) {
    wait_->sink = std::move(sink);
    wait_->tag = tag;
    if (wait_->pending) return;
    wait_->pending = true;
    tcp().socket().async_wait(boost::asio::socket_base::wait_read, [state = wait_](boost::system::error_code ec) {
        state->pending = false;
        auto to = std::exchange(state->sink, {}).lock();
        if (to) to->on_readable(state->tag, ec);
    });
}

void upstream_stream::close() noexcept {
    auto& t = tcp();
    boost::beast::error_code ec;
    // shutdown first: the FIN goes out even if another descriptor still refers to the socket.
    t.socket().shutdown(tcp_socket::shutdown_both, ec);
    t.close();
}

} // namespace clipal::worker
