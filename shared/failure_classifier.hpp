// Decides what an upstream answer means for failover (SPEC §4): pass it to the client,
// try the next provider, or deactivate this one. Pure: the forwarder hands in the status,
// the hint headers and (for 400, 429, 503) a bounded prefix of the body.
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
    context_length,     // a 400 saying the request does not fit the model's context window
    first_byte_timeout, // a streaming request's head and first body byte took too long (SPEC §5)
};

// Short words for log lines and error bodies: "connect error", "auth", "rate limited",
// "context length exceeded", "no first byte in time"...
std::string_view to_string(failure_reason r);

// True for the faults the same provider may be retried for (SPEC §4 "Same-provider
// retry"): a refused or failed connect, a reset before the response head, a write error
// while sending the request (on a fresh connection that is a reset too), 500/502/503/504
// and 408 (server_error), 529 or an overloaded_error body (overloaded). Not transient: TLS
// errors (a certificate or protocol problem does not pass in 250 ms), timeouts (header,
// idle, first byte: SPEC §5 says a silent provider is not retried), bad responses,
// auth/billing/quota, rate limits (cooled down or waited out instead), context length.
bool transient(failure_reason r);

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

// True for 429, whose body decides between deactivating and cooling down; for 503, whose
// body may say `overloaded_error` (a gateway in front of Anthropic): an exhausted answer is
// 429 when every provider is rate limited or overloaded (SPEC §4); and for 400, whose body
// may say the context length was exceeded. For other statuses the forwarder classifies on
// the head alone and keeps the body unread.
bool needs_body(int status);

// Classifies one answer by status (and, for 400, 429 and 503, body), per the SPEC §4 table:
//   401, 403 -> deactivate (auth); 402 -> deactivate (billing);
//   429 -> deactivate (auth or quota, by the body) or try_next (rate limited, overloaded)
//          with the hinted cooldown;
//   408, 500, 502, 503, 504, 529 -> try_next (server_error, or overloaded for 529 and a 503
//          whose body says overloaded_error), cooldown from Retry-After only;
//   400 naming the context length -> try_next (context_length), no cooldown: a provider with
//          a larger model may fit (the forwarder returns the first 400 when none does);
//   anything else, any other 400 included (content policy, invalid request) -> pass_through.
// Error bodies are read in the OpenAI ({"error":{"code","type","message"}}), Anthropic
// ({"type":"error","error":{"type","message"}}), Gemini ({"error":{"code","message",
// "status"}}, also wrapped in a one-element array as streamGenerateContent without alt=sse
// sends it) and flat ({"code","type","message"}) shapes, gzip/zlib decoded, compared
// lower-cased. A context-length 400 is one whose body has
//   code "context_length_exceeded" (OpenAI), or a message containing "maximum context
//   length" (OpenAI, and OpenAI-compatible servers such as vLLM whatever their type) or
//   "exceeds the context window" (OpenAI Responses), or "prompt is too long" or "exceed
//   context limit" (Anthropic: "prompt is too long: 215000 tokens > 200000 maximum", "input
//   length and `max_tokens` exceed context limit: 198000 + 32000 > 200000, ..."), or
//   status "INVALID_ARGUMENT" with a message containing "input token count" and "exceeds
//   the maximum" (Gemini: "The input token count (1234567) exceeds the maximum number of
//   tokens allowed (1048576).").
// A body that is not JSON, is truncated or fails to decompress counts as a plain rate
// limit for 429, as a plain server error for 503 and passes through for 400. Never throws.
verdict classify(const upstream_answer& a, clock::time_point now);

} // namespace clipal
