// Finding a JSON key by its bytes, without parsing: how the usage meter picks the SSE lines and
// the windows of a long body worth a parse. A quote inside a JSON string is escaped, so a
// match of `"usage"` followed by a colon is a key (or a string value followed by a colon,
// which is not JSON) and never the text of a message.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace clipal::worker {

// JSON's white space (RFC 8259 §2).
constexpr bool is_json_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The first `needle` (two bytes or more) at or after `from`, or std::string_view::npos. `probe`: the index of a
// byte of the needle that seldom follows its first byte at that distance in JSON (default:
// its last byte); it only steers the SSE2 search, never the result.
std::size_t find_bytes(std::string_view hay, std::string_view needle, std::size_t from = 0,
                       std::size_t probe = std::string_view::npos);

// The last `needle` starting before `end`, or std::string_view::npos (memrchr for its first
// byte).
std::size_t rfind_bytes(std::string_view hay, std::string_view needle, std::size_t end);

// A key at `pos`: `stem` (`"usage` or `"model`), optionally `suffix` (`Metadata`, `Version`),
// then the closing quote, white space, a colon and white space. Where its value starts, and
// whether the suffix was there; nullopt when `pos` holds no such key or its value is cut off.
struct key_hit {
    std::size_t value;
    bool long_form;
};
std::optional<key_hit> key_at(std::string_view t, std::size_t pos, std::string_view stem, std::string_view suffix);

inline constexpr std::string_view usage_stem = "\"usage", usage_suffix = "Metadata";
inline constexpr std::string_view model_stem = "\"model", model_suffix = "Version";

// True when `t` has a "usage" or "usageMetadata" key whose value is an object.
bool has_usage_object(std::string_view t);
// True when `t` has a "model" or "modelVersion" key whose value is a string.
bool has_model_string(std::string_view t);

} // namespace clipal::worker
