// The public listener and prefix router: reads each connection's first request head,
// answers /health and unknown prefixes itself, and passes the connection — descriptor
// plus the bytes already read — to the profile's worker. The router never relays data.
#pragma once

#include "shared/log.hpp"
#include "shared/profile.hpp"
#include "supervisor/upgrade_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

namespace clipal::supervisor {

class router {
public:
    using route_fn = std::function<void(profile, boost::asio::ip::tcp::socket, std::string bytes, std::string addr)>;

    router(boost::asio::io_context& ioc, logger& log, route_fn route);
    ~router();

    // Binds the public listener. On a rebind the old listener stays open until the new one
    // is bound, and open connections are never touched. Errors name the address.
    boost::system::error_code listen(const std::string& address, std::uint16_t port, std::string& error);
    // Serves a listener inherited from the previous image (see upgrade_state.hpp) when it
    // is bound to `address`:`port`; false (and `a` closed) when it is not.
    bool adopt(boost::asio::ip::tcp::acceptor a, const std::string& address, std::uint16_t port);
    void stop_accepting();
    // Stops taking connections from the backlog without closing the listener (clients
    // wait in the backlog instead of being refused), and starts again.
    void pause_accepting();
    void resume_accepting();
    std::optional<boost::asio::ip::tcp::endpoint> local_endpoint() const;
    int listener_handle() const { return acceptor_ ? acceptor_->native_handle() : -1; }

    // A connection with bytes already read (a worker handed it back): route it again.
    void reroute(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr);
    // A connection whose first request head was still being read by the previous image.
    void resume(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr);

    // Duplicates of the connections still being read, with what was read so far, for a
    // re-execution. The connections themselves are left as they are.
    std::vector<upgrade_state::connection> snapshot_reading() const;

private:
    class connection;
    using registry = std::unordered_set<connection*>;
    void accept();
    void decide(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr);

    boost::asio::io_context& ioc_;
    logger& log_;
    route_fn route_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
    bool paused_ = false;
    // Connections register themselves; shared because they may outlive the router in
    // handlers the io_context destroys last.
    std::shared_ptr<registry> reading_ = std::make_shared<registry>();
};

} // namespace clipal::supervisor
