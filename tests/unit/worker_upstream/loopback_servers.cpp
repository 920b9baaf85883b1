#include "unit/worker_upstream/loopback_servers.hpp"

#include "worker/tls_context.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>

#include <type_traits>

namespace clipal::test {

namespace http = beast::http;

namespace {

template <class Stream>
class server_session : public std::enable_shared_from_this<server_session<Stream>> {
public:
    server_session(Stream s, std::shared_ptr<server_record> rec) : stream_(std::move(s)), record_(std::move(rec)) {}

    void run() {
        record_->closers.push_back([weak = this->weak_from_this()] {
            if (auto self = weak.lock()) {
                error_code ec;
                beast::get_lowest_layer(self->stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
                beast::get_lowest_layer(self->stream_).socket().close(ec);
            }
        });
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            do_read();
        } else {
            stream_.async_handshake(net::ssl::stream_base::server, [self = this->shared_from_this()](error_code ec) {
                if (ec) return;
                const char* name = ::SSL_get_servername(self->stream_.native_handle(), TLSEXT_NAMETYPE_host_name);
                self->record_->handshakes++;
                self->record_->sni.push_back(name ? name : "");
                self->do_read();
            });
        }
    }

private:
    void do_read() {
        request_ = {};
        http::async_read(stream_, buffer_, request_, [self = this->shared_from_this()](error_code ec, std::size_t) {
            if (ec) {
                if (ec != net::error::operation_aborted && ec != net::error::bad_descriptor)
                    self->record_->peer_closed++;
                return;
            }
            self->on_request();
        });
    }

    void on_request() {
        record_->requests++;
        record_->targets.emplace_back(request_.target());
        record_->hosts.emplace_back(request_[http::field::host]);
        response_ = {};
        response_.result(http::status::ok);
        response_.version(11);
        response_.keep_alive(true);
        response_.body() = "response " + std::to_string(record_->requests);
        response_.prepare_payload();
        http::async_write(stream_, response_, [self = this->shared_from_this()](error_code ec, std::size_t) {
            if (!ec) self->do_read();
        });
    }

    Stream stream_;
    std::shared_ptr<server_record> record_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> request_;
    http::response<http::string_body> response_;
};

} // namespace

std::shared_ptr<net::ssl::context> trusting_client_context(const std::filesystem::path& ca) {
    scoped_env env("SSL_CERT_FILE", ca.c_str());
    return worker::make_client_tls_context();
}

std::shared_ptr<net::ssl::context> server_tls_context(const std::filesystem::path& cert,
                                                      const std::filesystem::path& key) {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
    ctx->use_certificate_chain_file(cert.string());
    ctx->use_private_key_file(key.string(), net::ssl::context::pem);
    return ctx;
}

void http_server::do_accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
        if (ec) return;
        record_->accepted++;
        if (tls_) {
            using tls_stream = beast::ssl_stream<beast::tcp_stream>;
            std::make_shared<server_session<tls_stream>>(tls_stream(beast::tcp_stream(std::move(socket)), *tls_),
                                                         record_)
                ->run();
        } else {
            std::make_shared<server_session<beast::tcp_stream>>(beast::tcp_stream(std::move(socket)), record_)->run();
        }
        do_accept();
    });
}

std::string closed_port(net::io_context& ioc) {
    tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    return std::to_string(a.local_endpoint().port());
}

struct fake_proxy::tunnel : std::enable_shared_from_this<fake_proxy::tunnel> {
    tunnel(net::io_context& ioc, tcp::socket s) : client(std::move(s)), origin(ioc) {}
    tcp::socket client;
    tcp::socket origin;
    std::string head;
    std::array<char, 4096> up{};
    std::array<char, 4096> down{};

    void pump(tcp::socket& from, tcp::socket& to, std::array<char, 4096>& buf) {
        from.async_read_some(net::buffer(buf), [self = shared_from_this(), &from, &to, &buf](error_code ec,
                                                                                             std::size_t n) {
            if (ec) {
                error_code ignored;
                to.shutdown(tcp::socket::shutdown_send, ignored);
                return;
            }
            net::async_write(to, net::buffer(buf.data(), n), [self, &from, &to, &buf](error_code wec, std::size_t) {
                if (!wec) self->pump(from, to, buf);
            });
        });
    }
};

void fake_proxy::do_accept() {
    acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
        if (ec) return;
        record_->accepted++;
        auto t = std::make_shared<tunnel>(ioc_, std::move(socket));
        net::async_read_until(t->client, net::dynamic_buffer(t->head), "\r\n\r\n",
                              [this, t, rec = record_](error_code rec_ec, std::size_t n) {
                                  if (rec_ec) return;
                                  rec->heads.push_back(t->head.substr(0, n));
                                  on_head(t);
                              });
        do_accept();
    });
}

void fake_proxy::on_head(const std::shared_ptr<tunnel>& t) {
    if (silent_) {
        silent_tunnels_.push_back(t); // keeps the connection open and unanswered
        return;
    }
    if (status_ != 200) {
        auto reply = std::make_shared<std::string>("HTTP/1.1 " + std::to_string(status_) +
                                                   " Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
        net::async_write(t->client, net::buffer(*reply), [t, reply](error_code, std::size_t) {
            error_code ignored;
            t->client.close(ignored);
        });
        return;
    }
    const auto colon = t->head.rfind(':', t->head.find(" HTTP/1.1"));
    const auto port = t->head.substr(colon + 1, t->head.find(' ', colon) - colon - 1);
    error_code ec;
    t->origin.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(std::stoi(port))),
                      ec);
    if (ec) return;
    auto ok = std::make_shared<std::string>("HTTP/1.1 200 Connection established\r\n\r\n");
    net::async_write(t->client, net::buffer(*ok), [t, ok](error_code wec, std::size_t) {
        if (wec) return;
        t->pump(t->client, t->origin, t->up);
        t->pump(t->origin, t->client, t->down);
    });
}

std::optional<std::string> exchange(net::io_context& ioc, worker::upstream_stream& stream, const std::string& target,
                                    const std::string& host, std::chrono::milliseconds timeout) {
    auto req = std::make_shared<http::request<http::empty_body>>(http::verb::get, target, 11);
    req->set(http::field::host, host);
    req->keep_alive(true);
    auto buffer = std::make_shared<beast::flat_buffer>();
    auto res = std::make_shared<http::response<http::string_body>>();
    bool done = false;
    error_code result;
    http::async_write(stream, *req, [&, req, buffer, res](error_code ec, std::size_t) {
        if (ec) {
            result = ec;
            done = true;
            return;
        }
        http::async_read(stream, *buffer, *res, [&, buffer, res](error_code rec, std::size_t) {
            result = rec;
            done = true;
        });
    });
    if (!run_until(
            ioc, [&] { return done; }, timeout)) {
        stream.close();
        run_until(ioc, [&] { return done; });
        return std::nullopt;
    }
    if (result || res->result() != http::status::ok) return std::nullopt;
    return res->body();
}

} // namespace clipal::test
