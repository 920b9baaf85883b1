// What one upstream response used (issue 15, "Usage accounting"): token counts and the model
// the response names, read from the body bytes as they stream past the worker. Pure: no I/O,
// never changes, delays or keeps the caller's bytes (it looks at them and copies at most a
// bounded window), so it is tested and fuzzed on its own.
//
// Bytes in: the body of ONE response after HTTP de-chunking, still Content-Encoding-encoded
// (identity, gzip, x-gzip, deflate as zlib or raw), in pieces split anywhere. The result does
// not depend on where the pieces are split (tested at every split point and fuzzed).
//
// Shapes read (whatever the profile: Gemini's OpenAI-compatible endpoints answer in OpenAI's
// shape, so each usage object is recognised by its own field names):
//   Anthropic Messages   JSON `usage`; SSE `message_start` `message.usage`, `message_delta` `usage`
//   OpenAI Chat          JSON `usage`; SSE chunk `usage` (the last chunk, with include_usage)
//   OpenAI Responses     JSON `usage`; SSE `response.completed` (or .incomplete/.failed)
//                        `response.usage`
//   Gemini               JSON object or array of objects, SSE events: `usageMetadata`
// Model: top-level `model`, `message.model`, `response.model`, or Gemini's `modelVersion`.
// When several events carry usage, later values win field by field (Anthropic's
// `message_delta` output_tokens is cumulative and replaces message_start's; Gemini repeats
// cumulative usageMetadata in every event). A key repeated in one object counts by its last
// value, as JSON.parse reads it.
//
// SSE (`text/event-stream`): each `data:` line is one JSON text (an event whose JSON spans
// several data lines is not read: none of the three APIs sends one; a lone CR does not end a
// line). A line is parsed (Boost.JSON's SAX parser) only when a cheap substring check finds a
// `"usage"`/`"usageMetadata"` key whose value is an object (so OpenAI's `"usage":null`
// chunks and every text delta are skipped), or a `"model"`/`"modelVersion"` key while no
// model is known yet. A key can only match as a key: inside a JSON string a quote is
// escaped, so a text delta that says "usage" never matches.
//
// Bounds: a line (SSE) or body (JSON) of up to whole_bytes is read whole and parsed exactly.
// A longer one is kept as its first whole_bytes and its last tail_bytes only, and read by
// fragments: the last `"usage"`/`"usageMetadata"` object found in the tail (else the head)
// that parses and has a token field, and the model from the last `"modelVersion"` or else the
// first `"model"` string key. What this misses: usage that sits in neither window (a JSON body
// or line whose usage is neither in its first 64 KiB nor in its last 32 KiB; none of the APIs
// puts it anywhere but at or near the end, Responses has only `user` and `metadata` after it,
// and up to 96 KiB the two windows cover everything), a model in neither window (Codex's
// response.completed names it after the instructions, which may be longer than the head), and
// nesting (in a fragment, a `"usage"` key deep in, say, a tool schema is taken when its object
// has token fields). Metering stops (usage unknown) past max_decoded_bytes of inflated output;
// an identity body has no such cap (its bytes cost what the network delivered).
//
// Token fields are made disjoint, so prices apply per field whatever the protocol:
//   input       prompt tokens neither read from nor written to a cache. Anthropic's
//               input_tokens as given; OpenAI's prompt_tokens / input_tokens minus
//               cached_tokens; Gemini's promptTokenCount + toolUsePromptTokenCount minus
//               cachedContentTokenCount (OpenAI and Gemini count cached tokens in the prompt)
//   output      Anthropic output_tokens, OpenAI completion_tokens / output_tokens (both include
//               reasoning), Gemini candidatesTokenCount + thoughtsTokenCount
//   cache_read  Anthropic cache_read_input_tokens, OpenAI cached_tokens, Gemini
//               cachedContentTokenCount
//   cache_write Anthropic cache_creation_input_tokens (the others report none)
// A field the response does not state stays empty; a negative, fractional or non-numeric
// value counts as not stated.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::worker {

