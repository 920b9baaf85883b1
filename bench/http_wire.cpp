// HTTP/1.1 on the benchmark's plain sockets (see http_wire.hpp).
#include "bench/http_wire.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <sys/socket.h>

#include <cstdint>
#include <optional>

namespace clipal::bench {
namespace {

namespace http = boost::beast::http;

constexpr std::uint32_t max_head = 64 * 1024;

// Feeds `in` to `parser` until it is done or needs more bytes; returns the bytes consumed,
// or nullopt on a parse error.
template <class Parser>
std::optional<std::size_t> put_some(Parser& parser, std::string_view in) {
    std::size_t used = 0;
    while (!parser.is_done() && used < in.size()) {
        boost::beast::error_code ec;
        auto n = parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
        used += n;
        if (ec == http::error::need_more) {
            break;
        }
        if (ec) {
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
    }
    return used;
}

} // namespace

const std::string small_body = R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";
const std::string stream_body =
    R"({"model":"claude-x","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]})";

std::string post_request(const std::string& path, const std::string& body) {
    return "POST " + path +
           " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "x-api-key: sk-bench-client\r\nanthropic-version: 2023-06-01\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

response_reader::response_reader() {
    parser_.eager(true); // parse the body in the same put() as the head: events arrive with it
    parser_.header_limit(max_head);
    parser_.body_limit(boost::none); // a stream lasts as long as the target sends
}

bool response_reader::feed(std::string_view in) {
    if (parser_.is_done()) {
        return true;
    }
    // The parser takes a head, and a chunk-size line, only once all of it is there; what it
    // leaves is kept and given again with the next bytes. Usually nothing is left.
    if (pending_.empty()) {
        auto used = put_some(parser_, in);
        if (!used) {
            return false;
        }
        pending_.assign(in.substr(*used));
    } else {
        pending_.append(in);
        auto used = put_some(parser_, pending_);
        if (!used) {
            return false;
        }
        pending_.erase(0, *used);
    }
    if (parser_.is_done()) {
        pending_.clear();
    }
    return true;
}

bool read_request(int fd, std::string& in) {
    http::request_parser<http::string_body> parser;
    parser.eager(true);
    parser.header_limit(max_head);
    parser.body_limit(boost::none);
    char buf[8192];
    for (;;) {
        auto used = put_some(parser, in);
        if (!used) {
            return false;
        }
        in.erase(0, *used);
        if (parser.is_done()) {
            return true;
        }
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            return false;
        }
        in.append(buf, static_cast<std::size_t>(n));
    }
}

} // namespace clipal::bench
