// Where a request's body ends (RFC 9112 §6), decided from its head alone and strictly: a
// head that two parsers could frame differently is refused, because the bytes one reads as
// body another reads as the next request (request smuggling). Pure functions over header
// field values, so the fuzzer drives them without an event loop.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace clipal {

struct header_field {
    std::string_view name;
    std::string_view value;
};

enum class framing_error {
    none,
    host_missing,         // HTTP/1.1 without Host (RFC 9112 §3.2)
    host_repeated,        // more than one Host field line (ibid.)
    transfer_in_http10,   // Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)
    not_chunked_last,     // Transfer-Encoding whose final coding is not chunked (§6.3)
    chunked_repeated,     // chunked applied twice (RFC 9112 §7)
    unsupported_coding,   // a transfer coding besides chunked (§6.1: not implemented)
    length_with_transfer, // Content-Length together with Transfer-Encoding (§6.3)
    length_repeated,      // more than one Content-Length value, equal or not
    length_invalid,       // a Content-Length that is not 1*DIGIT within 64 bits
};

struct request_framing {
    enum class body_kind { none, length, chunked };
    body_kind body = body_kind::none;
    std::uint64_t length = 0; // body_kind::length only
    framing_error error = framing_error::none;
};

// The framing of a request of HTTP `version` (major * 10 + minor, as Beast reports it: 11
// for HTTP/1.1) with these header fields (every occurrence, in order; names compared
// case-insensitively). Any error means: answer status_of(error) and close the connection.
request_framing frame_request(unsigned version, std::span<const header_field> fields);

// 400, or 501 for a transfer coding clipal does not implement.
int status_of(framing_error e);
// What was wrong, for the client's error body and the log ("Transfer-Encoding ...").
std::string_view describe(framing_error e);

} // namespace clipal
