// What a worker tells the supervisor about its traffic (issue 15), piggybacked on its
// heartbeat once a second: counter DELTAS since its previous report (the supervisor adds
// them up, so a restarted worker, which starts from zero, is neither lost nor counted
// twice) and ABSOLUTE gauges (provider state, open connections, the last provider switch)
// as JSON, cheap at once a second; the finished-request rows for usage.db, one per
// request, go beside it as a binary block (shared/usage_rows_codec.hpp). Pure code: the
// vocabulary, the JSON codec, and worker_metrics, the cheap builder the worker's data path
// feeds.
//
// JSON form (one object; parse_metrics_report documents the rules):
//   {"v":1,
//    "providers":[{"name":"a",                      // "" = requests answered by no provider
//                  "requests":{"2xx":3,"error":1},  // zero entries and empty sections omitted
//                  "attempts":{"ok":3,"server_error":2},
//                  "failovers":{"server_error":1},
//                  "ttfb":{"buckets":[13 counts],"sum_ns":N,"count":N},
//                  "duration":{...},
//                  "tokens":{"input":10,"output":5,"cache_read":0,"cache_write":0},
//                  "unknown_usage":1,
//                  "state":"active","breaker":"closed","current":true}],  // gauges, all or none
//    "open_connections":2,
//    "last_switch":{"time_ms":N,"from":"a","to":"b","reason":"server_error"},
//    "usage_dropped":0}
#pragma once

#include "shared/duration.hpp"
#include "shared/failure_classifier.hpp"
#include "shared/usage_rows_codec.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal {

// ---- vocabulary: every label value the metrics can carry comes from these fixed sets ----

// The class of the status a client got. `error`: no status (connection aborted, the
// response broke off) or one outside 200-599.
enum class status_class : std::uint8_t { s2xx, s3xx, s4xx, s5xx, error };
inline constexpr std::size_t status_class_count = 5;
status_class classify_status(int status);
std::string_view to_string(status_class c); // "2xx", "3xx", "4xx", "5xx", "error"
std::optional<status_class> status_class_from_string(std::string_view s);

// How one upstream attempt ended: `ok` (an answer that was passed to the client, whatever
// its status), a failure reason, or `client_closed` (the client went away mid-attempt; not
// the provider's fault).
enum class attempt_result : std::uint8_t {
    ok,
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
    context_length,
    first_byte_timeout,
    client_closed,
};
inline constexpr std::size_t attempt_result_count = 17;
attempt_result to_attempt_result(failure_reason r);
std::string_view to_string(attempt_result r); // snake_case: "ok", "server_error", "first_byte_timeout"...
std::optional<attempt_result> attempt_result_from_string(std::string_view s);

// Failovers (leaving a provider, or a key, for another one) are counted by failure_reason,
// named in snake_case like the attempt results ("rate_limited", "header_timeout"...).
inline constexpr std::size_t failure_reason_count = 15;
std::size_t index_of(failure_reason r);
std::string_view snake_name(failure_reason r);
std::optional<failure_reason> failure_reason_from_snake(std::string_view s);

enum class token_kind : std::uint8_t { input, output, cache_read, cache_write };
inline constexpr std::size_t token_kind_count = 4;
std::string_view to_string(token_kind k); // "input", "output", "cache_read", "cache_write"
std::optional<token_kind> token_kind_from_string(std::string_view s);

// A provider's state as provider_set::snapshot() names it, and its breaker.
enum class provider_availability : std::uint8_t { active, cooling, deactivated, open };
inline constexpr std::size_t provider_availability_count = 4;
std::string_view to_string(provider_availability a); // "active", "cooling", "deactivated", "open"
std::optional<provider_availability> provider_availability_from_string(std::string_view s);

enum class breaker_state : std::uint8_t { closed, open, half_open };
inline constexpr std::size_t breaker_state_count = 3;
std::string_view to_string(breaker_state b); // "closed", "open", "half-open"
std::optional<breaker_state> breaker_state_from_string(std::string_view s);

// ---- the report ----

