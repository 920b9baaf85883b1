#include "worker/client_session.hpp"

#include "shared/error_body.hpp"
#include "shared/route.hpp"
#include "worker/forwarder.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <boost/beast/core/string.hpp>

#include <cstring>

namespace clipal::worker {
namespace {

constexpr std::uint32_t max_request_head = 64 * 1024;
// How long a kept-alive connection may sit idle before its next request starts.
constexpr auto keep_alive_idle = std::chrono::seconds(75);
// SPEC §5: reading a client's request head is bounded.
constexpr auto head_timeout = std::chrono::seconds(10);
constexpr auto body_timeout = std::chrono::seconds(120);
constexpr auto local_write_timeout = std::chrono::seconds(30);
constexpr auto linger_timeout = std::chrono::seconds(2);

std::string_view request_target_of(std::string_view line) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return {};
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return {};
    return line.substr(sp1 + 1, sp2 - sp1 - 1);
}

std::string_view buffer_view(const boost::beast::flat_buffer& b) {
    const auto d = b.data();
    return {static_cast<const char*>(d.data()), d.size()};
}

} // namespace

client_session::client_session(boost::asio::ip::tcp::socket socket, session_host& host, std::string initial,
                               std::string client_addr)
    : socket_(std::move(socket)), host_(host), host_alive_(host.alive()), client_addr_(std::move(client_addr)), deadline_(socket_.get_executor()) {
    if (!initial.empty()) {
        auto dst = buffer_.prepare(initial.size());
        std::memcpy(dst.data(), initial.data(), initial.size());
        buffer_.commit(initial.size());
    }
    host_.session_opened();
}

client_session::~client_session() {
    if (*host_alive_) host_.session_closed();
}

void client_session::start() { read_request_line(); }

void client_session::close() {
    if (forwarder_) {
        forwarder_->abort();
        forwarder_.reset();
    }
    shutdown_connection();
}

std::string_view client_session::error_tag() const { return runtime_ ? runtime_->info().tag : std::string_view{}; }

void client_session::arm_deadline(std::chrono::steady_clock::duration d) {
    deadline_at_ = std::chrono::steady_clock::now() + d;
    // A wait that ends no later than the new deadline is left alone: when it fires it moves
    // on to deadline_at_ (on_deadline). Re-arming it would post its cancelled handler, a
    // trip through the io_context's queue, several times per request.
    if (deadline_waiting_ && deadline_.expiry() <= deadline_at_) return;
    wait_deadline();
}

void client_session::clear_deadline() { deadline_at_ = std::chrono::steady_clock::time_point::max(); }

void client_session::stop_deadline() {
    clear_deadline();
    deadline_waiting_ = false;
    deadline_.cancel();
}

void client_session::wait_deadline() {
    deadline_.expires_at(deadline_at_);
    deadline_waiting_ = true;
    deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) { self->on_deadline(ec); });
}

void client_session::on_deadline(boost::system::error_code ec) {
    if (ec) return; // replaced by a newer wait, or stopped
    deadline_waiting_ = false;
    if (deadline_at_ == std::chrono::steady_clock::time_point::max()) return;
    if (std::chrono::steady_clock::now() < deadline_at_) {
        wait_deadline();
        return;
    }
    boost::system::error_code ignored;
    socket_.close(ignored);
}

void client_session::read_request_line() {
    if (closed_) return;
    if (host_.draining() && buffer_.size() == 0) {
        shutdown_connection();
        return;
    }
    runtime_ = host_.runtime();
    // Empty lines before a request line are allowed (RFC 9112 §2.2).
    auto view = buffer_view(buffer_);
    std::size_t skip = 0;
    while (skip < view.size() && (view[skip] == '\r' || view[skip] == '\n')) ++skip;
    buffer_.consume(skip);
    view = buffer_view(buffer_);

    const auto eol = view.find("\r\n");
    if (eol != std::string_view::npos) {
        const auto target = request_target_of(view.substr(0, eol));
        const auto route = match_route(target);
        if (route && route->id != runtime_->id()) {
            // Another profile's request on this kept-alive connection: its own worker serves it.
            if (host_.hand_back(socket_, view, client_addr_)) {
                closed_ = true;
                stop_deadline();
                return;
            }
        }
        read_head();
        return;
    }
    if (view.size() >= max_request_head) {
        read_head(); // the parser reports the oversized head
        return;
    }
    arm_deadline(view.empty() ? std::chrono::steady_clock::duration(keep_alive_idle) : head_timeout);
    socket_.async_read_some(buffer_.prepare(8192), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->on_request_line_bytes(ec, n);
    });
}