struct token_usage {
    std::optional<std::uint64_t> input;
    std::optional<std::uint64_t> output;
    std::optional<std::uint64_t> cache_read;
    std::optional<std::uint64_t> cache_write;

    // True when the response stated at least one count.
    bool known() const { return input || output || cache_read || cache_write; }
    bool operator==(const token_usage&) const = default;
};

struct usage_result {
    token_usage tokens;
    std::string model; // the model the response names; empty when it names none
    bool operator==(const usage_result&) const = default;
};

class usage_meter {
public:
    // A line or JSON body up to this size is read whole.
    static constexpr std::size_t whole_bytes = 64 * 1024;
    // Of a longer one, the last this many bytes are read besides its first whole_bytes.
    static constexpr std::size_t tail_bytes = 32 * 1024;
    // Decoded (inflated) bytes per response beyond which metering stops.
    static constexpr std::size_t max_decoded_bytes = 64 * 1024 * 1024;
    // The most retained_bytes() can be: the head, the tail's buffer (twice tail_bytes, so it is
    // trimmed once per tail_bytes), and zlib's state (about 7 KiB) and 32 KiB window.
    static constexpr std::size_t max_retained_bytes = whole_bytes + 2 * tail_bytes + 48 * 1024;
    // Longest model name kept (longer: none).
    static constexpr std::size_t max_model_bytes = 256;

    // content_type and content_encoding are the response's header values (empty when absent).
    // `text/event-stream` is read as SSE, `application/json` and `*+json` as JSON, anything
    // else by its first non-blank byte (`{` or `[`: JSON; `d`, `e`, `i`, `r`, `:`: SSE;
    // else nothing is metered). An encoding other than identity, gzip, x-gzip or deflate
    // (br, zstd, a list of codings) is not metered.
    usage_meter(std::string_view content_type, std::string_view content_encoding);
    ~usage_meter();
    usage_meter(usage_meter&&) noexcept;
    usage_meter& operator=(usage_meter&&) noexcept;
    usage_meter(const usage_meter&) = delete;
    usage_meter& operator=(const usage_meter&) = delete;

    // The next bytes of the body. Never throws; a decode error, a decoded size over
    // max_decoded_bytes or an allocation failure stops metering (finish() then says nothing).
    void feed(std::string_view piece) noexcept;

    // What the response used, from everything fed so far (a truncated stream gives what its
    // complete lines said; an unterminated last line is read too). Ends metering: later
    // feeds are ignored and later calls return the same result.
    usage_result finish() noexcept;

    // False once metering stopped (unsupported type or encoding, decode error, size cap).
    bool metering() const noexcept;

    // Bytes this meter holds on the heap (its buffers' capacities and zlib's allocations),
    // at most max_retained_bytes.
    std::size_t retained_bytes() const noexcept;

private:
    enum class mode { sniff, sse, json, off };
    struct inflater;

    void decode(std::string_view piece);
    void consume(std::string_view decoded);
    void consume_sse(std::string_view decoded);
    void window_append(std::string_view s);
    void window_reset();
    std::string_view window_tail() const;
    void end_line(std::string_view head, std::string_view tail, std::size_t total);
    void read_fragments(std::string_view head, std::string_view tail);
    bool read_document(std::string_view text);
    void stop();

    mode mode_;
    std::unique_ptr<inflater> inflater_; // null for identity
    std::size_t decoded_ = 0;
    // The current SSE line, or the JSON body: the first whole_bytes in head_, and beyond them
    // the last tail_bytes (or up to twice as many) in tail_; total_ counts them all.
    std::string head_, tail_;
    std::size_t total_ = 0;
    bool first_line_ = true;
    bool finished_ = false;
    // What was read so far (fields as in token_usage) and the result once finished.
    usage_result seen_;
};

} // namespace clipal::worker
