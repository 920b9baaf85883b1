// The supervisor's control socket: an owner-only AF_UNIX stream socket that answers
// `clipal status|reload|stop`. One JSON request line per connection, one JSON reply line,
// then close. Single-threaded on the supervisor's executor; bounded in every dimension.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace clipal::supervisor {

class control_server {
public:
    // Delivers the reply; call it at most once, from any thread (it posts to the
    // server's executor). Calls after the connection's deadline are ignored.
    using responder = std::function<void(boost::json::value reply)>;
    // Called on the executor with the request's "command" string as the client sent it
    // (status, reload, stop, or anything else: answer unknown ones with error_reply()).
    // May respond later, e.g. after collecting the workers' status; a handler that never
    // responds only costs the connection its deadline.
    using handler = std::function<void(const std::string& command, responder respond)>;

    struct limits {
        std::size_t max_request_bytes = 4096;     // the request line, newline included
        std::chrono::milliseconds deadline{5000}; // per connection, from accept to reply written
        std::size_t max_connections = 16;         // beyond this, accepting pauses (the backlog waits)
    };

    // `socket_path` is usually control_socket_path(config_dir); `config_dir` is only used
    // in messages.
    control_server(const boost::asio::any_io_executor& ex, std::filesystem::path socket_path,
                   std::filesystem::path config_dir, handler h);
    control_server(const boost::asio::any_io_executor& ex, std::filesystem::path socket_path,
                   std::filesystem::path config_dir, handler h, limits l);
    // Calls stop().
    ~control_server();
    control_server(const control_server&) = delete;
    control_server& operator=(const control_server&) = delete;

    // Takes the instance lock beside the socket, removes a stale socket file left by a dead
    // instance, binds (file mode 0600) and starts accepting. Throws std::runtime_error with
    // a user-facing message, notably "another clipal is already serving config dir X (pid N)"
    // when a live instance owns the socket. Call once, on the executor's thread or before
    // the executor runs.
    void start();

    // Stops accepting, removes the socket file (if it is still ours) and releases the lock.
    // Connections already writing their reply finish it (bounded by their deadline); the
    // others are closed. Idempotent; call on the executor's thread.
    void stop();

    const std::filesystem::path& socket_path() const { return socket_path_; }
    // Connections not yet done (reading, handling or writing their reply).
    std::size_t open_connections() const;

    // {"ok":false,"error":<message>}: the reply shape for every failure.
    static boost::json::value error_reply(std::string_view message);

    struct state; // shared with the connections, defined in the .cpp

private:
    std::filesystem::path socket_path_;
    std::filesystem::path config_dir_;
    std::shared_ptr<state> state_;
};

} // namespace clipal::supervisor
