// HTTP/1.1 on the benchmark's plain sockets: the request it sends, and Beast's parsers fed
// from recv() — responses incrementally, so SSE events can be timed as they arrive, and
// requests as the upstreams inside clipal_bench read them.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>

namespace clipal::bench {

extern const std::string small_body;  // a non-streaming Anthropic messages request
extern const std::string stream_body; // the same with "stream": true

// A POST of `body` to `path` with the headers the Anthropic API expects.
std::string post_request(const std::string& path, const std::string& body);

// One response, parsed by http::response_parser as bytes arrive. Not movable (the parser
// is not); one reader per response.
class response_reader {
public:
    response_reader();
    response_reader(const response_reader&) = delete;
    response_reader& operator=(const response_reader&) = delete;

    // Parses the bytes received next; the decoded body grows in body(). False on a parse
    // error (including a head over 64 KiB). Bytes after the end of the response are ignored.
    bool feed(std::string_view in);

    bool done() const { return parser_.is_done(); }
    bool head_done() const { return parser_.is_header_done(); }
    // Valid once head_done().
    int status() const { return parser_.get().result_int(); }
    // Valid once done(): the server closes the connection after this response.
    bool close_after() const { return !parser_.keep_alive(); }
    const std::string& body() const { return parser_.get().body(); }

private:
    boost::beast::http::response_parser<boost::beast::http::string_body> parser_;
    std::string pending_; // received, not yet consumed by the parser (an incomplete head or chunk line)
};

// Blocks until one whole request (head and body) has been read from `fd` and removes it from
// `in`, which keeps the bytes received after it; false when the peer closes, the read fails
// or the request does not parse. For the upstreams inside clipal_bench.
bool read_request(int fd, std::string& in);

} // namespace clipal::bench
