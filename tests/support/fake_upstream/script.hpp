// The behaviour script of one fake provider: a comma-separated sequence of steps, one per
// request, the last repeating forever ("status:503,ok"). Pure parsing, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::test::fake_upstream {

enum class step_kind {
    ok,            // protocol-aware success chosen by the request path
    status,        // an error (or any) status with a realistic body
    refuse,        // stop listening: later connections are refused
    reset,         // read the request, then abort the connection (RST)
    stall_headers, // read the request, never answer
    stall_body,    // send a 200 SSE head, then nothing
    stall_mid,     // send the head and `count` SSE events, then nothing
    sse,           // `count` SSE events `interval` apart, then a clean end
    bytes,         // a chunked body of `count` pattern bytes, with X-Body-Sha256
    echo,          // JSON describing the request
    bad_framing,   // invalid chunked encoding after the first chunk, then close
    huge_headers,  // a 1 MiB header block
    close_mid,     // half of the announced Content-Length, then a clean close
    redirect,      // 302 with Location
};

// The script spelling of a kind ("stall-mid").
const char* step_name(step_kind k);

// Error body flavours for `status`; `automatic` picks the request's protocol.
enum class body_kind {
    automatic,
    empty,
    text,
    anthropic_overloaded,
    anthropic_rate_limit,
    anthropic_auth,
    openai_insufficient_quota,
    openai_invalid_key,
    openai_rate_limit,
    gemini_resource_exhausted,
};

struct step {
    step_kind kind = step_kind::ok;
    int status = 200;
    std::string retry_after;    // header values, sent verbatim when not empty
    std::string reset_requests; // X-RateLimit-Reset-Requests
    std::string reset_tokens;   // X-RateLimit-Reset-Tokens
    body_kind body = body_kind::automatic;
    bool gzip = false;
    std::chrono::milliseconds delay{0};    // before answering
    std::size_t count = 0;                 // sse/stall-mid events, bytes length
    std::chrono::milliseconds interval{0}; // between sse events
    std::string location;                  // redirect target; empty: /redirected on this listener
    std::vector<int> interim;              // 1xx heads sent, in order, before the delay and the answer
    std::size_t repeat = 1;                // "*N" suffix: this step serves N requests
};

struct script {
    std::vector<step> steps; // never empty

    // The step for the request with this 0-based sequence number: steps are used in
    // order, each `repeat` times, and the last one repeats forever.
    const step& at(std::size_t request_index) const;
};

// Parses a script such as
//   "status:429;retry-after=2;body=anthropic-rate-limit*2,delay:150,ok;delay=50;interim=103+100"
// Throws std::invalid_argument naming the offending step on any syntax error.
script parse_script(std::string_view text);

} // namespace clipal::test::fake_upstream
