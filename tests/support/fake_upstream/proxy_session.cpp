// CONNECT handling and the byte splice of the fake proxy. One deadline timer covers every
// phase (head, connect, idle tunnel); when it fires both sockets are closed.
#include "support/fake_upstream/proxy_session.hpp"

#include "support/fake_upstream/canned_responses.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/array.hpp>

#include <iostream>

namespace clipal::test::fake_upstream {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using net::ip::tcp;
using namespace std::chrono_literals;

proxy_session::proxy_session(tcp::socket client, const proxy_context& ctx)
    : client_(std::move(client)),
      upstream_(client_.get_executor()),
      resolver_(client_.get_executor()),
      deadline_(client_.get_executor()),
      ctx_(ctx) {}

void proxy_session::run() {
    arm(10s);
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    http::async_read_header(client_, buffer_, *parser_,
                            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                self->on_head(ec);
                            });
}

void proxy_session::arm(std::chrono::steady_clock::duration d) {
    deadline_.expires_after(d);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->shut();
    });
}

void proxy_session::shut() {
    boost::system::error_code ec;
    client_.close(ec);
    upstream_.close(ec);
    resolver_.cancel();
    deadline_.cancel();
}

void proxy_session::on_head(const boost::system::error_code& ec) {
    if (ec) return shut();
    const auto& req = parser_->get();
    if (ctx_.verbose) std::cerr << "fake-upstream: proxy " << req.method_string() << " " << req.target() << "\n";
    if (req.method() != http::verb::connect) {
        record(405);
        return reply_and_close(405, "Allow: CONNECT\r\n");
    }
    if (!ctx_.expected_auth.empty() && req[http::field::proxy_authorization] != ctx_.expected_auth) {
        record(407);
        return reply_and_close(407, "Proxy-Authenticate: Basic realm=\"fake-upstream\"\r\n");
    }
    const std::string_view target = req.target();
    const auto colon = target.rfind(':');
    if (colon == std::string_view::npos || colon == 0) {
        record(400);
        return reply_and_close(400, "");
    }
    std::string host(target.substr(0, colon));
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    resolver_.async_resolve(host, std::string(target.substr(colon + 1)),
                            [self = shared_from_this()](const boost::system::error_code& rec,
                                                        const tcp::resolver::results_type& results) {
                                self->on_resolve(rec, results);
                            });
}

void proxy_session::on_resolve(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
    if (ec) {
        record(502);
        return reply_and_close(502, "");
    }
    net::async_connect(upstream_, results,
                       [self = shared_from_this()](const boost::system::error_code& cec, const tcp::endpoint&) {
                           self->on_connect(cec);
                       });
}

void proxy_session::on_connect(const boost::system::error_code& ec) {
    if (ec) {
        record(502);
        return reply_and_close(502, "");
    }
    record(200);
    // Bytes the client sent after its CONNECT head go to the target first.
    out_ = "HTTP/1.1 200 Connection established\r\n\r\n";
    net::async_write(client_, net::buffer(out_),
                     [self = shared_from_this()](const boost::system::error_code& wec, std::size_t) {
                         if (wec) return self->shut();
                         const auto early = self->buffer_.data();
                         net::async_write(self->upstream_, early,
                                          [self](const boost::system::error_code& uec, std::size_t) {
                                              if (uec) return self->shut();
                                              self->buffer_.consume(self->buffer_.size());
                                              self->arm(600s);
                                              self->pump(self->client_, self->upstream_, self->to_upstream_);
                                              self->pump(self->upstream_, self->client_, self->to_client_);
                                          });
                     });
}

void proxy_session::pump(tcp::socket& from, tcp::socket& to, std::array<char, 16384>& buf) {
    from.async_read_some(net::buffer(buf), [self = shared_from_this(), &from, &to,
                                            &buf](const boost::system::error_code& ec, std::size_t n) {
        if (ec) {
            // A clean end is passed on as a half-close so the other side can finish too.
            if (ec != net::error::eof) return self->shut();
            boost::system::error_code ignored;
            to.shutdown(tcp::socket::shutdown_send, ignored);
            if (++self->pumps_done_ == 2) self->shut();
            return;
        }
        self->arm(600s);
        net::async_write(to, net::buffer(buf.data(), n),
                         [self, &from, &to, &buf](const boost::system::error_code& wec, std::size_t) {
                             if (wec) return self->shut();
                             self->pump(from, to, buf);
                         });
    });
}

void proxy_session::reply_and_close(int status, const char* extra_headers) {
    out_ = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n" + extra_headers +
           "Content-Length: 0\r\nConnection: close\r\n\r\n";
    net::async_write(client_, net::buffer(out_),
                     [self = shared_from_this()](const boost::system::error_code&, std::size_t) {
                         boost::system::error_code ignored;
                         self->client_.shutdown(tcp::socket::shutdown_send, ignored);
                         self->shut();
                     });
}

void proxy_session::record(int status) {
    if (ctx_.rec == nullptr) return;
    const auto& req = parser_->get();
    boost::json::object line;
    line["provider"] = "proxy";
    line["method"] = req.method_string();
    line["target"] = req.target();
    boost::json::array headers;
    for (const auto& f : req) headers.push_back(boost::json::array{f.name_string(), f.value()});
    line["headers"] = std::move(headers);
    line["status"] = status;
    ctx_.rec->write(line);
}

} // namespace clipal::test::fake_upstream
