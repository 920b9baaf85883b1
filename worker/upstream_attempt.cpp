#include "worker/upstream_attempt.hpp"

#include "shared/duration.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <array>
#include <span>

#include <fmt/format.h>

namespace clipal::worker {
namespace {

// Enough of an error body to classify a 429; the rest is never read.
constexpr std::size_t max_error_body = 64 * 1024;
constexpr std::uint32_t max_response_head = 64 * 1024;
// The most one read takes from the upstream (and one write gives the client).
constexpr std::size_t piece_capacity = 16 * 1024;
// Interim (1xx) heads skipped before the final answer; real servers send one or two.
constexpr unsigned max_interim_responses = 8;

bool is_timeout(const boost::system::error_code& ec) {
    return ec == boost::beast::error::timeout || ec == boost::asio::error::timed_out;
}

// How a connection the server closed shows on a read.
bool is_closed(const boost::system::error_code& ec) {
    return ec == http::error::end_of_stream || ec == boost::asio::error::connection_reset ||
           ec == boost::asio::error::eof;
}

std::string describe(const boost::system::error_code& ec) { return ec.message(); }

} // namespace

upstream_attempt::upstream_attempt(tcp_socket& client, connection_pool& pool, const upstream_target& target,
                                   upstream_request request, bool head_request, unsigned client_version,
                                   const attempt_settings& settings, std::shared_ptr<attempt_listener> listener)
    : client_(client),
      pool_(pool),
      target_(target),
      request_(std::move(request)),
      head_request_(head_request),
      client_version_(client_version),
      settings_(settings),
      listener_(std::move(listener)),
      up_buffer_(pool_allocator<char>(&pool.blocks())),
      piece_(pool.blocks()),
      wait_timer_(client.get_executor()),
      blocks_(pool.blocks()) {}

void upstream_attempt::start() {
    // A pooled connection is used at once (no hop through the io_context's queue); the
    // retry after a stale one failed always connects afresh.
    if (!retried_stale_) {
        if (auto idle = pool_.try_take(target_)) {
            on_connected({}, connect_stage::done, std::move(idle));
            return;
        }
    }
    connecting_ = true;
    pending_connect_ = pool_.acquire(target_, settings_.connect,
                                     [self = shared_from_this()](boost::system::error_code ec, connect_stage stage,
                                                                 std::unique_ptr<upstream_stream> s) {
                                         self->on_connected(ec, stage, std::move(s));
                                     });
}

void upstream_attempt::abort() {
    if (finished_) return;
    finished_ = true;
    if (connecting_) pending_connect_.cancel();
    if (up_) up_->close();
    if (client_timer_) client_timer_->cancel();
    stop_wait_timer();
}

void upstream_attempt::on_connected(boost::system::error_code ec, connect_stage stage,
                                    std::unique_ptr<upstream_stream> s) {
    connecting_ = false;
    pending_connect_ = {};
    if (finished_) {
        if (s) s->close();
        return;
    }
    if (ec) {
        const bool tls = stage == connect_stage::tls;
        fail({action::try_next, tls ? failure_reason::tls : failure_reason::connect, std::nullopt},
             std::string(to_string(stage)) + " failed: " + describe(ec));
        return;
    }
    up_ = std::move(s);
    reused_ = up_->reused();
    sent_at_ = std::chrono::steady_clock::now();
    std::array<boost::asio::const_buffer, 2> wire{boost::asio::buffer(request_.head),
                                                  boost::asio::buffer(request_.body())};
    if (!up_->tls()) {
        // A request usually fits the socket's send buffer: written here, it needs no write
        // operation, no deadline and no hop through the io_context's queue.
        auto& socket = up_->tcp().socket();
        boost::system::error_code wec;
        if (!socket.non_blocking()) socket.non_blocking(true, wec); // once per connection: an ioctl
        auto sent = wec ? 0 : socket.write_some(wire, wec);
        if (wec && wec != boost::asio::error::would_block) {
            on_written(wec);
            return;
        }
        for (auto& b : wire) {
            const auto n = std::min(sent, b.size());
            b += n;
            sent -= n;
        }
        if (wire[0].size() + wire[1].size() == 0) {
            on_written({});
            return;
        }
    }
    up_->tcp().expires_at(head_deadline());
    boost::asio::async_write(*up_, wire, [self = shared_from_this()](boost::system::error_code e, std::size_t) {
        self->on_written(e);
    });
}

void upstream_attempt::on_written(boost::system::error_code ec) {
    if (finished_) return;
    if (ec) {
        // Writing to a closed connection fails with EPIPE, a reset or a TLS error: anything
        // but our own deadline may be a close.
        if (stale_connection(!is_timeout(ec))) {
            retry_on_fresh_connection();
            return;
        }
        fail({action::try_next, is_timeout(ec) ? failure_reason::header_timeout : failure_reason::write, std::nullopt},
             "sending the request failed: " + describe(ec));
        return;
    }
    // One deadline for the final head, however many interim heads come first.
    const auto at =
        first_byte_bound() ? head_deadline() : std::chrono::steady_clock::now() + settings_.response_header_timeout;
    if (up_->tls())
        up_->tcp().expires_at(at);
    else
        arm_wait_timer(at);
    read_header();
}

void upstream_attempt::read_header() {
    // Beast parses a 1xx as a whole message: each head gets a fresh parser, which starts
    // on whatever of the next head is already in up_buffer_.
    parser_.emplace(&blocks_);
    parser_->header_limit(max_response_head);
    parser_->body_limit(boost::none);
    if (head_request_) parser_->skip(true);
    if (!up_->tls()) {
        parse_head();
        return;
    }
    http::async_read_header(*up_, up_buffer_, *parser_,
                            [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                                self->on_header(e);
                            });
}

void upstream_attempt::parse_head() {
    // Bytes already here first: the rest of the read that brought an interim head.
    if (const auto ec = put_buffered(*parser_, up_buffer_, [this] { return parser_->is_header_done(); })) {
        on_header(ec);
        return;
    }
    if (parser_->is_header_done()) {
        on_header({});
        return;
    }
    wait_readable(waiting::head);
}

bool upstream_attempt::read_available(boost::system::error_code& ec) {
    // After readiness, so never a recv that finds nothing (Beast's read operations try one
    // at once, right after the request went out, when the answer cannot be there yet).
    const auto n = up_->tcp().socket().read_some(up_buffer_.prepare(piece_capacity), ec);
    up_buffer_.commit(n);
    if (ec == boost::asio::error::eof) {
        // What Beast's read operations make of the upstream's close: nothing received, the
        // connection ended (a stale pooled one); else the parser judges (a body that runs
        // until the close ends here, anything else is a partial message).
        if (!parser_->got_some()) {
            ec = http::error::end_of_stream;
        } else {
            ec = {};
            parser_->put_eof(ec);
            return !ec;
        }
    }
    return !ec;
}

void upstream_attempt::wait_readable(waiting w) {
    waiting_ = w;
    timed_out_ = false;
    // A pooled connection's watch, when still pending, is this wait.
    up_->await_readable(weak_from_this(), 0);
}

void upstream_attempt::on_readable(std::uint64_t, boost::system::error_code ec) { readable(ec); }

void upstream_attempt::readable(boost::system::error_code ec) {
    const auto w = std::exchange(waiting_, waiting::none);
    if (finished_ || w == waiting::none) return;
    if (ec && timed_out_) ec = boost::beast::error::timeout;
    if (w == waiting::body) {
        on_body_readable(ec);
        return;
    }
    if (!ec && !read_available(ec) && ec == boost::asio::error::would_block) {
        wait_readable(waiting::head);
        return;
    }
    if (ec) {
        on_header(ec);
        return;
    }
    parse_head();
}

void upstream_attempt::arm_wait_timer(std::chrono::steady_clock::time_point at) {
    wait_until_ = at;
    if (at == std::chrono::steady_clock::time_point::max()) return;
    // A wait that ends no later is left running: when it fires it moves on to wait_until_.
    if (wait_armed_ && wait_timer_.expiry() <= at) return;
    wait_armed_ = true;
    wait_timer_.expires_at(at);
    // Its operation comes from the pool too: with many attempts waiting at once, Asio's own
    // cache of two handler blocks per thread would make it a malloc each.
    wait_timer_.async_wait(boost::asio::bind_allocator(pool_allocator<void>(&blocks_),
                                                       [self = shared_from_this()](boost::system::error_code ec) {
                                                           self->on_wait_timer(ec);
                                                       }));
}

void upstream_attempt::on_wait_timer(boost::system::error_code ec) {
    if (ec) return; // replaced by a newer wait, or stopped
    wait_armed_ = false;
    if (finished_ || wait_until_ == std::chrono::steady_clock::time_point::max()) return;
    if (std::chrono::steady_clock::now() < wait_until_) {
        arm_wait_timer(wait_until_);
        return;
    }
    if (waiting_ == waiting::none) return;
    // The wait for upstream bytes ran out: it ends with the timeout.
    timed_out_ = true;
    boost::system::error_code ignored;
    up_->tcp().socket().cancel(ignored);
}

void upstream_attempt::stop_wait_timer() {
    wait_until_ = std::chrono::steady_clock::time_point::max();
    if (wait_armed_) wait_timer_.cancel();
}

void upstream_attempt::on_header(boost::system::error_code ec) {
    if (finished_) return;
    if (ec) {
        if (stale_connection(is_closed(ec))) {
            retry_on_fresh_connection();
            return;
        }
        if (is_timeout(ec) && first_byte_bound())
            fail({action::try_next, failure_reason::first_byte_timeout, std::nullopt},
                 "no response within " + format_duration(settings_.first_byte_timeout) + " (streaming request)");
        else if (is_timeout(ec))
            fail({action::try_next, failure_reason::header_timeout, std::nullopt},
                 "no response headers within " + format_duration(settings_.response_header_timeout));
        else if (ec == http::error::header_limit)
            fail({action::try_next, failure_reason::bad_response, std::nullopt}, "response headers too large");
        else if (is_closed(ec))
            fail({action::try_next, failure_reason::reset, std::nullopt}, "connection closed before a response");
        else
            fail({action::try_next, failure_reason::bad_response, std::nullopt}, "bad response: " + describe(ec));
        return;
    }
    const int status = parser_->get().result_int();
    if (status / 100 == 1) {
        on_interim(status);
        return;
    }
    if (needs_body(status)) {
        read_error_body();
        return;
    }
    classify_answer();
}

void upstream_attempt::on_interim(int status) {
    // A 1xx (100 Continue, 102 Processing, 103 Early Hints) comes before the answer and is
    // never the answer: relayed as it, the real answer would stay unread on a pooled
    // connection and answer the next request sent there — maybe another client's.
    if (status == 101 || ++interim_ > max_interim_responses) {
        // 101: we asked for no upgrade, so the bytes that follow are not HTTP/1.1 for us.
        // Either way the connection is unfit for the pool.
        up_->close();
        up_.reset();
        fail({action::try_next, failure_reason::bad_response, std::nullopt},
             status == 101 ? std::string("unexpected 101 Switching Protocols")
                           : fmt::format("more than {} interim (1xx) responses", max_interim_responses));
        return;
    }
    read_header();
}

bool upstream_attempt::stale_connection(bool closed) const {
    // After an interim head the provider has the request: a close then is no stale connection.
    return closed && reused_ && !retried_stale_ && interim_ == 0 && up_buffer_.size() == 0;
}

void upstream_attempt::retry_on_fresh_connection() {
    up_->close();
    up_.reset();
    retried_stale_ = true;
    start();
}

void upstream_attempt::read_error_body() {
    if (parser_->is_done() || error_body_.size() >= max_error_body) {
        classify_answer();
        return;
    }
    auto& body = parser_->get().body();
    body.data = piece(piece_capacity);
    body.size = piece_.size();
    up_->tcp().expires_at(first_byte_bound() ? head_deadline()
                                             : std::chrono::steady_clock::now() + settings_.response_header_timeout);
    http::async_read_some(*up_, up_buffer_, *parser_,
                          [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                              if (self->finished_) return;
                              if (e == http::error::need_buffer) e = {};
                              const auto got = self->piece_.size() - self->parser_->get().body().size;
                              self->error_body_.append(self->piece_.get(), got);
                              // A broken or stalled error body still gets classified on what arrived.
                              if (e) {
                                  self->classify_answer();
                                  return;
                              }
                              self->read_error_body();
                          });
}

void upstream_attempt::classify_answer() {
    auto& msg = parser_->get();
    const int status = msg.result_int();
    // The fields classify() and the usage meter read, in one pass by field code: a lookup by
    // name walks the fields once per name, and most of them only matter on a failure.
    upstream_answer answer{status, {}, {}, {}, {}, error_body_};
    std::string_view content_type;
    bool has_length = false;
    for (const auto& f : msg) {
        switch (f.name()) {
        case http::field::retry_after: answer.retry_after = f.value(); break;
        case http::field::content_encoding: answer.content_encoding = f.value(); break;
        case http::field::content_type: content_type = f.value(); break;
        case http::field::content_length: has_length = true; break;
        case http::field::unknown:
            if (boost::beast::iequals(f.name_string(), "X-RateLimit-Reset-Requests"))
                answer.reset_requests = f.value();
            else if (boost::beast::iequals(f.name_string(), "X-RateLimit-Reset-Tokens"))
                answer.reset_tokens = f.value();
            break;
        default: break;
        }
    }
    verdict v = classify(answer, settings_.now);
    if (v.reason == failure_reason::context_length) {
        // Another provider may have a larger model; if none has, this answer goes back as it
        // is — which needs all of it. One that did not fit the read passes through now.
        if (parser_->is_done()) {
            local_response replay{status, error_body_, std::nullopt, std::string(content_type),
                                  std::string(answer.content_encoding)};
            fail(v, std::to_string(status), std::move(replay));
            return;
        }
        v = {action::pass_through, std::nullopt, std::nullopt};
    }
    if (v.act != action::pass_through) {
        discard_buffered_body();
        fail(v, std::to_string(status));
        return;
    }
    // Passing this answer through: the head waits for the first body byte, so that a
    // stall before it can still fail over. An HTTP/1.0 client learns the end of a body of
    // unknown length from the close.
    const bool known_length = has_length || head_request_ || status == 204 || status == 304;
    const bool keep_alive = listener_->client_keep_alive();
    chunked_ = client_version_ >= 11 && !known_length;
    client_keep_alive_after_ = client_version_ >= 11 ? keep_alive : keep_alive && known_length;
    head_ = client_response_head(msg, {client_version_, chunked_, client_keep_alive_after_});
    if (!head_request_) meter_.emplace(content_type, answer.content_encoding);
    // The start of a body read to classify it (a 400 that is not about the context) goes first.
    if (!error_body_.empty() || parser_->is_done()) {
        piece_data_ = error_body_.data();
        piece_size_ = error_body_.size();
        write_to_client();
        return;
    }
    read_body_piece();
}

char* upstream_attempt::piece(std::size_t room) {
    if (!piece_.get() || piece_.size() < room) piece_.allocate(room);
    return piece_.get();
}

void upstream_attempt::read_body_piece() {
    // Body bytes that came with earlier reads (a whole small answer comes with its head).
    if (up_buffer_.size() > 0 && parse_buffered()) return;
    // Thousands of streams may sit open between events: a plain connection waits for
    // readability holding no buffer, and reads only when bytes are there. A TLS one reads
    // at once: Asio's SSL stream may hold received bytes that the socket will not signal again.
    if (!up_->tls()) {
        await_body();
        return;
    }
    read_body_now();
}

void upstream_attempt::discard_buffered_body() {
    auto& body = parser_->get().body();
    while (!parser_->is_done() && up_buffer_.size() > 0) {
        body.data = piece(std::min(up_buffer_.size(), piece_capacity));
        body.size = piece_.size();
        boost::system::error_code ec;
        const auto used = parser_->put(up_buffer_.data(), ec);
        up_buffer_.consume(used);
        if (ec == http::error::need_buffer) continue; // piece full: its bytes are dropped
        if (ec || used == 0) return;                  // the rest has not arrived (or is bad)
    }
}

bool upstream_attempt::parse_buffered() {
    auto& body = parser_->get().body();
    body.data = piece(std::min(up_buffer_.size(), piece_capacity));
    body.size = piece_.size();
    // The parser takes one step per call (a chunk header, then its data): step until
    // body bytes arrive, the bytes run out, or the body ends.
    boost::system::error_code ec;
    std::size_t used = 0;
    do {
        used = parser_->put(up_buffer_.data(), ec);
        up_buffer_.consume(used);
    } while (!ec && used > 0 && body.size == piece_.size() && up_buffer_.size() > 0 && !parser_->is_done());
    if (ec == http::error::need_buffer || ec == http::error::need_more) ec = {};
    if (ec) {
        on_body_piece(ec);
        return true;
    }
    piece_size_ = piece_.size() - body.size;
    // Not enough for a body byte (e.g. a chunk header split across reads): wait for more.
    if (piece_size_ == 0 && !parser_->is_done()) return false;
    piece_data_ = piece_.get();
    write_to_client();
    return true;
}

void upstream_attempt::await_body() {
    piece_.reset();
    up_buffer_.shrink_to_fit();
    up_->tcp().expires_never();
    auto at = settings_.idle_timeout > std::chrono::steady_clock::duration::zero()
                  ? std::chrono::steady_clock::now() + settings_.idle_timeout
                  : std::chrono::steady_clock::time_point::max();
    if (!head_sent_ && first_byte_bound()) at = std::min(at, head_deadline());
    arm_wait_timer(at);
    wait_readable(waiting::body);
}

void upstream_attempt::on_body_readable(boost::system::error_code ec) {
    if (ec) {
        on_body_piece(ec);
        return;
    }
    // The bound on the wait ends with it: writing to a slow client is not the upstream's time.
    wait_until_ = std::chrono::steady_clock::time_point::max();
    auto& body = parser_->get().body();
    body.data = piece(piece_capacity);
    body.size = piece_.size();
    if (!read_available(ec)) {
        if (ec == boost::asio::error::would_block) {
            await_body();
            return;
        }
        on_body_piece(ec);
        return;
    }
    if (up_buffer_.size() > 0 && parse_buffered()) return;
    if (parser_->is_done()) {
        // The body ended with the connection's close.
        piece_size_ = 0;
        piece_data_ = piece_.get();
        write_to_client();
        return;
    }
    await_body();
}

void upstream_attempt::read_body_now() {
    auto& body = parser_->get().body();
    body.data = piece(piece_capacity);
    body.size = piece_.size();
    // Beast reads as much as the buffer has room for (at least 512 bytes): room for a
    // whole piece keeps a large body at one read per piece.
    up_buffer_.reserve(up_buffer_.size() + piece_capacity);
    // The idle bound measures the upstream only: it runs while we wait for upstream bytes,
    // never while a slow client is being written to.
    auto at = settings_.idle_timeout > std::chrono::steady_clock::duration::zero()
                  ? std::chrono::steady_clock::now() + settings_.idle_timeout
                  : std::chrono::steady_clock::time_point::max();
    if (!head_sent_ && first_byte_bound()) at = std::min(at, head_deadline());
    if (at == std::chrono::steady_clock::time_point::max())
        up_->tcp().expires_never();
    else
        up_->tcp().expires_at(at);
    http::async_read_some(*up_, up_buffer_, *parser_,
                          [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                              self->on_body_piece(e);
                          });
}

void upstream_attempt::on_body_piece(boost::system::error_code ec) {
    if (finished_) return;
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
        std::string what = is_timeout(ec) ? "no data for " + format_duration(settings_.idle_timeout)
                                          : "upstream error: " + describe(ec);
        if (!head_sent_) {
            fail_waiting(is_timeout(ec) ? failure_reason::idle_timeout : failure_reason::reset,
                         what + " before the first body byte");
            return;
        }
        finish(attempt_outcome::kind::aborted, what);
        return;
    }
    piece_size_ = piece_.size() - parser_->get().body().size;
    if (piece_size_ == 0 && !parser_->is_done()) {
        read_body_piece();
        return;
    }
    piece_data_ = piece_.get();
    write_to_client();
}

