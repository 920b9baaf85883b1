#include "supervisor/router.hpp"

#include "shared/connection_limits.hpp"
#include "shared/http_limits.hpp"
#include "shared/redact.hpp"
#include "shared/request_line.hpp"
#include "shared/route.hpp"
#include "supervisor/local_reply.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <unistd.h>

namespace clipal::supervisor {

// Reads just enough of a new connection to route it.
class router::connection : public std::enable_shared_from_this<router::connection> {
public:
    connection(router& r, boost::asio::ip::tcp::socket s, std::string addr, std::string bytes = {})
        : router_(r),
          registry_(r.reading_),
          socket_(std::move(s)),
          addr_(std::move(addr)),
          bytes_(std::move(bytes)),
          timer_(socket_.get_executor()) {
        registry_->insert(this);
    }
    ~connection() { registry_->erase(this); }

    void start() {
        timer_.expires_after(http_limits::new_connection_idle);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec) return;
            boost::system::error_code ignored;
            self->socket_.close(ignored);
        });
        if (bytes_.empty())
            read();
        else
            on_read({});
    }

    // For a re-execution: a duplicate of the socket and the bytes read so far.
    std::optional<upgrade_state::connection> snapshot() const {
        if (!socket_.is_open()) return std::nullopt;
        const int fd = ::dup(const_cast<boost::asio::ip::tcp::socket&>(socket_).native_handle());
        if (fd < 0) return std::nullopt;
        return upgrade_state::connection{fd, bytes_, addr_, false};
    }

    // Accepted past max_connections: its request is answered 503 instead of routed.
    void refuse_when_read() { over_capacity_ = true; }

private:
    void read() {
        socket_.async_read_some(boost::asio::buffer(chunk_),
                                [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                    self->bytes_.append(self->chunk_.data(), n);
                                    self->on_read(ec);
                                });
    }

    void on_read(boost::system::error_code ec) {
        if (ec) {
            timer_.cancel();
            return; // closed before a request: nothing to answer
        }
        if (!first_byte_seen_) {
            first_byte_seen_ = true;
            timer_.expires_after(http_limits::head_timeout);
            timer_.async_wait([self = shared_from_this()](boost::system::error_code e) {
                if (e) return;
                boost::system::error_code ignored;
                self->socket_.close(ignored);
            });
        }
        // The whole head is read here, within one deadline from its first byte, so the worker
        // gets it complete and cannot restart the clock (a head trickled in byte by byte).
        if (!head_length(bytes_) && bytes_.size() < http_limits::max_request_head) {
            read();
            return;
        }
        timer_.cancel();
        if (!first_line(bytes_)) {
            send_and_close(std::move(socket_),
                           error_response(protocol::openai, 431, "request line larger than 64 KiB"));
            return;
        }
        // An oversized head with a whole request line goes on: its worker answers 431.
        router_.decide(std::move(socket_), std::move(bytes_), std::move(addr_), over_capacity_);
    }

    router& router_;
    std::shared_ptr<registry> registry_;
    boost::asio::ip::tcp::socket socket_;
    std::string addr_;
    std::string bytes_;
    // Not zero-filled: only what a read stores is used, and a burst of connections would
    // otherwise touch (and keep resident) 4 KiB of heap each.
    std::array<char, 4096> chunk_;
    boost::asio::steady_timer timer_;
    bool first_byte_seen_ = false;
    bool over_capacity_ = false;
};

router::router(boost::asio::io_context& ioc, const clock& clk, logger& log, route_fn route)
    : ioc_(ioc),
      clock_(clk),
      log_(log),
      route_(std::move(route)),
      accept_retry_(ioc),
      faults_(log),
      fault_timer_(ioc) {}

router::~router() = default;

boost::system::error_code router::listen(const std::string& address, std::uint16_t port, std::string& error) {
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(address, ec);
    if (ec) {
        error = "listen_addr \"" + address + "\" is not an IP address";
        return ec;
    }
    auto next = std::make_unique<boost::asio::ip::tcp::acceptor>(ioc_);
    const boost::asio::ip::tcp::endpoint at(addr, port);
    next->open(at.protocol(), ec);
    if (!ec) next->set_option(boost::asio::socket_base::reuse_address(true), ec);
    if (!ec) next->bind(at, ec);
    if (!ec) next->listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error = "cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message();
        return ec;
    }
    // Swapping listeners: the old one stops accepting, its accepted connections live on.
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    acceptor_ = std::move(next);
    accept();
    return {};
}

bool router::adopt(boost::asio::ip::tcp::acceptor a, const std::string& address, std::uint16_t port) {
    boost::system::error_code ec, addr_ec;
    const auto at = a.local_endpoint(ec);
    const auto want = boost::asio::ip::make_address(address, addr_ec);
    if (ec || addr_ec || at.address() != want || at.port() != port) {
        boost::system::error_code ignored;
        a.close(ignored);
        return false;
    }
    acceptor_ = std::make_unique<boost::asio::ip::tcp::acceptor>(std::move(a));
    accept();
    return true;
}