void client_session::on_request_line_bytes(boost::system::error_code ec, std::size_t n) {
    if (ec) {
        // EOF or idle timeout between requests is how keep-alive connections end.
        if (buffer_.size() > 0 && ec != boost::asio::error::eof)
            host_.log().debug(error_tag(), "client {} closed or timed out in the middle of a request head", client_addr_);
        shutdown_connection();
        return;
    }
    const bool first_bytes = buffer_.size() == 0;
    buffer_.commit(n);
    if (first_bytes) arm_deadline(head_timeout);
    read_request_line();
}

bool client_session::parse_buffered(bool head_only, boost::system::error_code& ec) {
    // The whole head, and a small body with it, usually arrive in the first read. Parsed here
    // they cost nothing more; Beast's read operations would post their completion even when
    // no byte is missing (a trip through the io_context's queue and an epoll poll each).
    parser_->eager(!head_only);
    const auto done = [&] { return head_only ? parser_->is_header_done() : parser_->is_done(); };
    while (!done() && buffer_.size() > 0) {
        const auto used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_more) {
            ec = {};
            return false;
        }
        if (ec) return true;
        if (used == 0) return false; // no progress without more bytes: the read operation goes on
    }
    return done();
}

void client_session::read_head() {
    parser_.emplace();
    parser_->header_limit(max_request_head);
    // No limit while reading the head: the parser would refuse a large Content-Length as
    // a bare body_limit error, and on_head answers that with a specific 413 instead.
    parser_->body_limit(boost::none);
    if (boost::system::error_code ec; parse_buffered(true, ec)) {
        on_head(ec);
        return;
    }
    arm_deadline(head_timeout);
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_head(ec); });
}