void upstream_attempt::write_to_client() {
    // Head (once), then the piece: raw, or as one chunk when the client gets chunked
    // framing; the last piece carries the final chunk along.
    std::size_t n = 0;
    if (!head_sent_) {
        head_sent_ = true;
        listener_->answer_started(parser_->get().result_int());
        wire_[n++] = boost::asio::buffer(head_);
    }
    const bool last = parser_->is_done();
    if (meter_ && piece_size_ > 0) meter_->feed(std::string_view(piece_data_, piece_size_));
    if (!chunked_) {
        if (piece_size_ > 0) wire_[n++] = boost::asio::buffer(piece_data_, piece_size_);
    } else if (piece_size_ > 0) {
        const auto line = fmt::format_to_n(chunk_line_.data(), chunk_line_.size(), "{:x}\r\n", piece_size_);
        wire_[n++] = boost::asio::buffer(chunk_line_.data(), line.size);
        wire_[n++] = boost::asio::buffer(piece_data_, piece_size_);
        wire_[n++] = boost::asio::buffer(last ? std::string_view("\r\n0\r\n\r\n") : std::string_view("\r\n"));
    } else if (last) {
        wire_[n++] = boost::asio::buffer(std::string_view("0\r\n\r\n"));
    }
    up_->tcp().expires_never();
    std::size_t first = 0;
    if (last) {
        // The end of an answer (for most answers, all of it) usually fits the socket's send
        // buffer: sent here, it needs no write operation, no timer and no hop through the
        // io_context's queue. Only the last piece, so a stream cannot recurse piece by piece.
        boost::system::error_code ec;
        if (!client_.non_blocking()) client_.non_blocking(true, ec); // once per connection: an ioctl
        auto sent = ec ? 0 : client_.write_some(std::span<const boost::asio::const_buffer>(wire_.data(), n), ec);
        if (ec && ec != boost::asio::error::would_block) {
            on_client_written(ec);
            return;
        }
        while (first < n && sent >= wire_[first].size()) sent -= wire_[first++].size();
        if (first == n) {
            on_client_written({});
            return;
        }
        wire_[first] += sent;
    }
    arm_client_timer();
    boost::asio::async_write(client_, std::span<const boost::asio::const_buffer>(wire_.data() + first, n - first),
                             [self = shared_from_this()](boost::system::error_code e, std::size_t) {
                                 self->on_client_written(e);
                             });
}

