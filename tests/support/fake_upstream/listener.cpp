// Accept loop of the fake upstream's listeners.
#include "support/fake_upstream/listener.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <iostream>

namespace clipal::test::fake_upstream {

namespace net = boost::asio;

listener::listener(net::io_context& ioc, const net::ip::tcp::endpoint& endpoint, handler on_accept)
    : ioc_(ioc), acceptor_(ioc), retry_timer_(ioc), on_accept_(std::move(on_accept)) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
    local_ = acceptor_.local_endpoint();
}

void listener::close() {
    boost::system::error_code ec;
    acceptor_.close(ec);
    retry_timer_.cancel();
}

void listener::do_accept() {
    acceptor_.async_accept(ioc_, [self = shared_from_this()](const boost::system::error_code& ec,
                                                             net::ip::tcp::socket socket) {
        self->on_accept(ec, std::move(socket));
    });
}

void listener::on_accept(const boost::system::error_code& ec, net::ip::tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (ec) {
        // Usually EMFILE under load: back off briefly instead of spinning.
        std::cerr << "fake-upstream: accept: " << ec.message() << std::endl;
        retry_timer_.expires_after(std::chrono::milliseconds(50));
        retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& wait_ec) {
            if (!wait_ec) self->do_accept();
        });
        return;
    }
    on_accept_(std::move(socket));
    do_accept();
}

} // namespace clipal::test::fake_upstream