void client_session::on_head(boost::system::error_code ec) {
    if (ec) {
        if (ec == http::error::header_limit) {
            host_.log().warn(error_tag(), "request from {} refused: head larger than {} bytes", client_addr_, max_request_head);
            http::response<http::string_body> res{http::status::request_header_fields_too_large, 11};
            res.set(http::field::content_type, "application/json");
            res.body() = error_body(runtime_->info().proto, 431, "request headers are larger than 64 KiB");
            send_local(std::move(res), true);
        } else if (ec == http::error::end_of_stream || ec == boost::asio::error::operation_aborted ||
                   ec == boost::asio::error::bad_descriptor || ec == boost::asio::error::connection_reset) {
            shutdown_connection();
        } else {
            host_.log().warn(error_tag(), "malformed request from {}: {}", client_addr_, ec.message());
            http::response<http::string_body> res{http::status::bad_request, 11};
            res.set(http::field::content_type, "application/json");
            res.body() = error_body(runtime_->info().proto, 400, "malformed HTTP request: " + ec.message());
            send_local(std::move(res), true);
        }
        return;
    }
    clear_deadline();
    auto& req = parser_->get();
    const std::string_view target = req.target();
    host_.log().debug(error_tag(), "request received: {} {}", std::string_view(req.method_string()), target);

    const auto proto = runtime_->info().proto;
    auto local = [&](http::status st, std::string_view message, bool close_after) {
        http::response<http::string_body> res{st, req.version()};
        res.set(http::field::content_type, "application/json");
        res.body() = error_body(proto, static_cast<int>(st), message);
        res.keep_alive(req.keep_alive() && !close_after);
        send_local(std::move(res), close_after || !req.keep_alive());
    };

    if (target == "/health") {
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.set(http::field::content_type, "application/json");
        res.body() = R"({"status":"healthy"})";
        res.keep_alive(req.keep_alive());
        send_local(std::move(res), !req.keep_alive());
        return;
    }
    const auto route = match_route(target);
    const bool unread_body = !parser_->is_done();
    if (!route || route->id != runtime_->id()) {
        local(http::status::not_found,
              "unknown path: this clipal worker serves " + std::string(runtime_->info().prefix) +
                  "/... (prefixes: /claudecode, /codex, /gemini)",
              unread_body);
        return;
    }
    rest_ = std::string(route->rest);

    const auto max = runtime_->global().max_request_body_bytes;
    if (const auto len = parser_->content_length(); len && *len > max) {
        host_.log().warn(error_tag(), "request from {} refused: body of {} bytes is over max_request_body_bytes ({})",
                         client_addr_, *len, max);
        local(http::status::payload_too_large,
              "request body is " + std::to_string(*len) + " bytes; clipal's max_request_body_bytes is " + std::to_string(max),
              true);
        return;
    }
    parser_->body_limit(max);
    // Chunked bodies do not announce their size: they reserve the most they may grow to.
    const std::uint64_t want = parser_->content_length() ? *parser_->content_length() : (unread_body ? max : 0);
    if (want > 0) {
        if (!host_.budget().try_reserve(want)) {
            host_.log().warn(error_tag(), "request from {} refused: request body budget of {} bytes is in use",
                             client_addr_, runtime_->global().request_body_budget_bytes);
            http::response<http::string_body> res{http::status::service_unavailable, req.version()};
            res.set(http::field::content_type, "application/json");
            res.set(http::field::retry_after, "1");
            res.body() = error_body(proto, 503, "clipal is buffering too many large request bodies; retry shortly");
            res.keep_alive(false);
            send_local(std::move(res), true);
            return;
        }
        reservation_ = body_reservation(host_.budget(), want);
    }
    if (unread_body && boost::beast::iequals(req[http::field::expect], "100-continue")) {
        auto self = shared_from_this();
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        arm_deadline(local_write_timeout);
        boost::asio::async_write(socket_, boost::asio::buffer(cont.data(), cont.size()),
                                 [self](boost::system::error_code e, std::size_t) { self->on_continue_sent(e); });
        return;
    }
    read_body();
}

void client_session::on_continue_sent(boost::system::error_code ec) {
    if (ec) {
        shutdown_connection();
        return;
    }
    read_body();
}

void client_session::read_body() {
    if (boost::system::error_code ec; parse_buffered(false, ec)) {
        on_body(ec);
        return;
    }
    arm_deadline(body_timeout);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_body(ec); });
}

