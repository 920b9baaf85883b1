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
    openai_context_length,     // 400 context_length_exceeded
    anthropic_prompt_too_long, // "prompt is too long: N tokens > M maximum"
    gemini_token_limit,        // INVALID_ARGUMENT "The input token count (N) exceeds ..."
    openai_content_filter,     // content_policy_violation
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
    // ";for=<ms>": this step serves every request arriving within this long after it began
    // (the first step: the listener's first request), instead of `repeat` requests.
    std::chrono::milliseconds for_duration{0};
};

// Where a script stands: the step answering now, and how far into it.
struct script_position {
    std::size_t index = 0;                         // into script::steps
    std::size_t used = 0;                          // requests the step served (counted steps)
    std::chrono::steady_clock::time_point began{}; // when the step began (timed steps)
    bool started = false;                          // `began` is set
};

struct script {
    std::vector<step> steps; // never empty

    // The step for the request with this 0-based sequence number: steps are used in
    // order, each `repeat` times, and the last one repeats forever.
    // Counts only: a timed step (;for=) counts as one request here.
    const step& at(std::size_t request_index) const;

    // The step for a request arriving at `now`, advancing `pos`: counted steps serve
    // `repeat` requests; a timed step serves every request until `for_duration` after it
    // began, and the next step begins when it ends. The first step begins at `origin` (the
    // listener's first request); a later one when the previous ended (a counted step: the
    // request that moved past it). The last step repeats forever.
    const step& next(script_position& pos, std::chrono::steady_clock::time_point now,
                     std::chrono::steady_clock::time_point origin) const;
};

// Parses a script such as
//   "status:429;retry-after=2;body=anthropic-rate-limit*2,delay:150,ok;delay=50;interim=103+100"
//   "status:503;for=6000,ok"
// Throws std::invalid_argument naming the offending step on any syntax error.
script parse_script(std::string_view text);

} // namespace clipal::test::fake_upstream