void upstream_attempt::arm_client_timer() {
    // Made on first use: most answers are written without waiting.
    if (!client_timer_) client_timer_.emplace(client_.get_executor());
    client_timer_->expires_after(settings_.client_write_timeout);
    client_timer_->async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || self->finished_) return;
        // A client that takes no bytes for this long is gone; closing cancels the write.
        boost::system::error_code ignored;
        self->client_.close(ignored);
    });
}

void upstream_attempt::on_client_written(boost::system::error_code ec) {
    if (client_timer_) client_timer_->cancel();
    if (finished_) return;
    if (ec) {
        finish(attempt_outcome::kind::aborted, "client stopped reading: " + describe(ec));
        return;
    }
    bytes_ += piece_size_;
    if (!head_.empty()) std::string().swap(head_); // sent; a long stream need not keep it
    if (parser_->is_done()) {
        finish(attempt_outcome::kind::completed, {});
        return;
    }
    read_body_piece();
}

bool upstream_attempt::first_byte_bound() const {
    return settings_.first_byte_timeout > std::chrono::steady_clock::duration::zero() &&
           settings_.first_byte_timeout <= settings_.response_header_timeout;
}

std::chrono::steady_clock::time_point upstream_attempt::head_deadline() const {
    // A streaming request's head comes early: the smaller bound applies to it, and when that
    // is response_header_timeout (set below the streaming one) it is an ordinary header timeout.
    return sent_at_ + (first_byte_bound() ? settings_.first_byte_timeout : settings_.response_header_timeout);
}

