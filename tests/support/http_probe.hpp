// A blocking HTTP/1.1 test client over a plain POSIX socket with poll() deadlines. It keeps
// what a test needs to judge a proxy: when each byte arrived (SSE pacing) and how the
// message ended (complete, cut by a clean close, reset, timed out, malformed framing).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clipal::test {

using header_list = std::vector<std::pair<std::string, std::string>>;

enum class end_kind {
    complete,     // the framing (Content-Length, chunked, close-delimited) was satisfied
    closed_early, // the peer closed cleanly (FIN) before the message was complete
    reset,        // ECONNRESET / EPIPE: the peer aborted the connection
    timed_out,    // the deadline passed first
    malformed,    // bytes that are not valid HTTP/1.1 (status line, headers, chunk framing)
    not_connected // no connection, or the request could not be sent
};
const char* to_string(end_kind k);

struct http_response {
    end_kind end = end_kind::not_connected;
    std::string error; // what went wrong when end != complete
    int status = 0;
    std::string reason;
    header_list headers;
    std::string body;          // after removing chunked framing; content encoding untouched
    std::size_t raw_bytes = 0; // bytes received for this message, head included

    using time_point = std::chrono::steady_clock::time_point;
    time_point sent_at{}; // when the request's last byte was written (request() only)
    time_point head_at{}; // when the head was complete
    // One entry per recv() that carried body bytes: body size after it, and when it arrived.
    std::vector<std::pair<std::size_t, time_point>> arrivals;

    bool complete() const { return end == end_kind::complete; }
    // First value of a header, name compared case-insensitively.
    std::optional<std::string> header(std::string_view name) const;
    std::size_t header_count(std::string_view name) const;
    // When the byte ending each occurrence of `needle` in the body arrived, in order
    // (e.g. "\n\n" for SSE event ends).
    std::vector<time_point> arrival_times_of(std::string_view needle) const;
};

class http_probe {
public:
    http_probe() = default;
    // Connects at once; check connected() / last_error().
    http_probe(const std::string& host, std::uint16_t port,
               std::chrono::milliseconds timeout = std::chrono::seconds(5));
    ~http_probe();
    http_probe(http_probe&& other) noexcept;
    http_probe& operator=(http_probe&& other) noexcept;
    http_probe(const http_probe&) = delete;
    http_probe& operator=(const http_probe&) = delete;

    // Numeric IPv4/IPv6 host only (tests stay on loopback). Returns false with last_error().
    bool connect(const std::string& host, std::uint16_t port,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));
    bool connected() const { return fd_ >= 0; }
    const std::string& last_error() const { return error_; }
    int fd() const { return fd_; }

    // Writes all bytes (or fails) within the timeout.
    bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));
    // Reads one response. Interim 1xx responses other than 101 are skipped. `bodyless`: the
    // response has no body whatever its headers say (answers to HEAD, and 2xx to CONNECT).
    // Bytes past the message stay buffered for the next read.
    http_response read_response(std::chrono::milliseconds timeout = std::chrono::seconds(10), bool bodyless = false);
    // Sends `method target HTTP/1.1` with the headers (Host and Content-Length added unless
    // given) and the body, then reads the response on this (kept-alive) connection.
    http_response request(std::string_view method, std::string_view target, const header_list& headers = {},
                          std::string_view body = {}, std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // Raw access, for tunnels and hand-made protocol violations: returns whatever arrives
    // (buffered bytes first) — empty on timeout or when the peer has closed (see peer_closed).
    std::string read_some(std::chrono::milliseconds timeout);
    // Reads until `needle` is in the returned text, the peer closes, or the deadline passes.
    std::string read_until(std::string_view needle, std::chrono::milliseconds timeout);
    // Waits for the peer to close: true on FIN or RST within the timeout (data is discarded).
    bool wait_peer_closed(std::chrono::milliseconds timeout);
    bool peer_closed() const { return peer_closed_; }

    void shutdown_write();
    // Closes with SO_LINGER 0 so the peer sees a reset, like a client that was killed.
    void abort();
    void close();

private:
    enum class io { data, eof, reset, timeout, error };
    io recv_some(std::chrono::steady_clock::time_point deadline, std::string& out);
    http_response read_one(std::chrono::steady_clock::time_point deadline, bool bodyless);

    int fd_ = -1;
    std::string host_;
    std::uint16_t port_ = 0;
    std::string error_;
    std::string pending_; // received but not yet consumed
    bool peer_closed_ = false;
};

// A loopback TCP port with nothing listening on it right now (bound to port 0, then
// closed): connecting to it is refused, which is how tests play an unreachable provider.
std::uint16_t unused_loopback_port();

} // namespace clipal::test
