// One finished request as usage accounting records it (issue 15): the worker measures it,
// the IPC carries it, the supervisor's usage_store writes it to usage.db, and `clipal
// usage` sums it up. It names the key only by its fingerprint, never the key itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace clipal {

struct usage_record {
    std::int64_t time_ms = 0;             // unix time in milliseconds when the request finished
    std::string profile;                  // "claude-code", "codex", "gemini"
    std::string provider;                 // the provider that gave the final answer (or was tried last)
    std::string key_fingerprint;          // "sk-…abcd"; never the key
    std::string model;                    // as sent upstream (after a model override); empty = unknown
    int status = 0;                       // the final status the client got; 0 = none (connection aborted)
    std::uint32_t attempts = 0;           // upstream attempts made for this request, retries included
    std::optional<std::uint32_t> ttfb_ms; // time to the first response byte; none when none came
    std::uint32_t duration_ms = 0;        // from the request head to the end of the answer
    // Token counts as the provider reported them; none when the response's usage could not be read.
    std::optional<std::uint64_t> input_tokens;
    std::optional<std::uint64_t> output_tokens;
    std::optional<std::uint64_t> cache_read_tokens;
    std::optional<std::uint64_t> cache_write_tokens;

    bool operator==(const usage_record&) const = default;
};

} // namespace clipal