void client_session::on_body(boost::system::error_code ec) {
    if (ec) {
        reservation_.reset();
        if (ec == http::error::body_limit) {
            const auto max = runtime_->global().max_request_body_bytes;
            host_.log().warn(error_tag(), "request from {} refused: body is over max_request_body_bytes ({})",
                             client_addr_, max);
            http::response<http::string_body> res{http::status::payload_too_large, 11};
            res.set(http::field::content_type, "application/json");
            res.body() = error_body(runtime_->info().proto, 413,
                                    "request body is larger than clipal's max_request_body_bytes (" + std::to_string(max) + ")");
            send_local(std::move(res), true);
            return;
        }
        host_.log().warn(error_tag(), "request body from {} incomplete: {}", client_addr_, ec.message());
        if (ec == boost::asio::error::operation_aborted || ec == boost::asio::error::bad_descriptor ||
            ec == http::error::partial_message || ec == http::error::end_of_stream) {
            shutdown_connection();
            return;
        }
        http::response<http::string_body> res{http::status::bad_request, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = error_body(runtime_->info().proto, 400, "malformed request body: " + ec.message());
        send_local(std::move(res), true);
        return;
    }
    dispatch();
}

void client_session::dispatch() {
    clear_deadline();
    request_keep_alive_ = parser_->get().keep_alive();
    forwarder_ = std::make_shared<forwarder>(shared_from_this(), runtime_, parser_->release(), rest_);
    parser_.reset();
    // An answer can stream for minutes: the read buffer (8 KiB, more after a large body)
    // is given back meanwhile and taken again for the next request.
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    watch_client();
    forwarder_->start();
}

void client_session::watch_client() {
    watching_ = true;
    // A read, not async_wait: Asio arms a wait with an epoll_ctl each time, while a read
    // costs one recv that finds nothing, and then the wait is free. A byte it does get is
    // the start of a pipelined request and is kept for that request.
    socket_.async_read_some(boost::asio::buffer(&watch_byte_, 1), [self = shared_from_this()](
                                                                      boost::system::error_code ec, std::size_t n) {
        self->watching_ = false;
        if (n == 1) {
            self->buffer_.commit(boost::asio::buffer_copy(self->buffer_.prepare(1), boost::asio::buffer(&self->watch_byte_, 1)));
        }
        if (self->next_after_watch_) {
            self->next_after_watch_ = false;
            self->read_request_line();
            return;
        }
        if (n == 1) return; // a pipelined next request: the rest waits in the socket until this one is done
        if (ec == boost::asio::error::operation_aborted || !self->forwarder_) return;
        self->host_.log().info(self->error_tag(), "client {} disconnected; upstream request cancelled", self->client_addr_);
        self->forwarder_->abort();
        self->forwarder_.reset();
        self->reservation_.reset();
        self->shutdown_connection();
    });
}

void client_session::request_done(bool keep_alive) {
    forwarder_.reset();
    reservation_.reset();
    if (!keep_alive) {
        shutdown_connection();
        return;
    }
    if (watching_) {
        // The watch must finish before the next read starts on the same socket.
        next_after_watch_ = true;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        return;
    }
    read_request_line();
}

void client_session::abort_connection() {
    forwarder_.reset();
    reservation_.reset();
    // RST instead of FIN: the client must see a failure, not a cleanly ended response.
    boost::system::error_code ignored;
    socket_.set_option(boost::asio::socket_base::linger(true, 0), ignored);
    socket_.close(ignored);
    closed_ = true;
    stop_deadline();
}

void client_session::send_error(int status, std::string_view message, std::optional<std::chrono::seconds> retry_after) {
    forwarder_.reset();
    reservation_.reset();
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    if (retry_after) res.set(http::field::retry_after, std::to_string(retry_after->count()));
    res.body() = error_body(runtime_->info().proto, status, message);
    res.keep_alive(request_keep_alive_);
    send_local(std::move(res), !request_keep_alive_);
}

void client_session::send_local(http::response<http::string_body>&& res, bool close_after) {
    if (closed_) return;
    // A draining worker tells the client in this answer, so it does not send another.
    if (host_.draining()) close_after = true;
    if (close_after) res.keep_alive(false);
    res.prepare_payload();
    local_response_ = std::make_shared<http::response<http::string_body>>(std::move(res));
    arm_deadline(local_write_timeout);
    http::async_write(socket_, *local_response_,
                      [self = shared_from_this(), close_after](boost::system::error_code ec, std::size_t) {
                          self->local_response_.reset();
                          self->clear_deadline();
                          if (ec || close_after) {
                              self->shutdown_connection();
                              return;
                          }
                          self->request_done(true);
                      });
}

void client_session::shutdown_connection() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::socket_base::shutdown_send, ignored);
    // Lingering close: closing with unread request bytes would send a RST that can destroy
    // the answer we just sent (e.g. a 413), so drain briefly until the client closes.
    arm_deadline(linger_timeout);
    drain();
}

void client_session::drain() {
    socket_.async_read_some(buffer_.prepare(8192), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
        self->buffer_.clear();
        if (!ec) {
            self->drain();
            return;
        }
        self->stop_deadline();
        boost::system::error_code ignored;
        self->socket_.close(ignored);
    });
}

} // namespace clipal::worker
