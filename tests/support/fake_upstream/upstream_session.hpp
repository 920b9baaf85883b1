// One client connection to a fake provider: reads HTTP/1.1 requests (keep-alive), asks
// the provider's script how to answer each, and plays that step — including the broken
// ones (stalls, resets, bad framing). Works over plain TCP or TLS.
#pragma once

#include "support/fake_upstream/provider.hpp"
#include "support/fake_upstream/recorder.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace clipal::test::fake_upstream {

struct session_context {
    provider& prov;
    recorder* rec = nullptr; // null: no --record
    bool verbose = false;
};

template <class Stream>
class upstream_session : public std::enable_shared_from_this<upstream_session<Stream>> {
public:
    upstream_session(Stream stream, session_context ctx);
    void run();

private:
    // What to do once the current write completes.
    enum class then { read_next, close, abort, stall, next_event, next_piece, answer };

    void on_handshake(const boost::system::error_code& ec);
    void do_read();
    void on_header(const boost::system::error_code& ec);
    void on_read(const boost::system::error_code& ec);
    // The current step's delay, then play() it.
    void answer();
    void play(const step& st);
    void write(const std::string& bytes, then next);
    void on_write(const boost::system::error_code& ec, then next);
    void write_event();
    void write_piece();
    void stall();
    void close();
    void drain();
    void abort();
    void record_request(const step* st, std::chrono::steady_clock::time_point arrived);
    void build_echo();

    Stream stream_;
    session_context ctx_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    boost::asio::steady_timer timer_;
    std::string scratch_;              // dynamic responses; capacity is reused across requests
    std::array<char, 4096> discard_{}; // reads while stalling or closing
    std::size_t connection_id_;
    std::size_t requests_ = 0;
    bool keep_alive_ = true;
    const step* step_ = nullptr; // of the current request; steps live as long as the provider
    // The success answers naming the current request's model, kept while they are written.
    std::shared_ptr<const canned_responses> canned_;
    // Progress of multi-write steps.
    std::size_t events_left_ = 0;
    std::size_t event_seq_ = 0;
    std::size_t bytes_sent_ = 0;
    std::size_t bytes_total_ = 0;
    std::chrono::milliseconds interval_{0};
};

using plain_session = upstream_session<boost::beast::tcp_stream>;
using tls_session = upstream_session<boost::asio::ssl::stream<boost::beast::tcp_stream>>;

extern template class upstream_session<boost::beast::tcp_stream>;
extern template class upstream_session<boost::asio::ssl::stream<boost::beast::tcp_stream>>;

} // namespace clipal::test::fake_upstream
