// Decides what an upstream answer means for failover (SPEC §4): pass it to the client,
// try the next provider, or deactivate this one. Pure: the forwarder hands in the status,
// the hint headers and (for 429) a bounded prefix of the body.
#pragma once

#include "shared/clock.hpp"
#include "shared/duration.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

namespace clipal {

enum class failure_reason {
    connect,
    tls,
    write,
    reset,
    header_timeout,
    idle_timeout,
    bad_response,
    auth,
    billing,
    quota,
    rate_limited,
    overloaded,
    server_error,
};

// Short words for log lines and error bodies: "connect error", "auth", "rate limited"...
std::string_view to_string(failure_reason r);

enum class action {
    pass_through, // return the answer to the client as it is
    try_next,     // this attempt failed; another provider may serve the request
    deactivate,   // as try_next, and keep this provider out for reactivate_after
};

struct verdict {
    action act = action::pass_through;
    std::optional<failure_reason> reason; // set unless act is pass_through
    std::optional<duration> cooldown;     // how long to skip the provider, when it hinted
};

// What the forwarder saw of one upstream response. Header values are empty when absent.
struct upstream_answer {
    int status = 0;
    std::string_view retry_after;
    std::string_view reset_requests; // X-RateLimit-Reset-Requests
    std::string_view reset_tokens;   // X-RateLimit-Reset-Tokens
    std::string_view content_encoding;
    std::string_view body; // may be empty, truncated or gzip-encoded
};

// Largest body prefix the forwarder should read before classifying (when needs_body).
inline constexpr std::size_t classify_body_limit = 64 * 1024;

// True for 429, whose body decides between deactivating and cooling down, and for 503,
// whose body may say `overloaded_error` (a gateway in front of Anthropic): an exhausted
// answer is 429 when every provider is rate limited or overloaded (SPEC §4). For other
// statuses the forwarder classifies on the head alone and keeps the body unread.
bool needs_body(int status);

// Classifies one answer by status (and, for 429, body). A 429 body that is not JSON, is
// truncated or fails to decompress counts as a plain rate limit. Never throws.
verdict classify(const upstream_answer& a, clock::time_point now);

} // namespace clipal
