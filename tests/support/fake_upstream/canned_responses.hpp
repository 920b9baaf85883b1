// Ready-made HTTP/1.1 response bytes in the shapes of the real APIs (Anthropic Messages,
// OpenAI Responses and Chat Completions, Gemini), built once per provider so answering a
// request costs no formatting. Pure text building; no sockets.
#pragma once

#include "support/fake_upstream/script.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clipal::test::fake_upstream {

// What a request asks for, judged by its path (the query string is ignored).
enum class api {
    anthropic_messages,     // POST .../messages
    anthropic_count_tokens, // POST .../messages/count_tokens
    openai_responses,       // POST .../responses
    openai_chat,            // POST .../chat/completions
    gemini_generate,        // ...:generateContent
    gemini_stream,          // ...:streamGenerateContent
    gemini_count_tokens,    // ...:countTokens
    other,
};
api classify(std::string_view target);

enum class family { anthropic, openai, gemini };
family family_of(api a);

using header_fields = std::vector<std::pair<std::string_view, std::string>>;

// A complete response with Content-Length (omitted for 1xx/204/304).
std::string full_response(int status, const header_fields& headers, std::string_view body);
// An interim (1xx) response: a head alone.
std::string interim_response(int status);
// A response head announcing a chunked body.
std::string chunked_head(int status, const header_fields& headers);
// One chunk of a chunked body; the terminator is last_chunk.
std::string chunk(std::string_view data);
inline constexpr std::string_view last_chunk = "0\r\n\r\n";
// The standard reason phrase, or "Unknown".
std::string_view reason_phrase(int status);

// The complete response of a `status` step for a request of the given family.
std::string status_response(const step& st, family f);

// The gzip encoding of `data` (RFC 1952). Throws std::runtime_error if zlib fails.
std::string gzip(std::string_view data);
// A complete response as built here (full_response, or chunked_head + chunks + last_chunk)
// with its body gzip-encoded: `Content-Encoding: gzip` added, the Content-Length redone, or
// for a chunked body the whole decoded body in one gzip chunk. Deterministic (same bytes in,
// same bytes out). A response without a body is returned as it is.
std::string gzip_response(std::string_view response);
// Lower-case hex SHA-256.
std::string sha256_hex(std::string_view data);

// The deterministic byte pattern of `bytes:<n>` steps: writes bytes [offset, offset+n).
void fill_pattern(std::size_t offset, char* out, std::size_t n);
// SHA-256 (hex) of the first `length` pattern bytes.
std::string pattern_sha256_hex(std::size_t length);

// The model a request names, as JSON string content (escapes kept): the top-level "model"
// of a JSON object body (Anthropic, OpenAI), or the NAME of a Gemini `models/NAME:` path.
// Empty when there is none, or it is not a plain string (escapes, control characters,
// longer than 200 bytes).
std::string_view requested_model(std::string_view target, std::string_view body);

// A provider's success answers, built once from its name ("Hello from <name>") and the
// model they name (`model`: JSON string content; empty: "fake-model", Gemini "gemini-fake").
class canned_responses {
public:
    explicit canned_responses(const std::string& provider_name, std::string_view model = {});

    // The complete success response for `a`. `stream`: the client asked for SSE (for
    // Gemini, `?alt=sse`). `json_text`: a Gemini request wanting application/json output
    // gets a JSON object as its text.
    const std::string& ok(api a, bool stream, bool json_text) const;
    // The SSE events (each "event: ...\ndata: ...\n\n") that ok(a, true, false) sends,
    // for steps that send a stream and then misbehave.
    const std::vector<std::string>& events(api a) const;
    // The head that ok(a, true, false) sends before its events (chunked).
    const std::string& stream_head(api a) const;
    // 426 for WebSocket upgrade attempts (Codex tries them first).
    const std::string& websocket_refusal() const { return websocket_refusal_; }

private:
    struct variant {
        std::string json;        // non-streaming answer
        std::string stream;      // full streaming answer (head + chunked events)
        std::string stream_head; // head of `stream`
        std::vector<std::string> events;
    };
    const variant& of(api a) const;

    variant anthropic_, responses_, chat_, gemini_, other_;
    std::string gemini_json_text_;
    std::string gemini_stream_json_; // streamGenerateContent without alt=sse: a JSON array
    std::string websocket_refusal_;
};

// The count_tokens answers: {"input_tokens":N} / {"totalTokens":N}, N derived from the size.
std::string count_tokens_response(api a, std::size_t body_length);

} // namespace clipal::test::fake_upstream