void router::pause_accepting() {
    if (!acceptor_ || paused_) return;
    paused_ = true;
    boost::system::error_code ignored;
    acceptor_->cancel(ignored);
}

void router::resume_accepting() {
    if (!paused_) return;
    paused_ = false;
    if (acceptor_) accept();
}

std::vector<upgrade_state::connection> router::snapshot_reading() const {
    std::vector<upgrade_state::connection> out;
    for (const auto* c : *reading_)
        if (auto s = c->snapshot()) out.push_back(std::move(*s));
    return out;
}

void router::resume(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
    std::make_shared<connection>(*this, std::move(s), std::move(addr), std::move(bytes))->start();
}

void router::stop_accepting() {
    if (!acceptor_) return;
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    acceptor_.reset();
}

std::optional<boost::asio::ip::tcp::endpoint> router::local_endpoint() const {
    if (!acceptor_) return std::nullopt;
    boost::system::error_code ec;
    auto ep = acceptor_->local_endpoint(ec);
    if (ec) return std::nullopt;
    return ep;
}

void router::accept() {
    retrying_ = false;
    auto* current = acceptor_.get();
    current->async_accept([this, current](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
        if (current != acceptor_.get()) return; // replaced or stopped
        if (ec == boost::asio::error::operation_aborted) return;
        if (ec) {
            if (faults_.log(clock_.now(), log_level::warn, "failed accepts", "",
                            "accept failed: {}; trying again every {} ms while it fails", ec.message(),
                            accept_retry_delay.count()))
                arm_fault_summary();
            retry_accept_later();
            return;
        }
        boost::system::error_code e2;
        const auto verdict = admit(reading_->size(), max_connections_);
        const auto peer = s.remote_endpoint(e2);
        const std::string addr = e2 ? std::string("unknown") : peer.address().to_string();
        if (verdict == admission::drop) {
            if (faults_.log(clock_.now(), log_level::warn, "connections closed unanswered", "",
                            "closed a connection from {} unanswered: {} connections are being read or refused "
                            "(max_connections {})",
                            addr, reading_->size(), max_connections_))
                arm_fault_summary();
            s.close(e2);
        } else {
            s.set_option(boost::asio::ip::tcp::no_delay(true), e2);
            auto c = std::make_shared<connection>(*this, std::move(s), addr);
            if (verdict == admission::refuse) c->refuse_when_read();
            c->start();
        }
        // Paused after this connection was accepted: it is served, the next one waits.
        if (!paused_) accept();
    });
}

void router::retry_accept_later() {
    retrying_ = true;
    accept_retry_.expires_after(accept_retry_delay);
    accept_retry_.async_wait([this, current = acceptor_.get()](boost::system::error_code ec) {
        if (ec || !retrying_ || current != acceptor_.get()) return;
        retrying_ = false;
        if (!paused_) accept();
    });
}

void router::refuse(boost::asio::ip::tcp::socket s, std::string_view target, const std::string& addr,
                    bool head_request) {
    const auto m = match_route(target);
    const auto tag = m ? info(m->id).tag : std::string_view{};
    if (faults_.log(clock_.now(), log_level::warn, "requests refused over max_connections", tag,
                    "refused a request from {}: the router is reading max_connections ({}) connections", addr,
                    max_connections_))
        arm_fault_summary();
    send_and_close(std::move(s),
                   error_response(m ? info(m->id).proto : protocol::openai, 503,
                                  fmt::format("clipal has max_connections ({}) connections open; retry shortly",
                                              max_connections_),
                                  over_capacity_retry_after),
                   head_request);
}

std::size_t router::reading_count() const { return reading_->size(); }

void router::arm_fault_summary() { schedule_fault_summaries(faults_, clock_, fault_timer_); }

void router::reroute(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
    decide(std::move(s), std::move(bytes), std::move(addr));
}

void router::decide(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr, bool over_capacity) {
    const auto line = first_line(bytes);
    const auto parsed = line ? parse_request_line(*line) : std::nullopt;
    const auto target = parsed ? parsed->target : std::string_view{};
    const bool head_request = parsed && parsed->method == "HEAD";
    if (target == "/health") {
        send_and_close(std::move(s), health_response(), head_request);
        return;
    }
    if (local_paths_) {
        if (auto answer = local_paths_(target, bytes)) {
            send_and_close(std::move(s), *answer, head_request);
            return;
        }
    }
    if (over_capacity) {
        refuse(std::move(s), target, addr, head_request);
        return;
    }
    if (const auto m = match_route(target)) {
        route_(m->id, std::move(s), std::move(bytes), std::move(addr));
        return;
    }
    log_.debug("", "unknown path from {}: {}", addr, redact_target(target.substr(0, 200)));
    send_and_close(std::move(s),
                   error_response(protocol::openai, 404,
                                  "unknown path prefix; clipal serves /claudecode, /codex and /gemini "
                                  "(and /health)"),
                   head_request);
}

} // namespace clipal::supervisor