// Latency histogram bounds in seconds, shared by time to first byte and request duration;
// one more bucket (+Inf) follows the last bound.
inline constexpr std::array<double, 12> latency_bucket_bounds{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
inline constexpr std::size_t latency_bucket_count = latency_bucket_bounds.size() + 1;

// Counts per bucket, NOT cumulative: buckets[i] counts observations v with
// bounds[i-1] < v <= bounds[i] (Prometheus' `le` is inclusive); the last one those above
// every bound. The sum is kept in integer nanoseconds, so it adds up exactly.
struct latency_histogram {
    std::array<std::uint64_t, latency_bucket_count> buckets{};
    std::uint64_t sum_ns = 0;
    std::uint64_t count = 0;

    void observe(duration d);                 // a negative duration counts as 0
    void add(const latency_histogram& other); // saturating
    bool operator==(const latency_histogram&) const = default;
};
std::size_t latency_bucket_index(duration d);

// Counter deltas of one provider. Additions saturate at UINT64_MAX instead of wrapping.
struct provider_counters {
    std::array<std::uint64_t, status_class_count> requests{};
    std::array<std::uint64_t, attempt_result_count> attempts{};
    std::array<std::uint64_t, failure_reason_count> failovers{};
    latency_histogram ttfb;
    latency_histogram duration;
    std::array<std::uint64_t, token_kind_count> tokens{};
    std::uint64_t unknown_usage = 0; // finished requests whose usage could not be read

    bool empty() const; // every count zero
    void add(const provider_counters& other);
    bool operator==(const provider_counters&) const = default;
};

struct provider_gauges {
    provider_availability state = provider_availability::active;
    breaker_state breaker = breaker_state::closed;
    bool current = false;
    bool operator==(const provider_gauges&) const = default;
};

struct provider_metrics {
    std::string name; // "" = requests answered with no provider (exposed as provider="none")
    provider_counters counters;
    std::optional<provider_gauges> gauges; // absolute; none for "" or a provider no longer configured
    bool operator==(const provider_metrics&) const = default;
};

// The last time the worker moved its current provider (absolute, for `clipal status --watch`).
struct provider_switch {
    std::int64_t time_ms = 0; // unix time, milliseconds
    std::string from;         // "" when there was none
    std::string to;
    std::string reason; // a failure reason's snake_name, or "failback"; printable ASCII
    bool operator==(const provider_switch&) const = default;
};

struct metrics_report {
    // Deltas since the previous report, one entry per provider name (unique).
    std::vector<provider_metrics> providers;
    std::uint64_t usage_dropped = 0; // usage rows the worker could not keep (its queue was full)
    // Absolute.
    std::uint64_t open_connections = 0; // the worker's client connections
    std::optional<provider_switch> last_switch;

    // The entry for `name`, added (empty) when missing. Linear: reports hold few providers.
    provider_metrics& provider(std::string_view name);
    const provider_metrics* find(std::string_view name) const;
    // Sets a provider's gauges (from provider_set::snapshot()).
    void set_gauges(std::string_view name, const provider_gauges& g) { provider(name).gauges = g; }

    bool operator==(const metrics_report&) const = default;
};

// ---- codec ----

// Bounds of a report (the parser rejects more; the worker never produces more).
inline constexpr std::size_t max_report_json_size = 4 * 1024 * 1024;
inline constexpr std::size_t max_report_providers = 1024;
inline constexpr std::size_t max_provider_name_size = 256;
static_assert(max_provider_name_size == max_usage_provider_size, "a usage row names any provider a report can");
inline constexpr std::size_t max_switch_reason_size = 64;

inline constexpr int metrics_report_version = 1;

// Deterministic compact JSON (fields in a fixed order, zero counts and empty sections left
// out). Only what parse_metrics_report accepts, as long as the report is within the bounds.
std::string to_json(const metrics_report& r);

struct metrics_report_parse_result {
    std::optional<metrics_report> value;
    std::string error; // set when value is empty: the JSON path and what is wrong
};

// The inverse of to_json; the input comes from another process, so:
// - more than max_report_json_size bytes, not JSON, or "v" other than 1: error;
// - a known field with the wrong type, a negative, fractional or > UINT64_MAX count, a
//   string over its bound or a provider count over its bound, a duplicate provider
//   name, a histogram whose bucket list is not latency_bucket_count long or whose count
//   differs from the sum of its buckets, gauges given in part: error;
// - forward compatibility (a newer worker across `clipal update`): unknown fields are
//   ignored, and so are counts under a name outside the fixed sets (a status class,
//   result, reason or token kind this build does not know) and gauges naming an unknown
//   state. The label sets therefore stay bounded whatever the worker sends.
// An error rejects the whole report (nothing of it is applied). Never throws (beyond
// std::bad_alloc).
metrics_report_parse_result parse_metrics_report(std::string_view json);

// ---- worker side ----

// Token counts as a response's usage reported them; all absent = usage unknown.
struct token_counts {
    std::optional<std::uint64_t> input, output, cache_read, cache_write;
    bool known() const { return input || output || cache_read || cache_write; }
};

// The worker's counters and usage rows between two reports. Providers are interned once
// (provider_id) and then addressed by index: the on_* calls do array increments, never
// allocate, and ignore an index that is not valid (no_provider included where not meant).
// Usage rows are encoded as they come into the blocks reports will carry. Not thread-safe
// (the worker runs one io_context thread).
class worker_metrics {
public:
    static constexpr std::size_t no_provider = static_cast<std::size_t>(-1);
    // Pending usage rows kept between reports; further rows are dropped and counted.
    static constexpr std::size_t max_pending_usage_rows = 65536;

    // `usage_rows_per_report`: the most rows one block (take_usage_rows) holds.
    explicit worker_metrics(const std::vector<std::string>& provider_names = {},
                            std::size_t usage_rows_per_report = max_report_usage_rows);

    // The index of `name`, interned on first use; stable for the life of this object, so a
    // request that started before a reload still counts under its provider. no_provider
    // when max_report_providers names are interned already, or the name is empty/too long.
    std::size_t provider_id(std::string_view name);
    std::size_t provider_count() const { return providers_.size(); }
    const std::string& provider_name(std::size_t id) const { return providers_.at(id).name; }

    // One upstream attempt ended.
    void on_attempt(std::size_t provider, attempt_result r);
    void on_attempt(std::size_t provider, failure_reason r) { on_attempt(provider, to_attempt_result(r)); }
    // The request left `provider` (or one of its keys) for another one, because of `r`.
    void on_failover(std::size_t provider, failure_reason r);
    // A request finished: the provider that answered last (no_provider when none could:
    // every provider out or failed), the status the client got (0 = none), time to first
    // byte (none when no byte came), total duration, and its token usage. Only a request
    // with a provider counts tokens or unknown usage.
    void on_request_done(std::size_t provider, int status, std::optional<duration> ttfb, duration total,
                         const token_counts& tokens);
    // The current provider changed (rare: allocates).
    void on_switch(std::int64_t time_ms, std::size_t from, std::size_t to, std::string_view reason);
    // A usage.db row, encoded into the newest pending block (its profile left out: the
    // supervisor knows whose worker sent it); dropped and counted when
    // max_pending_usage_rows are pending.
    void add_usage(const usage_row_view& row);
    std::size_t pending_usage_rows() const { return pending_rows_; }

    // Everything counted since the last take_report; the counters restart from zero. The
    // report carries the rows dropped since and the last switch (if any) but no provider
    // gauges or open connections: the caller sets those (set_gauges, open_connections).
    metrics_report take_report();
    // The oldest pending block of usage rows (usage_rows_decoder reads it), "" when none.
    std::string take_usage_rows();

private:
    struct slot {
        std::string name;
        provider_counters counters;
        bool touched = false;
    };
    std::vector<slot> providers_;
    std::array<std::uint64_t, status_class_count> unrouted_{};
    // Blocks of rows, oldest first; the back one is being filled. A deque: reports take
    // blocks from the front, and under load many reports go each second.
    std::deque<usage_rows_encoder> usage_;
    std::size_t usage_rows_per_report_;
    std::size_t pending_rows_ = 0;
    std::uint64_t usage_dropped_ = 0;
    std::optional<provider_switch> last_switch_;
};

} // namespace clipal
