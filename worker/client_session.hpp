// One client connection to a worker: reads requests (bounded head size and time, body up
// to the limit and within the worker's body budget), routes each to the forwarder, keeps
// the connection alive between requests, and watches for the client going away.
#pragma once

#include "shared/clock.hpp"
#include "shared/fault_log.hpp"
#include "shared/local_response.hpp"
#include "shared/log.hpp"
#include "shared/metrics_report.hpp"
#include "worker/asio_types.hpp"
#include "worker/body_budget.hpp"
#include "worker/connection_pool.hpp"
#include "worker/http_types.hpp"
#include "worker/profile_runtime.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace clipal::worker {

namespace http = boost::beast::http;

class forwarder;

// What sessions share within one worker process. Owned by worker_server, which outlives
// sessions except when the process stops at once (a second signal): the io_context then
// destroys the sessions' pending handlers after the server, so they check alive() first.
// Usage rows per worker report: a row is at most ~1 KiB of JSON (its strings are bounded), so
// a report stays well inside one IPC frame (256 KiB).
inline constexpr std::size_t usage_rows_per_report = 200;

class session_host {
public:
    virtual ~session_host() = default;
    std::shared_ptr<const bool> alive() const { return alive_; }
    virtual logger& log() = 0;
    virtual const clock& time_source() = 0;
    virtual connection_pool& pool() = 0;
    virtual body_budget& budget() = 0;
    // The runtime new requests start on (the latest config generation).
    virtual std::shared_ptr<profile_runtime> runtime() = 0;
    // Counters and usage rows for the next report to the supervisor (shared/metrics_report).
    virtual worker_metrics& metrics() = 0;
    // Enough usage rows wait for a report: send one soon rather than at the next heartbeat.
    virtual void report_due() {}
    // Gives a kept-alive connection whose next request belongs to another profile back to
    // the router, with the bytes already read. False when there is no router (standalone).
    virtual bool hand_back(tcp_socket& s, std::string_view bytes, const std::string& client_addr) = 0;
    // Provider state changed (a deactivation or cooldown began): re-arm the reactivation timer.
    virtual void providers_changed() = 0;
    // True once the worker drains: a finished request closes its connection instead of reading another.
    virtual bool draining() const = 0;
    virtual void session_opened() = 0;
    virtual void session_closed() = 0;

    // For a line a client or a fault can repeat at full rate (a malformed request, a refused
    // body): one complete line per burst of its kind, then a summary with the count.
    template <class... A>
    void log_fault(log_level level, std::string_view kind, std::string_view tag, fmt::format_string<A...> f, A&&... a) {
        if (faults().log(time_source().now(), level, kind, tag, f, std::forward<A>(a)...)) fault_counted();
    }
    virtual fault_log& faults() = 0;
    // The first event of a burst was counted, not logged: a summary is due at the window's end.
    virtual void fault_counted() = 0;

protected:
    void host_gone() { *alive_ = false; }

private:
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class client_session : public std::enable_shared_from_this<client_session> {
public:
    // `initial` holds bytes a router already read from the connection.
    client_session(tcp_socket socket, session_host& host, std::string initial, std::string client_addr);
    ~client_session();

    void start();
    // Closes the connection now (worker shutdown past its drain deadline).
    void close();
    bool busy() const { return forwarder_ != nullptr; }
    // Opened past the worker's max_connections: its request gets the protocol's 503 with
    // Retry-After, then the connection closes. Call before start().
    void refuse_over_capacity() { over_capacity_ = true; }

    // For the forwarder.
    tcp_socket& socket() { return socket_; }
    logger& log() { return host_.log(); }
    template <class... A>
    void log_fault(log_level level, std::string_view kind, std::string_view tag, fmt::format_string<A...> f, A&&... a) {
        host_.log_fault(level, kind, tag, f, std::forward<A>(a)...);
    }
    connection_pool& pool() { return host_.pool(); }
    bool draining() const { return host_.draining(); }
    clock::time_point now() { return host_.time_source().now(); }
    void providers_changed() { host_.providers_changed(); }
    worker_metrics& metrics() { return host_.metrics(); }
    void report_due() { host_.report_due(); }
    const std::string& client_addr() const { return client_addr_; }
    void request_done(bool keep_alive);
    void abort_connection();
    void send_error(int status, std::string_view message, std::optional<std::chrono::seconds> retry_after = {});
    // Ends the forwarding with an answer built here (an error, or an upstream answer replayed).
    void send_answer(const local_response& r);

private:
    using parser_type = client_request_parser;

    void read_request_line();
    void on_request_line_bytes(boost::system::error_code ec, std::size_t n);
    // Feeds the bytes already buffered to the parser; true when that finished the head
    // (head_only) or the whole request, or failed (`ec`); false when more bytes must be read.
    bool parse_buffered(bool head_only, boost::system::error_code& ec);
    void read_head();
    void on_head(boost::system::error_code ec);
    void on_continue_sent(boost::system::error_code ec);
    void read_body();
    void on_body(boost::system::error_code ec);
    void dispatch();
    void watch_client();
    void on_watch(boost::system::error_code ec, std::size_t n);
    // Answers the request whose head was just read with one of clipal's own answers, after
    // reading and dropping a small announced body; any other unread body closes the connection.
    void answer_locally(local_response r, unsigned minor_version, bool close_after);
    // Writes one of clipal's own answers (headers only for a HEAD); `close_after` (or a
    // draining worker) ends the connection after it, else the next request is read.
    void send_local(const local_response& r, unsigned minor_version, bool close_after);
    // One deadline at a time (head, body, keep-alive idle, local answer, linger): arm sets
    // it, clear removes it (the connection then waits without a bound), stop also ends the
    // timer's wait (when the session is done).
    void arm_deadline(std::chrono::steady_clock::duration d);
    void arm_deadline_at(std::chrono::steady_clock::time_point at);
    void clear_deadline();
    void stop_deadline();
    void wait_deadline();
    void on_deadline(boost::system::error_code ec);
    void shutdown_connection();
    void drain();
    void end_drain_read(boost::system::error_code ec);
    std::string_view error_tag() const;
    protocol proto() const;

    tcp_socket socket_;
    session_host& host_;
    std::shared_ptr<const bool> host_alive_;
    std::string client_addr_;
    boost::beast::flat_buffer buffer_;
    steady_timer deadline_;
    std::chrono::steady_clock::time_point deadline_at_ = std::chrono::steady_clock::time_point::max();
    bool deadline_waiting_ = false;
    // When the head being read must be complete; unset while the connection is idle.
    std::optional<std::chrono::steady_clock::time_point> head_deadline_;
    bool head_request_ = false; // the request being answered is a HEAD
    std::shared_ptr<profile_runtime> runtime_;
    block_pool& fields_pool_; // the request's header block and its forwarder come from here
    std::optional<parser_type> parser_;
    body_reservation reservation_;
    std::string rest_;
    std::shared_ptr<forwarder> forwarder_;
    std::string local_wire_; // the local answer being written
    struct deferred_answer {
        local_response response;
        unsigned minor_version;
    };
    std::optional<deferred_answer> after_body_; // sent once the request's body is dropped
    bool request_keep_alive_ = true;
    bool watching_ = false;
    bool next_after_watch_ = false;
    // The connection is closing: the watch's pending read is the drain's read.
    bool drain_after_watch_ = false;
    bool watch_into_buffer_ = false; // the watch reads into buffer_, else into watch_byte_
    char watch_byte_ = 0;            // a one-byte watch's read lands here, then joins buffer_
    bool closed_ = false;
    bool over_capacity_ = false;
};

} // namespace clipal::worker
