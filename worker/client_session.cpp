#include "worker/client_session.hpp"

#include "shared/connection_limits.hpp"
#include "shared/http_limits.hpp"
#include "shared/redact.hpp"
#include "shared/request_framing.hpp"
#include "shared/request_guard.hpp"
#include "shared/request_line.hpp"
#include "shared/route.hpp"
#include "worker/forwarder.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <cstring>

namespace clipal::worker {
namespace {

constexpr auto body_timeout = std::chrono::seconds(120);
constexpr auto local_write_timeout = std::chrono::seconds(30);
constexpr auto linger_timeout = std::chrono::seconds(2);
// The body of a request clipal answers itself is read and dropped up to this size (the
// connection stays open); a larger or chunked one closes the connection after the answer.
constexpr std::uint64_t max_discarded_body = 64 * 1024;

// The header fields that decide framing, every occurrence of each, for shared/request_framing.
boost::container::small_vector<header_field, 4> framing_fields_of(const header_block& f) {
    boost::container::small_vector<header_field, 4> out;
    for (const auto& field : f) {
        const auto name = field.name();
        if (name == http::field::host || name == http::field::transfer_encoding || name == http::field::content_length)
            out.push_back({field.name_string(), field.value()});
    }
    return out;
}

// The header values shared/request_guard judges, every occurrence of each, in one pass by
// field code (a lookup by name would walk the fields once for each name).
guard_input guard_input_of(const header_block& f, protocol p, std::string_view target) {
    guard_input in;
    in.proto = p;
    in.target = target;
    for (const auto& field : f) {
        switch (field.name()) {
        case http::field::host: in.host.push_back(field.value()); break;
        case http::field::origin: in.origin.push_back(field.value()); break;
        case http::field::authorization: in.authorization.push_back(field.value()); break;
        case http::field::unknown:
            if (boost::beast::iequals(field.name_string(), "x-api-key"))
                in.x_api_key.push_back(field.value());
            else if (boost::beast::iequals(field.name_string(), "x-goog-api-key"))
                in.x_goog_api_key.push_back(field.value());
            break;
        default: break;
        }
    }
    return in;
}

guard_settings guard_settings_of(const global_config& g) {
    return {g.listen_addr, g.allowed_hosts, g.allowed_origins, g.access_token};
}

// A fixed phrase per class of guard refusal, for rate-limiting its log lines: never built
// from what the client sent, so a client cycling Hosts or Origins cannot grow the set.
std::string_view refusal_kind(const guard_refusal& r) {
    if (r.status == 401)
        return r.log.starts_with("no access token") ? "requests without the access token"
                                                    : "requests with a wrong access token";
    return r.log.starts_with("Origin") ? "cross-site requests (Origin)" : "requests naming another Host";
}

std::string_view buffer_view(const boost::beast::flat_buffer& b) {
    const auto d = b.data();
    return {static_cast<const char*>(d.data()), d.size()};
}

} // namespace

client_session::client_session(tcp_socket socket, session_host& host, std::string initial, std::string client_addr)
    : socket_(std::move(socket)),
      host_(host),
      host_alive_(host.alive()),
      client_addr_(std::move(client_addr)),
      deadline_(socket_.get_executor()),
      fields_pool_(boost::asio::use_service<block_pool>(socket_.get_executor().context())) {
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

protocol client_session::proto() const { return runtime_->info().proto; }

void client_session::arm_deadline(std::chrono::steady_clock::duration d) {
    arm_deadline_at(std::chrono::steady_clock::now() + d);
}

void client_session::arm_deadline_at(std::chrono::steady_clock::time_point at) {
    deadline_at_ = at;
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
    // The head's time runs from its first byte (empty lines before it included) to its end,
    // however the bytes trickle in; until a byte comes, the connection is idle.
    if (!head_deadline_ && buffer_.size() > 0)
        head_deadline_ = std::chrono::steady_clock::now() + http_limits::head_timeout;
    buffer_.consume(leading_empty_lines(buffer_view(buffer_)));
    const auto view = buffer_view(buffer_);
    // Decided on the whole head, so that a connection handed to another worker arrives with
    // its head complete and in time. Its size is checked here: Beast's header_limit bounds
    // each parse call's window, not a head parsed in several calls.
    const auto head_len = head_length(view);
    if (head_len ? *head_len > http_limits::max_request_head : view.size() >= http_limits::max_request_head) {
        head_request_ = false;
        on_head(http::error::header_limit);
        return;
    }
    if (head_len) {
        const auto line = first_line(view);
        const auto route = line ? match_route(request_target(*line)) : std::nullopt;
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
    if (head_deadline_)
        arm_deadline_at(*head_deadline_);
    else
        arm_deadline(http_limits::keep_alive_idle);
    socket_.async_read_some(buffer_.prepare(8192),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                self->on_request_line_bytes(ec, n);
                            });
}

void client_session::on_request_line_bytes(boost::system::error_code ec, std::size_t n) {
    if (ec) {
        // EOF or idle timeout between requests is how keep-alive connections end.
        if (buffer_.size() > 0 && ec != boost::asio::error::eof)
            host_.log().debug(error_tag(), "client {} closed or timed out in the middle of a request head",
                              client_addr_);
        shutdown_connection();
        return;
    }
    buffer_.commit(n);
    read_request_line();
}

bool client_session::parse_buffered(bool head_only, boost::system::error_code& ec) {
    // The whole head, and a small body with it, usually arrive in the first read.
    parser_->eager(!head_only);
    const auto done = [&] { return head_only ? parser_->is_header_done() : parser_->is_done(); };
    ec = put_buffered(*parser_, buffer_, done);
    return ec || done();
}

void client_session::read_head() {
    parser_.emplace(&fields_pool_);
    head_request_ = false;
    parser_->header_limit(static_cast<std::uint32_t>(http_limits::max_request_head));
    // No limit while reading the head: the parser would refuse a large Content-Length as
    // a bare body_limit error, and on_head answers that with a specific 413 instead.
    parser_->body_limit(boost::none);
    if (boost::system::error_code ec; parse_buffered(true, ec)) {
        on_head(ec);
        return;
    }
    arm_deadline_at(head_deadline_.value_or(std::chrono::steady_clock::now() + http_limits::head_timeout));
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                                self->on_head(ec);
                            });
}

