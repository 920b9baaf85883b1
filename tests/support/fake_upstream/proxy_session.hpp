// One connection to the fake CONNECT proxy: reads "CONNECT host:port", checks
// Proxy-Authorization when credentials are configured (407 otherwise), connects to the
// target, answers 200 and then copies bytes both ways until either side closes.
#pragma once

#include "support/fake_upstream/recorder.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>

namespace clipal::test::fake_upstream {

struct proxy_context {
    recorder* rec = nullptr;
    std::string expected_auth; // full header value ("Basic ..."); empty: no auth required
    bool verbose = false;
};

class proxy_session : public std::enable_shared_from_this<proxy_session> {
public:
    proxy_session(boost::asio::ip::tcp::socket client, const proxy_context& ctx);
    void run();

private:
    void on_head(const boost::system::error_code& ec);
    void on_resolve(const boost::system::error_code& ec, const boost::asio::ip::tcp::resolver::results_type& results);
    void on_connect(const boost::system::error_code& ec);
    void reply_and_close(int status, const char* extra_headers);
    void pump(boost::asio::ip::tcp::socket& from, boost::asio::ip::tcp::socket& to, std::array<char, 16384>& buf);
    void arm(std::chrono::steady_clock::duration d);
    void record(int status);
    void shut();

    boost::asio::ip::tcp::socket client_;
    boost::asio::ip::tcp::socket upstream_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::steady_timer deadline_;
    const proxy_context& ctx_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::empty_body>> parser_;
    std::string out_;
    std::array<char, 16384> to_upstream_{};
    std::array<char, 16384> to_client_{};
    int pumps_done_ = 0;
};

} // namespace clipal::test::fake_upstream
