// One try of one request against one provider: get a connection, send the buffered
// request, wait for the response head, classify it, and — when it is an answer to pass
// through — stream it to the client. Owns the upstream stream, its buffers and timers.
#pragma once

#include "shared/failure_classifier.hpp"
#include "shared/local_response.hpp"
#include "worker/asio_types.hpp"
#include "worker/connection_pool.hpp"
#include "worker/http_types.hpp"
#include "worker/request_rewrite.hpp"
#include "worker/upstream_stream.hpp"
#include "worker/usage_meter.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::worker {

namespace http = boost::beast::http;

// The timeouts and the clock reading an attempt runs with; the forwarder builds them for
// each attempt, which keeps its own copy.
struct attempt_settings {
    connect_timeouts connect;
    std::chrono::steady_clock::duration response_header_timeout;
    std::chrono::steady_clock::duration idle_timeout; // zero: no idle bound (upstream_idle_timeout: 0)
    std::chrono::steady_clock::duration client_write_timeout;
    clock::time_point now; // for Retry-After dates
    // A streaming request's bound on the response head plus its first body byte, counted
    // from the moment the request is sent; zero: not a streaming request (SPEC §5).
    std::chrono::steady_clock::duration first_byte_timeout{};
};

// What an attempt sends, the same for a retry: the serialized head (request_head()) and
// the client's buffered body (owned by the forwarder, which outlives its attempts). The
// attempt holds it by value: moving it moves no bytes and allocates nothing.
struct upstream_request {
    std::string head;
    std::string_view client_body;
    std::string owned_body; // the body when it differs from the client's (a model override)
    bool own = false;       // owned_body is the body
    std::string_view body() const { return own ? std::string_view(owned_body) : client_body; }
};

// How an attempt ended, reported once to its owner.
struct attempt_outcome {
    enum class kind {
        failed,    // nothing reached the client: the owner may try the next provider
        completed, // the whole response reached the client
        aborted,   // broke off after the response to the client began (its connection must be aborted)
    };
    kind what = kind::failed;
    verdict v{action::try_next, std::nullopt, std::nullopt};
    int status = 0;          // upstream status when one was received
    std::string detail;      // human words for the log and the exhausted answer
    std::uint64_t bytes = 0; // body bytes written to the client
    bool client_keep_alive = false;
    // A failed answer the client may still get as it is (a context-length 400, whole).
    std::optional<local_response> replay;
    // What the passed-through response said it used (read as it streamed past).
    usage_result usage;
};

// Who an attempt reports to (the forwarder). The attempt holds it until the attempt ends:
// one reference and three virtual calls instead of three std::function objects per attempt.
class attempt_listener {
public:
    virtual ~attempt_listener() = default;
    // Asked when the response head goes out: may the client connection stay open after it?
    // (No once the worker drains, so the client hears `Connection: close` in time.)
    virtual bool client_keep_alive() = 0;
    // The response head is about to be sent to the client (the provider answered).
    virtual void answer_started(int status) = 0;
    // How the attempt ended; called once, and not after abort().
    virtual void attempt_done(attempt_outcome o) = 0;
};

class upstream_attempt : public std::enable_shared_from_this<upstream_attempt>, public readable_sink {
public:
    upstream_attempt(tcp_socket& client, connection_pool& pool, const upstream_target& target, upstream_request request,
                     bool head_request, unsigned client_version, const attempt_settings& settings,
                     std::shared_ptr<attempt_listener> listener);

    void start();
    // Bytes of buffer the attempt holds now (relay piece and upstream read buffer). While
    // an open plain-TCP stream waits for its next piece: at most the few bytes received of
    // a chunk header.
    std::size_t buffered_capacity() const noexcept { return piece_.size() + up_buffer_.capacity(); }
    // Ends the attempt now (client went away): closes the upstream connection so the
    // provider stops generating. Reports nothing: `done` is not called afterwards.
    void abort();

