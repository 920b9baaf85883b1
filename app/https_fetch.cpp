// Blocking HTTPS GET built from Beast's asynchronous operations: Beast's synchronous calls
// cannot time out, so each step is started asynchronously with a stream expiry and the
// private io_context is run until that step completes.
#include "app/https_fetch.hpp"

#include "clipal/version.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <optional>

namespace clipal::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;
using error_code = boost::system::error_code;

struct https_target {
    std::string host; // for DNS, SNI and the certificate check (IPv6 without brackets)
    std::string port;
    std::string host_header;
    std::string request_target;
    bool host_is_ip = false;
};

std::optional<https_target> parse_target(const boost::urls::url_view_base& u, std::string& error) {
    if (u.scheme_id() != boost::urls::scheme::https) {
        error = "refusing " + std::string(u.buffer()) + ": only https:// URLs are used for updates";
        return std::nullopt;
    }
    https_target t;
    t.host = u.host_address();
    if (t.host.empty()) {
        error = std::string(u.buffer()) + " has no host";
        return std::nullopt;
    }
    t.host_is_ip = u.host_type() == boost::urls::host_type::ipv4 || u.host_type() == boost::urls::host_type::ipv6;
    t.port = u.has_port() ? std::string(u.port()) : "443";
    t.host_header = std::string(u.encoded_host_and_port());
    t.request_target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query()) t.request_target += "?" + std::string(u.encoded_query());
    return t;
}

// Runs `ioc` until `done`: the operations bound their own time (stream expiry or timer).
void run_until(asio::io_context& ioc, const bool& done) {
    ioc.restart();
    while (!done && ioc.run_one() != 0) {}
}

// Printable ASCII only, at most `max` characters: server text quoted in our errors.
std::string printable(std::string_view s, std::size_t max = 200) {
    std::string out;
    for (const char c : s) {
        if (out.size() >= max) {
            out += "...";
            break;
        }
        out += (c >= 0x20 && c < 0x7f) ? c : ' ';
    }
    return out;
}

bool is_redirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// One GET over one connection; the owner of its stream, buffer and parser.
class exchange {
public:
    exchange(asio::io_context& ioc, ssl::context& ctx, const https_limits& limits, steady::time_point deadline)
        : ioc_(ioc), stream_(ioc, ctx), limits_(limits), deadline_(deadline) {}

