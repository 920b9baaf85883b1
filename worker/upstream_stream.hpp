// A connected upstream byte stream, plain TCP or TLS over TCP, behind one AsyncStream
// interface so Beast's HTTP algorithms run on either. Produced by upstream_connector,
// kept between requests by connection_pool.
#pragma once

#include "worker/asio_types.hpp"
#include <boost/asio/async_result.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace clipal::worker {

// Told when a plain stream's readiness wait ends (upstream_stream::await_readable).
class readable_sink {
public:
    virtual ~readable_sink() = default;
    // `tag` is the one given with the sink; `ec` is empty when the socket became readable
    // (bytes, EOF or an error to read).
    virtual void on_readable(std::uint64_t tag, boost::system::error_code ec) = 0;
};

class upstream_stream {
public:
    using executor_type = tcp_stream::executor_type;
    using ssl_stream_type = boost::beast::ssl_stream<tcp_stream>;

    // Takes a connected (or connecting) TCP stream; the stream is plain until upgrade_to_tls.
    explicit upstream_stream(tcp_stream tcp);
    upstream_stream(const upstream_stream&) = delete;
    upstream_stream& operator=(const upstream_stream&) = delete;
    ~upstream_stream();

    // Wraps the TCP stream in a TLS layer using `ctx`. Only before any I/O on the TLS
    // layer and with no operation pending on the TCP one; the handshake is the caller's.
    void upgrade_to_tls(boost::asio::ssl::context& ctx);

    executor_type get_executor() noexcept { return tcp().get_executor(); }

    // The TCP layer: expires_after / expires_never for deadlines, socket() for options.
    tcp_stream& tcp() noexcept { return tls_ ? tls_->next_layer() : *plain_; }
    // The TLS layer; only when tls() is true.
    ssl_stream_type& ssl() noexcept { return *tls_; }

    bool tls() const noexcept { return tls_.has_value(); }
    bool is_open() noexcept { return tcp().socket().is_open(); }

    // Immediate hard close: cancels pending operations (they complete with
    // operation_aborted) and closes the socket without waiting for a TLS close_notify.
    // Safe to call more than once.
    void close() noexcept;

    // True when the stream was handed out of the pool's idle set rather than freshly
    // connected: a failure before the first response byte may then just be a keep-alive
    // race with the server closing it, and is worth one retry on a fresh connection.
    bool reused() const noexcept { return reused_; }
    void set_reused(bool r) noexcept { reused_ = r; }

    // Which idle list the pool files this stream under; set by the pool.
    const std::string& pool_key() const noexcept { return pool_key_; }
    void set_pool_key(std::string key) { pool_key_ = std::move(key); }

    // One readiness wait at a time on a plain stream, whoever holds it: the pool starts one
    // when the stream goes idle (to see the server close it), and the next request's
    // attempt takes it over as the wait for its response, so a request costs one wait
    // (Asio arms each with an epoll_ctl) instead of the pool's and the attempt's. Starts a
    // wait unless one is pending; its end goes to the latest sink (none: dropped).
    void await_readable(std::weak_ptr<readable_sink> sink, std::uint64_t tag);
    // The pending wait's end goes nowhere (the stream changes hands); the wait goes on.
    void detach_readable() { wait_->sink.reset(); }

    // AsyncReadStream / AsyncWriteStream: dispatch to whichever layer is active.
    template <class MutableBufferSequence, class ReadToken>
    auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
        return boost::asio::async_initiate<ReadToken, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const MutableBufferSequence& b) {
                if (tls_)
                    tls_->async_read_some(b, std::move(handler));
                else
                    plain_->async_read_some(b, std::move(handler));
            },
            token, buffers);
    }

    template <class ConstBufferSequence, class WriteToken>
    auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
        return boost::asio::async_initiate<WriteToken, void(boost::beast::error_code, std::size_t)>(
            [this](auto handler, const ConstBufferSequence& b) {
                if (tls_)
                    tls_->async_write_some(b, std::move(handler));
                else
                    plain_->async_write_some(b, std::move(handler));
            },
            token, buffers);
    }

private:
    std::optional<tcp_stream> plain_; // empty once upgraded
    std::optional<ssl_stream_type> tls_;
    bool reused_ = false;
    std::string pool_key_;
    // Shared with the pending wait's handler, which may run after the stream is gone.
    struct wait_state {
        bool pending = false;
        std::weak_ptr<readable_sink> sink;
        std::uint64_t tag = 0;
    };
    std::shared_ptr<wait_state> wait_ = std::make_shared<wait_state>();
};

} // namespace clipal::worker