void upstream_attempt::fail_waiting(failure_reason idle_or_reset, std::string what) {
    // A streaming request whose first byte did not come in time: the silent provider is not
    // retried (SPEC §5), which the reason tells the forwarder.
    if (first_byte_bound() && std::chrono::steady_clock::now() >= head_deadline()) {
        fail({action::try_next, failure_reason::first_byte_timeout, std::nullopt},
             "no first body byte within " + format_duration(settings_.first_byte_timeout) + " (streaming request)");
        return;
    }
    fail({action::try_next, idle_or_reset, std::nullopt}, std::move(what));
}

void upstream_attempt::fail(verdict v, std::string detail, std::optional<local_response> replay) {
    if (finished_) return;
    attempt_outcome o;
    o.what = attempt_outcome::kind::failed;
    o.v = v;
    o.replay = std::move(replay);
    o.status = parser_ && parser_->is_header_done() ? parser_->get().result_int() : 0;
    o.detail = std::move(detail);
    finished_ = true;
    if (client_timer_) client_timer_->cancel();
    stop_wait_timer();
    if (up_) {
        // A whole answer that only means "try the next provider" (a 503, a 429) leaves a
        // clean keep-alive connection: the next request to this provider may use it.
        if (parser_ && parser_->is_done() && parser_->keep_alive() && up_buffer_.size() == 0)
            pool_.release(std::move(up_));
        else
            up_->close();
    }
    listener_->attempt_done(std::move(o));
}

void upstream_attempt::finish(attempt_outcome::kind k, std::string detail) {
    if (finished_) return;
    finished_ = true;
    if (client_timer_) client_timer_->cancel();
    stop_wait_timer();
    attempt_outcome o;
    o.what = k;
    o.v = {action::pass_through, std::nullopt, std::nullopt};
    o.status = parser_ && parser_->is_header_done() ? parser_->get().result_int() : 0;
    o.detail = std::move(detail);
    o.bytes = bytes_;
    o.client_keep_alive = k == attempt_outcome::kind::completed && client_keep_alive_after_;
    if (meter_) o.usage = meter_->finish();
    if (up_) {
        if (k == attempt_outcome::kind::completed && parser_->is_done() && parser_->keep_alive() &&
            up_buffer_.size() == 0)
            pool_.release(std::move(up_));
        else
            up_->close();
    }
    listener_->attempt_done(std::move(o));
}

} // namespace clipal::worker