void client_session::on_head(boost::system::error_code ec) {
    head_deadline_.reset(); // the next head's time starts with its own first byte
    if (ec) {
        if (ec == http::error::header_limit) {
            host_.log_fault(log_level::warn, "oversized request heads", error_tag(),
                            "request from {} refused: head larger than {} bytes", client_addr_,
                            http_limits::max_request_head);
            send_local(error_response(proto(), 431, "request headers are larger than 64 KiB"), 1, true);
        } else if (ec == http::error::end_of_stream || ec == boost::asio::error::operation_aborted ||
                   ec == boost::asio::error::bad_descriptor || ec == boost::asio::error::connection_reset) {
            shutdown_connection();
        } else {
            host_.log_fault(log_level::warn, "malformed requests", error_tag(), "malformed request from {}: {}",
                            client_addr_, ec.message());
            send_local(error_response(proto(), 400, "malformed HTTP request: " + ec.message()), 1, true);
        }
        return;
    }
    clear_deadline();
    auto& req = parser_->get();
    const std::string_view target = req.target();
    if (host_.log().enabled(log_level::debug))
        host_.log().debug(error_tag(), "request received: {} {}", std::string_view(req.method_string()),
                          redact_target(target));

    head_request_ = req.method() == http::verb::head;
    const unsigned minor_version = req.version() % 10;
    if (const auto framing = frame_request(req.version(), framing_fields_of(req));
        framing.error != framing_error::none) {
        host_.log_fault(log_level::warn, "requests refused for their framing", error_tag(),
                        "request from {} refused: {}", client_addr_, describe(framing.error));
        // Where this request ends, and so where the next begins, is in doubt: close.
        send_local(error_response(proto(), status_of(framing.error), describe(framing.error)), minor_version, true);
        return;
    }
    auto local = [&](local_response r, bool close_after) {
        answer_locally(std::move(r), minor_version, close_after || !req.keep_alive());
    };

    if (target == "/health") {
        local(health_response(), false);
        return;
    }
    if (over_capacity_) {
        local(error_response(proto(), 503,
                             "clipal has max_connections (" + std::to_string(runtime_->global().max_connections) +
                                 ") connections open for " + std::string(runtime_->info().prefix) + "; retry shortly",
                             over_capacity_retry_after),
              true);
        return;
    }
    const auto route = match_route(target);
    const bool unread_body = !parser_->is_done();
    if (!route || route->id != runtime_->id()) {
        local(error_response(proto(), 404,
                             "unknown path: this clipal worker serves " + std::string(runtime_->info().prefix) +
                                 "/... (prefixes: /claudecode, /codex, /gemini)"),
              false);
        return;
    }
    if (has_dot_segment(route->rest)) {
        // The path only: a query may hold a key.
        host_.log_fault(log_level::warn, "requests refused for a dot-segment", error_tag(),
                        "request from {} refused: dot-segment in the path {}", client_addr_,
                        std::string(target.substr(0, std::min<std::size_t>(target.find('?'), 200))));
        local(error_response(proto(), 400,
                             "the path has a dot-segment (/./ or /../, also percent-encoded); no API path has one, "
                             "and clipal forwards paths as they are"),
              false);
        return;
    }
    if (const auto refused =
            check_request(guard_input_of(req, proto(), target), guard_settings_of(runtime_->global()))) {
        host_.log_fault(log_level::warn, refusal_kind(*refused), error_tag(), "request from {} refused: {} ({} {})",
                        client_addr_, refused->log, std::string_view(req.method_string()),
                        redact_target(target.substr(0, 200)));
        local(error_response(proto(), refused->status, refused->message), unread_body);
        return;
    }
    rest_ = std::string(route->rest);

    const auto max = runtime_->global().max_request_body_bytes;
    if (const auto len = parser_->content_length(); len && *len > max) {
        host_.log_fault(log_level::warn, "oversized request bodies", error_tag(),
                        "request from {} refused: body of {} bytes is over max_request_body_bytes ({})", client_addr_,
                        *len, max);
        local(error_response(proto(), 413,
                             "request body is " + std::to_string(*len) + " bytes; clipal's max_request_body_bytes is " +
                                 std::to_string(max)),
              true);
        return;
    }
    parser_->body_limit(max);
    // Chunked bodies do not announce their size: they reserve the most they may grow to.
    const std::uint64_t want = parser_->content_length() ? *parser_->content_length() : (unread_body ? max : 0);
    if (want > 0) {
        if (!host_.budget().try_reserve(want)) {
            host_.log_fault(log_level::warn, "requests over the body budget", error_tag(),
                            "request from {} refused: request body budget of {} bytes is in use", client_addr_,
                            runtime_->global().request_body_budget_bytes);
            local(error_response(proto(), 503, "clipal is buffering too many large request bodies; retry shortly",
                                 std::chrono::seconds(1)),
                  true);
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
    if (after_body_) {
        // The body of a request answered locally is read and dropped; a broken one closes.
        const auto answer = std::move(*after_body_);
        after_body_.reset();
        send_local(answer.response, answer.minor_version, static_cast<bool>(ec));
        return;
    }
    if (ec) {
        reservation_.reset();
        if (ec == http::error::body_limit) {
            const auto max = runtime_->global().max_request_body_bytes;
            host_.log_fault(log_level::warn, "oversized request bodies", error_tag(),
                            "request from {} refused: body is over max_request_body_bytes ({})", client_addr_, max);
            send_local(error_response(proto(), 413,
                                      "request body is larger than clipal's max_request_body_bytes (" +
                                          std::to_string(max) + ")"),
                       1, true);
            return;
        }
        host_.log_fault(log_level::warn, "incomplete request bodies", error_tag(),
                        "request body from {} incomplete: {}", client_addr_, ec.message());
        if (ec == boost::asio::error::operation_aborted || ec == boost::asio::error::bad_descriptor ||
            ec == http::error::partial_message || ec == http::error::end_of_stream) {
            shutdown_connection();
            return;
        }
        send_local(error_response(proto(), 400, "malformed request body: " + ec.message()), 1, true);
        return;
    }
    dispatch();
}

void client_session::dispatch() {
    clear_deadline();
    request_keep_alive_ = parser_->get().keep_alive();
    forwarder_ = std::allocate_shared<forwarder>(pool_allocator<forwarder>(&fields_pool_), shared_from_this(), runtime_,
                                                 parser_->release(), rest_);
    parser_.reset();
    // A streamed answer can last minutes, and thousands may be open: the read buffer (8 KiB,
    // more after a large body) is given back meanwhile and taken again for the next request.
    // Other answers keep it, which saves an allocation and a free per request.
    if (buffer_.size() == 0 && (forwarder_->streaming() || buffer_.capacity() > 8192)) buffer_.shrink_to_fit();
    watch_client();
    forwarder_->start();
}

void client_session::watch_client() {
    watching_ = true;
    // A read, not async_wait (Asio arms a wait with an epoll_ctl each time; a read costs one
    // recv that finds nothing, and then the wait is free). It is also the read of the next
    // request: request_done leaves it pending, so the next request costs no second recv. A
    // session that kept its buffer reads into it; one whose answer streams (and gave its
    // buffer back) reads a byte. What arrives while the answer is under way is the start of
    // a pipelined request and is kept for it.
    const auto room = buffer_.capacity() - buffer_.size();
    watch_into_buffer_ = room >= 1024;
    const auto into = watch_into_buffer_ ? buffer_.prepare(room) : boost::asio::buffer(&watch_byte_, 1);
    socket_.async_read_some(into, [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        self->on_watch(ec, n);
    });
}

void client_session::on_watch(boost::system::error_code ec, std::size_t n) {
    watching_ = false;
    if (drain_after_watch_) {
        drain_after_watch_ = false;
        end_drain_read(ec);
        return;
    }
    if (n > 0) {
        if (watch_into_buffer_)
            buffer_.commit(n);
        else
            buffer_.commit(boost::asio::buffer_copy(buffer_.prepare(1), boost::asio::buffer(&watch_byte_, 1)));
    }
    if (next_after_watch_) {
        next_after_watch_ = false;
        // EOF or the idle deadline between requests is how keep-alive connections end.
        if (n == 0 && buffer_.size() == 0) {
            shutdown_connection();
            return;
        }
        read_request_line();
        return;
    }
    if (n > 0) return; // a pipelined next request: the rest waits in the socket until this one is done
    if (ec == boost::asio::error::operation_aborted || !forwarder_) return;
    host_.log().info(error_tag(), "client {} disconnected; upstream request cancelled", client_addr_);
    forwarder_->abort();
    forwarder_.reset();
    reservation_.reset();
    shutdown_connection();
}

void client_session::request_done(bool keep_alive) {
    forwarder_.reset();
    reservation_.reset();
    if (!keep_alive || (host_.draining() && buffer_.size() == 0)) {
        shutdown_connection();
        return;
    }
    if (watching_) {
        next_after_watch_ = true;
        if (buffer_.size() > 0) {
            // A pipelined request is here already: the watch ends, then it is read.
            boost::system::error_code ignored;
            socket_.cancel(ignored);
            return;
        }
        // The pending watch reads the next request, under the keep-alive idle bound.
        arm_deadline(http_limits::keep_alive_idle);
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
    send_answer(error_response(proto(), status, message, retry_after));
}

void client_session::send_answer(const local_response& r) {
    forwarder_.reset();
    reservation_.reset();
    send_local(r, 1, !request_keep_alive_);
}

void client_session::answer_locally(local_response r, unsigned minor_version, bool close_after) {
    // The body of a request answered here must never be read as the next request.
    if (!close_after && !parser_->is_done()) {
        const auto len = parser_->content_length();
        // A client waiting for 100 Continue would not send it: the answer goes first, then close.
        const bool awaits_continue = boost::beast::iequals(parser_->get()[http::field::expect], "100-continue");
        if (len && *len <= max_discarded_body && !awaits_continue) {
            after_body_ = deferred_answer{std::move(r), minor_version};
            parser_->body_limit(max_discarded_body);
            read_body();
            return;
        }
        close_after = true;
    }
    send_local(r, minor_version, close_after);
}

void client_session::send_local(const local_response& r, unsigned minor_version, bool close_after) {
    if (closed_) return;
    // A draining worker tells the client in this answer, so it does not send another.
    if (host_.draining()) close_after = true;
    local_wire_ = to_wire(r, !close_after, minor_version, head_request_);
    arm_deadline(local_write_timeout);
    boost::asio::async_write(socket_, boost::asio::buffer(local_wire_),
                             [self = shared_from_this(), close_after](boost::system::error_code ec, std::size_t) {
                                 self->local_wire_.clear();
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
    // The client watch's pending read drains first: a second read would be queued behind it,
    // and when the watch takes the client's EOF, edge-triggered epoll reports nothing more,
    // so every closed connection was held (with its buffers) until the linger deadline.
    if (watching_) {
        drain_after_watch_ = true;
        return;
    }
    socket_.async_read_some(buffer_.prepare(8192),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                                self->end_drain_read(ec);
                            });
}

void client_session::end_drain_read(boost::system::error_code ec) {
    buffer_.clear();
    if (!ec) {
        drain();
        return;
    }
    stop_deadline();
    boost::system::error_code ignored;
    socket_.close(ignored);
}

} // namespace clipal::worker
