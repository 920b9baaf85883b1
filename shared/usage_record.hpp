// One finished request as usage accounting records it (issue 15): the worker measures it,
// the IPC carries it, the supervisor's usage_store writes it to usage.db, and `clipal
// usage` sums it up. It names the key only by its fingerprint, never the key itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// The same row with its text borrowed, as it passes through without being kept: from the
// worker's data path into its report, and from a report's bytes into the supervisor's
// usage.db buffer and live view. Like a std::string_view, it must not outlive what it
// views (a usage_record converts to one implicitly, as a std::string does).
struct usage_row_view {
    std::int64_t time_ms = 0;
    std::string_view profile;
    std::string_view provider;
    std::string_view key_fingerprint;
    std::string_view model;
    int status = 0;
    std::uint32_t attempts = 0;
    std::optional<std::uint32_t> ttfb_ms;
    std::uint32_t duration_ms = 0;
    std::optional<std::uint64_t> input_tokens;
    std::optional<std::uint64_t> output_tokens;
    std::optional<std::uint64_t> cache_read_tokens;
    std::optional<std::uint64_t> cache_write_tokens;

    usage_row_view() = default;
    usage_row_view(const usage_record& r)
        : time_ms(r.time_ms),
          profile(r.profile),
          provider(r.provider),
          key_fingerprint(r.key_fingerprint),
          model(r.model),
          status(r.status),
          attempts(r.attempts),
          ttfb_ms(r.ttfb_ms),
          duration_ms(r.duration_ms),
          input_tokens(r.input_tokens),
          output_tokens(r.output_tokens),
          cache_read_tokens(r.cache_read_tokens),
          cache_write_tokens(r.cache_write_tokens) {}

    bool operator==(const usage_row_view&) const = default;
};

} // namespace clipal
