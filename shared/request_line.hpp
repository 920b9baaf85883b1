// The first line of an HTTP/1.1 request (RFC 9112 §3), read from raw bytes before any full
// parser runs: the router and a worker route a connection by its request-target. Pure
// functions over string views, so the fuzzer drives them without an event loop.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace clipal {

struct request_line {
    std::string_view method;
    std::string_view target;
    std::string_view version;
};

// How many bytes of empty lines (CR and LF) precede the request line; RFC 9112 §2.2 lets
// a server skip them.
std::size_t leading_empty_lines(std::string_view bytes);

// The request line at the start of `bytes` (after empty lines), without its CRLF; nullopt
// until the whole line has arrived.
std::optional<std::string_view> first_line(std::string_view bytes);

// The length of the head at the start of `bytes` (after empty lines), up to and including
// the empty line that ends it; nullopt until that has arrived. A head is read whole, and
// its size checked, before anything is decided from it.
std::optional<std::size_t> head_length(std::string_view bytes);

// "METHOD SP request-target SP HTTP-version"; nullopt when the line has fewer than two spaces.
std::optional<request_line> parse_request_line(std::string_view line);

// The request-target of a line, empty when the line is malformed (no route matches it).
std::string_view request_target(std::string_view line);

} // namespace clipal
