// The JSON bodies of errors clipal answers itself (413, 404, 503 "all providers failed"...)
// in the shape each tool's SDK parses, so the user reads clipal's message, not a parse error.
#pragma once

#include "shared/profile.hpp"

#include <string>
#include <string_view>

namespace clipal {

// Anthropic: {"type":"error","error":{"type":"<by status>","message":"..."}}
// OpenAI:    {"error":{"message":"...","type":"<by status>","code":"<by status>"}}
// Gemini:    {"error":{"code":<status>,"message":"...","status":"<google.rpc code name>"}}
// The message is JSON-escaped; any status is accepted (unknown ones map by class).
std::string error_body(protocol p, int http_status, std::string_view message);

} // namespace clipal
