// What the forwarder needs to know about, and change in, a buffered request (SPEC §4 "Model
// override", §5 streaming): whether the client asked for a stream, and the request with a
// provider's model in place of the client's. Pure: no I/O, no allocation unless a rewritten
// copy is returned, so it is tested (and fuzzed) on its own.
//
// JSON is validated with Boost.JSON's basic_parser (strict RFC 8259: no comments, no
// trailing commas, UTF-8 only, nesting up to max_json_depth); a body it refuses is never
// rewritten and never counts as streaming. Nothing builds a DOM: one pass over the body,
// which for Claude Code is 100 KiB to several MiB.
#pragma once

#include "shared/profile.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::worker {

// Deepest nesting of arrays and objects a body may have to be read at all (Boost.JSON's
// parser recurses once per level; 1000 levels take well under 200 KiB of stack). Real
// bodies nest a few dozen levels at most (tool schemas).
inline constexpr std::size_t max_json_depth = 1000;

// True when the request asks for a streamed answer, which SPEC §5 bounds by
// stream_first_byte_timeout. Only a POST streams (every generation endpoint of the three
// APIs is a POST). For every protocol: the body is a JSON object whose top-level "stream"
// is the literal true (Anthropic Messages, OpenAI Chat Completions and Responses, and
// Gemini's OpenAI-compatible endpoints); a duplicated key counts by its last value, as
// JSON.parse and Python read it. For gemini also: `rest` (path and query after the profile
// prefix) has a path segment ending in `:streamGenerateContent`, or a query parameter
// `alt=sse` (or Google's `$alt=sse`), whatever the body. "stream" nested deeper, the string
// "true", or a body that is not valid JSON: false. One pass over the body, no allocation.
bool is_streaming_request(protocol proto, std::string_view method, std::string_view rest, std::string_view body);

// The body with the value of its top-level "model" replaced by `model`, JSON-encoded
// (quote, backslash and control characters escaped; other UTF-8 as it is); every other
// byte stays as the client sent it (white space, key order, number spelling, \u escapes).
// A key written with escapes ("mod\u0065l") is the key "model", as for any JSON parser.
// Duplicate top-level "model" keys: every one is replaced, so whichever an upstream's
// parser keeps (first, last) names the new model. nullopt, and the body must be sent as
// it is, when: the body is not valid JSON (per Boost.JSON, as above), the top level is not
// an object, it has no "model", any top-level "model" is not a string, or `model` is not
// UTF-8 (it could not be written as JSON text).
std::optional<std::string> body_with_model(std::string_view body, std::string_view model);

// The model a request names: Gemini's `models/NAME:` path segment, else the JSON body's
// top-level string "model" (the last one when repeated, as most parsers read it); nullopt
// when neither is there or the body is not valid JSON. For usage rows and metrics.
std::optional<std::string> model_of(protocol proto, std::string_view rest, std::string_view body);

// is_streaming_request and model_of together, in one pass over the body (the forwarder
// needs both for every request); those two read this one's answer.
struct request_facts {
    bool streaming = false;
    std::optional<std::string> model;
};
request_facts inspect_request(protocol proto, std::string_view method, std::string_view rest, std::string_view body);

// Gemini names the model in the path: `rest` with NAME in `.../models/NAME:method`
// replaced by `model` (percent-encoded except for unreserved characters, RFC 3986 §2.3),
// e.g. `/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse` becomes
// `/v1beta/models/NEW:streamGenerateContent?alt=sse`; Vertex-style paths
// (`.../publishers/google/models/NAME:generateContent`) alike. `models/` must start a path
// segment, NAME is non-empty and runs to the first `:` of that segment. Only the path is
// searched; the query is copied unchanged. nullopt (send `rest` as it is) when no such
// segment exists, when there are several (which one the upstream reads is unclear), when
// NAME contains `%` (a percent-encoded name or `%3A` makes the boundary ambiguous), or
// when `model` is empty.
std::optional<std::string> gemini_rest_with_model(std::string_view rest, std::string_view model);

} // namespace clipal::worker
