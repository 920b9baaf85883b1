// In-process loopback peers for the upstream client tests, all on the test's io_context:
// a keep-alive HTTP server (plain or TLS) that counts accepts and records requests, a fake
// CONNECT proxy that records what it was asked and splices bytes, and run_until() to drive
// the io_context until a condition holds or a deadline passes.
#pragma once

#include "worker/upstream_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipal::test {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using boost::system::error_code;

// Runs handlers until pred() is true; false if `timeout` passed first.
template <class Pred>
bool run_until(net::io_context& ioc, Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.run_one_for(std::chrono::milliseconds(10));
        if (ioc.stopped()) ioc.restart();
    }
    return true;
}

// Sets an environment variable for one scope and restores what was there.
class scoped_env {
public:
    scoped_env(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~scoped_env() {
        if (old_)
            ::setenv(name_, old_->c_str(), 1);
        else
            ::unsetenv(name_);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

// The client context as production builds it, trusting `ca` through SSL_CERT_FILE.
std::shared_ptr<net::ssl::context> trusting_client_context(const std::filesystem::path& ca);
std::shared_ptr<net::ssl::context> server_tls_context(const std::filesystem::path& cert,
                                                      const std::filesystem::path& key);

// What an http_server saw; shared with its sessions so they never outlive it.
struct server_record {
    int accepted = 0;
    int handshakes = 0;
    int requests = 0;
    int peer_closed = 0;                        // connections the client closed (EOF or reset)
    std::vector<std::string> targets;           // request-target of each request
    std::vector<std::string> hosts;             // Host header of each request
    std::vector<std::string> sni;               // server name each TLS client sent ("" for none)
    std::vector<std::function<void()>> closers; // one per live connection
};

// Answers every request with 200 and a keep-alive body naming the request count.
class http_server {
public:
    explicit http_server(net::io_context& ioc, std::shared_ptr<net::ssl::context> tls = nullptr,
                         const std::string& address = "127.0.0.1")
        : acceptor_(ioc, tcp::endpoint(net::ip::make_address(address), 0)), tls_(std::move(tls)) {
        do_accept();
    }

    unsigned short port() const { return acceptor_.local_endpoint().port(); }
    std::string port_string() const { return std::to_string(port()); }
    const server_record& record() const { return *record_; }

    // Closes every connection from the server side (as a server dropping idle keep-alives does).
    void close_connections() {
        auto closers = std::move(record_->closers);
        for (auto& c : closers) c();
    }

private:
    void do_accept();

    tcp::acceptor acceptor_;
    std::shared_ptr<net::ssl::context> tls_;
    std::shared_ptr<server_record> record_ = std::make_shared<server_record>();
};

// A listening socket that never accepts: TCP connects complete (backlog), nothing answers.
class silent_listener {
public:
    explicit silent_listener(net::io_context& ioc)
        : acceptor_(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)) {}
    std::string port_string() const { return std::to_string(acceptor_.local_endpoint().port()); }

private:
    tcp::acceptor acceptor_;
};

// A port nothing listens on: bound once to learn a free number, then closed.
std::string closed_port(net::io_context& ioc);

struct proxy_record {
    int accepted = 0;
    std::vector<std::string> heads; // each CONNECT request head, up to and including the blank line
};

// A CONNECT proxy. `status` 200 opens a tunnel to 127.0.0.1:<port from the request>;
// another status is sent with an empty body and the connection closed; `silent` reads the
// request and never answers.
class fake_proxy {
public:
    explicit fake_proxy(net::io_context& ioc, int status = 200, bool silent = false)
        : ioc_(ioc),
          acceptor_(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
          status_(status),
          silent_(silent) {
        do_accept();
    }

    std::string port_string() const { return std::to_string(acceptor_.local_endpoint().port()); }
    const proxy_record& record() const { return *record_; }

private:
    struct tunnel;
    void do_accept();
    void on_head(const std::shared_ptr<tunnel>& t);

    net::io_context& ioc_;
    tcp::acceptor acceptor_;
    int status_;
    bool silent_;
    std::shared_ptr<proxy_record> record_ = std::make_shared<proxy_record>();
    std::vector<std::shared_ptr<tunnel>> silent_tunnels_;
};

// Sends GET `target` with Host `host` over the stream and reads the response; returns the
// body, or nothing on any failure or after `timeout`.
std::optional<std::string> exchange(net::io_context& ioc, worker::upstream_stream& stream, const std::string& target,
                                    const std::string& host,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace clipal::test
