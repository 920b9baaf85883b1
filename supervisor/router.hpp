// The public listener and prefix router: reads each connection's first request line,
// answers /health and unknown prefixes itself, and passes the connection — descriptor
// plus the bytes already read — to the profile's worker. The router never relays data.
#pragma once

#include "shared/log.hpp"
#include "shared/profile.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace clipal::supervisor {

class router {
public:
    using route_fn = std::function<void(profile, boost::asio::ip::tcp::socket, std::string bytes, std::string addr)>;

    router(boost::asio::io_context& ioc, logger& log, route_fn route);
    ~router();

    // Binds the public listener. On a rebind the old listener stays open until the new one
    // is bound, and open connections are never touched. Errors name the address.
    boost::system::error_code listen(const std::string& address, std::uint16_t port, std::string& error);
    void stop_accepting();
    std::optional<boost::asio::ip::tcp::endpoint> local_endpoint() const;

    // A connection with bytes already read (a worker handed it back): route it again.
    void reroute(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr);

private:
    class connection;
    void accept();
    void decide(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr);

    boost::asio::io_context& ioc_;
    logger& log_;
    route_fn route_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
};

} // namespace clipal::supervisor
