// A TCP acceptor that hands each accepted socket to a callback; close() makes later
// connection attempts fail with "connection refused" (the `refuse` step).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>

namespace clipal::test::fake_upstream {

class listener : public std::enable_shared_from_this<listener> {
public:
    using handler = std::function<void(boost::asio::ip::tcp::socket)>;

    // Binds and listens at once (port 0 picks a free port); throws boost::system::system_error.
    listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint, handler on_accept);

    boost::asio::ip::tcp::endpoint local_endpoint() const { return local_; }
    void run() { do_accept(); }
    void close();

private:
    void do_accept();
    void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& ioc_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;
    boost::asio::ip::tcp::endpoint local_;
    handler on_accept_;
};

} // namespace clipal::test::fake_upstream