    // Connects, sends the request and reads the response head. False with error_ on failure.
    bool start(const https_target& t, std::string_view url, std::string_view accept, std::uint64_t max_body) {
        url_ = url;
        if (!resolve_and_connect(t)) return false;

        SSL* ssl_handle = stream_.native_handle();
        // SNI is for names only (RFC 6066); the certificate must match the name or the IP.
        if (!t.host_is_ip && ::SSL_set_tlsext_host_name(ssl_handle, t.host.c_str()) != 1)
            return fail("cannot set the TLS server name");
        X509_VERIFY_PARAM* param = ::SSL_get0_param(ssl_handle);
        const int set = t.host_is_ip ? ::X509_VERIFY_PARAM_set1_ip_asc(param, t.host.c_str())
                                     : ::X509_VERIFY_PARAM_set1_host(param, t.host.c_str(), t.host.size());
        if (set != 1) return fail("cannot set the certificate host check");
        stream_.set_verify_mode(ssl::verify_peer);

        error_code ec;
        bool done = false;
        expire(limits_.io_timeout);
        stream_.async_handshake(ssl::stream_base::client, [&](error_code e) {
            ec = e;
            done = true;
        });
        run_until(ioc_, done);
        if (ec) return fail("TLS handshake with " + t.host_header + " failed", ec);

        http::request<http::empty_body> req{http::verb::get, t.request_target, 11};
        req.set(http::field::host, t.host_header);
        req.set(http::field::user_agent, std::string("clipal/") + clipal::version);
        req.set(http::field::accept, accept);
        req.set(http::field::connection, "close");
        done = false;
        expire(limits_.io_timeout);
        http::async_write(stream_, req, [&](error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(ioc_, done);
        if (ec) return fail("sending the request failed", ec);

        parser_.header_limit(64 * 1024);
        max_body_ = max_body;
        parser_.body_limit(max_body);
        done = false;
        expire(limits_.io_timeout);
        http::async_read_header(stream_, buffer_, parser_, [&](error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(ioc_, done);
        // A Content-Length over the limit is refused while the head is parsed.
        if (ec == http::error::body_limit)
            return fail("the response is larger than the " + std::to_string(max_body_) + " bytes accepted");
        if (ec) return fail("reading the response head failed", ec);
        return true;
    }

    int status() const { return static_cast<int>(parser_.get().result_int()); }
    std::string location() const { return std::string(parser_.get()[http::field::location]); }
    std::string reason() const { return std::string(parser_.get().reason()); }
    const std::string& error() const { return error_; }

    // Reads the body to `sink`. False with error_ on failure; `bytes` counts what the sink got.
    bool read_body(const std::function<bool(std::string_view)>& sink, std::uint64_t& bytes) {
        std::array<char, 64 * 1024> chunk{};
        while (!parser_.is_done()) {
            parser_.get().body().data = chunk.data();
            parser_.get().body().size = chunk.size();
            error_code ec;
            bool done = false;
            expire(limits_.io_timeout);
            http::async_read_some(stream_, buffer_, parser_, [&](error_code e, std::size_t) {
                ec = e;
                done = true;
            });
            run_until(ioc_, done);
            if (ec == http::error::need_buffer) ec = {};
            const auto n = chunk.size() - parser_.get().body().size;
            if (n > 0) {
                bytes += n;
                if (!sink(std::string_view(chunk.data(), n))) return fail("the download was stopped by the receiver");
            }
            if (ec == http::error::partial_message) {
                const auto length = parser_.content_length();
                return fail("the server closed the connection after " + std::to_string(bytes) + " body bytes" +
                            (length ? " of the " + std::to_string(*length) + " announced by Content-Length" : ""));
            }
            if (ec == http::error::body_limit)
                return fail("the response is larger than the " + std::to_string(max_body_) + " bytes accepted");
            if (ec) return fail("reading the response body failed", ec);
        }
        return true;
    }

private:
    bool resolve_and_connect(const https_target& t) {
        tcp::resolver resolver(ioc_);
        error_code ec;
        tcp::resolver::results_type endpoints;
        bool done = false;
        resolver.async_resolve(t.host, t.port, [&](error_code e, tcp::resolver::results_type r) {
            ec = e;
            endpoints = std::move(r);
            done = true;
        });
        asio::steady_timer timer(ioc_, std::min(steady::now() + limits_.connect_timeout, deadline_));
        bool timed_out = false;
        timer.async_wait([&](error_code e) {
            if (e) return;
            timed_out = true;
            resolver.cancel();
        });
        run_until(ioc_, done);
        timer.cancel();
        // The timer's cancelled wait still refers to `timed_out`; let it finish here.
        ioc_.restart();
        ioc_.poll();
        if (timed_out) return fail("looking up " + t.host + " timed out");
        if (ec) return fail("cannot resolve " + t.host, ec);

        done = false;
        expire(limits_.connect_timeout);
        beast::get_lowest_layer(stream_).async_connect(endpoints, [&](error_code e, const tcp::endpoint&) {
            ec = e;
            done = true;
        });
        run_until(ioc_, done);
        if (ec) return fail("cannot connect to " + t.host_header, ec);
        return true;
    }

    // The next step's deadline: `step` from now, never past the whole fetch's deadline.
    void expire(std::chrono::milliseconds step) {
        beast::get_lowest_layer(stream_).expires_at(std::min(steady::now() + step, deadline_));
    }

    bool fail(std::string what, error_code ec = {}) {
        error_ = what + " (" + url_ + ")";
        if (ec == beast::error::timeout)
            error_ = what + ": timed out (" + url_ + ")";
        else if (ec)
            error_ = what + ": " + ec.message() + " (" + url_ + ")";
        return false;
    }

    asio::io_context& ioc_;
    beast::ssl_stream<beast::tcp_stream> stream_;
    const https_limits& limits_;
    steady::time_point deadline_;
    beast::flat_buffer buffer_;
    http::response_parser<http::buffer_body> parser_;
    std::uint64_t max_body_ = 0;
    std::string url_;
    std::string error_;
};

constexpr std::size_t max_error_body = 2048;

// The message part of an error body: GitHub's {"message": ...} or the text itself.
std::string error_snippet(exchange& ex) {
    std::string body;
    std::uint64_t ignored = 0;
    ex.read_body(
        [&](std::string_view chunk) {
            body.append(chunk.substr(0, max_error_body - body.size()));
            return body.size() < max_error_body;
        },
        ignored);
    if (const auto key = body.find("\"message\""); key != std::string::npos) {
        const auto open = body.find('"', body.find(':', key) + 1);
        const auto close = open == std::string::npos ? open : body.find('"', open + 1);
        if (close != std::string::npos) return printable(std::string_view(body).substr(open + 1, close - open - 1));
    }
    return printable(body);
}

} // namespace

https_result https_get(std::string_view url, std::string_view accept, std::uint64_t max_body,
                       const std::function<bool(std::string_view)>& sink, const https_limits& limits) {
    https_result result;
    const auto deadline = steady::now() + limits.total_timeout;
    asio::io_context ioc;
    ssl::context ctx(ssl::context::tls_client);
    ::SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    error_code ec;
    ctx.set_default_verify_paths(ec);
    if (ec) {
        result.error = "cannot load the system's trusted certificates: " + ec.message();
        return result;
    }

    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        result.error = "not a valid URL: " + printable(url);
        return result;
    }
    boost::urls::url current(*parsed);
    for (int hop = 0;; ++hop) {
        const auto target = parse_target(current, result.error);
        if (!target) return result;
        exchange ex(ioc, ctx, limits, deadline);
        if (!ex.start(*target, current.buffer(), accept, max_body)) {
            result.error = ex.error();
            return result;
        }
        result.status = ex.status();
        if (is_redirect(result.status)) {
            const auto location = ex.location();
            auto ref = boost::urls::parse_uri_reference(location);
            if (location.empty() || !ref) {
                result.error = "HTTP " + std::to_string(result.status) + " without a usable Location (" +
                               std::string(current.buffer()) + ")";
                return result;
            }
            if (hop >= limits.max_redirects) {
                result.error =
                    "more than " + std::to_string(limits.max_redirects) + " redirects, starting at " + printable(url);
                return result;
            }
            boost::urls::url next;
            if (!boost::urls::resolve(current, *ref, next)) {
                result.error = "cannot follow the redirect to " + printable(location);
                return result;
            }
            current = std::move(next);
            continue;
        }
        if (result.status != 200) {
            const auto snippet = error_snippet(ex);
            result.error = "HTTP " + std::to_string(result.status) + " " + printable(ex.reason()) + " from " +
                           std::string(current.buffer()) + (snippet.empty() ? "" : ": " + snippet);
            return result;
        }
        if (!ex.read_body(sink, result.bytes)) {
            result.error = ex.error();
            return result;
        }
        result.ok = true;
        return result;
    }
}

https_result https_get_text(std::string_view url, std::string_view accept, std::uint64_t max_body, std::string& out,
                            const https_limits& limits) {
    out.clear();
    return https_get(
        url, accept, max_body,
        [&](std::string_view chunk) {
            out.append(chunk);
            return true;
        },
        limits);
}

} // namespace clipal::app
