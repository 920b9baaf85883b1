// The public listener and prefix router: reads each connection's first request head,
// answers /health and unknown prefixes itself, and passes the connection — descriptor
// plus the bytes already read — to the profile's worker. The router never relays data.
#pragma once

#include "shared/clock.hpp"
#include "shared/fault_log.hpp"
#include "shared/local_response.hpp"
#include "shared/log.hpp"
#include "shared/profile.hpp"
#include "supervisor/upgrade_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

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

    router(boost::asio::io_context& ioc, const clock& clk, logger& log, route_fn route);
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
    // The connections this router may be reading at once (shared/connection_limits.hpp).
    void set_max_connections(std::uint64_t n) { max_connections_ = n; }
    // Answers for paths the supervisor serves itself besides /health (GET /metrics): given
    // the path and the head bytes read, the answer, or nullopt for a path it does not serve.
    using local_fn = std::function<std::optional<local_response>(std::string_view target, std::string_view head)>;
    void set_local_paths(local_fn f) { local_paths_ = std::move(f); }
    // Connections the router is reading a request head from now.
    std::size_t reading_count() const;
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
    // After a failed accept: accept again in accept_retry_delay, not at once.
    void retry_accept_later();
    // `over_capacity`: read past max_connections, answered 503 (/health excepted).
    void decide(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr, bool over_capacity = false);
    // Answers a connection read past max_connections: the 503 of the protocol its path names.
    void refuse(boost::asio::ip::tcp::socket s, std::string_view target, const std::string& addr, bool head_request);
    void arm_fault_summary();

    boost::asio::io_context& ioc_;
    const clock& clock_;
    logger& log_;
    route_fn route_;
    std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
    bool paused_ = false;
    boost::asio::steady_timer accept_retry_;
    bool retrying_ = false; // accept_retry_ is armed; any accept() supersedes it
    std::uint64_t max_connections_ = 4096;
    local_fn local_paths_;
    // Failed accepts and refusals come at the clients' rate: one line per burst.
    fault_log faults_;
    boost::asio::steady_timer fault_timer_;
    // Connections register themselves; shared because they may outlive the router in
    // handlers the io_context destroys last.
    std::shared_ptr<registry> reading_ = std::make_shared<registry>();
};

} // namespace clipal::supervisor