    // readable_sink: the stream's readiness wait ended (plain TCP).
    void on_readable(std::uint64_t tag, boost::system::error_code ec) override;

private:
    void on_connected(boost::system::error_code ec, connect_stage stage, std::unique_ptr<upstream_stream> s);
    void on_written(boost::system::error_code ec);
    // Reads the next response head into a fresh parser.
    void read_header();
    void on_header(boost::system::error_code ec);
    // Skips an interim (1xx) head and reads the next one; fails the attempt on a 101 or on
    // too many of them.
    void on_interim(int status);
    // A reused pooled connection that failed before anything was received: most likely
    // the server closed it while it sat idle. `closed` says whether the error looks like
    // such a close. True at most once per attempt (the retry is on a fresh connection).
    bool stale_connection(bool closed) const;
    void retry_on_fresh_connection();
    // Reads the start of the body of an answer that classify() needs it for (needs_body()),
    // then classify_answer().
    void read_error_body();
    // Decides on every answer once its head (and, when needed, its error body) is in:
    // fail over, or pass it through and start relaying it to the client.
    void classify_answer();
    void read_body_piece();
    // Parses body bytes already in up_buffer_ into a piece and writes it; false (nothing
    // written) when they hold no body byte yet.
    bool parse_buffered();
    // Reads (and drops) the body bytes of an answer that will not be passed through, as
    // far as they have arrived: when that completes the answer, fail() can keep the
    // connection for the next request to this provider. No I/O: failover never waits.
    void discard_buffered_body();
    // Plain TCP: reads go after readiness (wait_readable), straight into up_buffer_, under
    // one lazily re-armed deadline (arm_wait_timer); TLS reads go through Beast's
    // operations and the stream's own deadline, as OpenSSL may hold bytes the socket will
    // not signal again.
    enum class waiting { none, head, body };
    void parse_head();
    void wait_readable(waiting w);
    void readable(boost::system::error_code ec);
    // Reads what the socket has without blocking; false with `ec` (would_block: nothing
    // there yet). The upstream's close is judged as Beast's reads judge it.
    bool read_available(boost::system::error_code& ec);
    void arm_wait_timer(std::chrono::steady_clock::time_point at);
    void on_wait_timer(boost::system::error_code ec);
    void stop_wait_timer();
    void await_body();
    void on_body_readable(boost::system::error_code ec);
    void read_body_now();
    void on_body_piece(boost::system::error_code ec);
    // The relay buffer with at least `room` bytes (allocated on first use or when too small).
    char* piece(std::size_t room);
    void write_to_client();
    void on_client_written(boost::system::error_code ec);
    void fail(verdict v, std::string detail, std::optional<local_response> replay = {});
    // A streaming request whose first-byte bound (the smaller of the two) governs its wait.
    bool first_byte_bound() const;
    // When waiting for the response head (or, streaming, the first body byte) ends.
    std::chrono::steady_clock::time_point head_deadline() const;
    // A wait before the first body byte timed out: which bound it was.
    void fail_waiting(failure_reason idle_or_reset, std::string what);
    void finish(attempt_outcome::kind k, std::string detail);
    void arm_client_timer();

    tcp_socket& client_;
    connection_pool& pool_;
    const upstream_target& target_;
    upstream_request request_;
    bool head_request_;
    unsigned client_version_;
    attempt_settings settings_;
    std::shared_ptr<attempt_listener> listener_;

    acquire_handle pending_connect_;
    bool connecting_ = false;
    std::unique_ptr<upstream_stream> up_;
    bool reused_ = false;
    bool retried_stale_ = false;
    unsigned interim_ = 0;                                            // interim (1xx) heads skipped so far
    boost::beast::basic_flat_buffer<pool_allocator<char>> up_buffer_; // from the block_pool, as piece_
    std::optional<upstream_response_parser> parser_;
    std::string head_;                     // the response head for the client, until it is sent
    bool chunked_ = false;                 // the client gets chunked framing
    bool client_keep_alive_after_ = false; // the head told the client its connection stays open
    std::array<char, 20> chunk_line_{};
    std::array<boost::asio::const_buffer, 4> wire_; // what the client write in flight sends
    std::string error_body_;     // read to classify the answer; the client's first piece if it passes
    char* piece_data_ = nullptr; // what write_to_client sends: piece_ or error_body_
    std::chrono::steady_clock::time_point sent_at_{}; // the request went out (first byte bound)
    // The relay buffer, taken only while upstream bytes are being read and written: an
    // open stream waiting for its next event holds none (see read_body_piece).
    pool_bytes piece_;
    std::size_t piece_size_ = 0; // bytes of the current piece
    waiting waiting_ = waiting::none;
    bool timed_out_ = false; // the wait timer cut the pending wait
    bool head_sent_ = false;
    bool finished_ = false;
    std::uint64_t bytes_ = 0;
    std::optional<usage_meter> meter_;         // the passed-through body's token usage
    std::optional<steady_timer> client_timer_; // a client write that has to wait
    // Bounds the wait for upstream bytes on plain TCP (response head, upstream_idle_timeout).
    steady_timer wait_timer_;
    std::chrono::steady_clock::time_point wait_until_ = std::chrono::steady_clock::time_point::max();
    bool wait_armed_ = false;
    block_pool& blocks_; // the response's header fields and the wait's operation
};

} // namespace clipal::worker
