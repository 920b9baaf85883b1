// Answers clipal gives itself — health, an unknown path, a refused or failed request — as
// complete HTTP/1.x responses with a JSON body in the shape of the profile's protocol.
// One builder for both processes: the supervisor's router and the worker's sessions.
#pragma once

#include "shared/profile.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace clipal {

struct local_response {
    int status = 200;
    std::string body; // JSON, unless content_type says otherwise
    std::optional<std::chrono::seconds> retry_after;
    // An upstream answer replayed (a context-length 400 no other provider could serve) keeps
    // its own type and encoding; values holding CR, LF or NUL are not sent.
    std::string content_type = "application/json";
    std::string content_encoding; // empty: no Content-Encoding header
};

// 200 {"status":"healthy"}
local_response health_response();

// The protocol's JSON error (see error_body.hpp) with `status`.
local_response error_response(protocol p, int status, std::string_view message,
                              std::optional<std::chrono::seconds> retry_after = {});

// The bytes on the wire: status line of HTTP/1.`minor_version` (0 or 1), Content-Type
// (and Content-Encoding when set),
// Content-Length, Retry-After when set, and the Connection header that `keep_alive` needs
// in that version ("close" when false; "keep-alive" for HTTP/1.0 when true). `head_request`:
// the answer to a HEAD, the same headers (Content-Length included) without the body.
std::string to_wire(const local_response& r, bool keep_alive, unsigned minor_version = 1, bool head_request = false);

} // namespace clipal
