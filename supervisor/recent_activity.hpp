// What `clipal status --watch` shows about each profile's recent traffic (issue 15): per
// provider the requests and failures of the last 60 s, the median time to first byte over
// the same 60 s, the tokens since local midnight, and the profile's last provider switch.
// The supervisor feeds it the usage rows and the last switch of the workers' metrics
// reports; the status document carries to_json() as each worker's "activity". Pure: no
// I/O, no Asio; time comes from an injected clock. Not thread-safe (the supervisor's
// io_context thread owns it).
//
// Bounded memory whatever the request rate: per provider a ring of 60 one-second buckets,
// each with its request and failure counts and a fixed histogram of times to first byte
// (exact below 16 ms, then 8 bins per power of two, so the p50 is within ~6 % of the true
// median; values from 2^18 ms ≈ 262 s up share the last bin), about 31 KiB per provider;
// at most max_providers_per_profile providers per profile.
#pragma once

#include "shared/clock.hpp"
#include "shared/metrics_report.hpp"
#include "shared/profile.hpp"
#include "shared/usage_record.hpp"

#include <boost/json/object.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace clipal::supervisor {

// Whether a request counts as a failure in the live view: no answer at all (status 0, or
// one outside 100-599), 401/402/403 (the upstream refused clipal's own key: auth, billing,
// permission), 429 (rate limited) and every 5xx (clipal's own 503 "no provider left"
// included). Other 4xx (400, 404, 413, ...) answer the request as the client sent it and
// are passed through unchanged; they are not the provider's failures. Note that `clipal
// usage` counts every status >= 400 as a failure.
bool is_live_failure(int status);

class recent_activity {
public:
    static constexpr int window_seconds = 60;
    // Provider names come from config, so this is not reached in practice; beyond it the
    // provider that has been quiet the longest is forgotten to make room.
    static constexpr std::size_t max_providers_per_profile = 64;

    explicit recent_activity(const clock& clk);
    ~recent_activity();
    recent_activity(const recent_activity&) = delete;
    recent_activity& operator=(const recent_activity&) = delete;

    // One finished request of `p`'s worker, counted under row.provider (a row without a
    // provider, answered by none, is not shown per provider and is ignored). Its window
    // second is row.time_ms (one in the future counts now; one older than the window only
    // adds tokens); its tokens count when it finished today (local time), as of the clock.
    void add(profile p, const usage_row_view& row);
    // The profile's last switch; an older one than already known is ignored (a worker
    // retiring across an upgrade reports its own, older, switch).
    void set_last_switch(profile p, const provider_switch& s);
    // A worker's metrics report with its usage rows, and its last switch when it has one (a
    // restarted worker has none yet: the previous one stays).
    void add_report(profile p, const metrics_report& r, std::span<const usage_row_view> rows = {});

    // {"providers": {"<name>": {"requests_1m": N, "failures_1m": N, "p50_ttfb_ms": N|null,
    //   "tokens_today": {"input": N, "output": N, "cache_read": N, "cache_write": N}}},
    //  "last_switch": {"time": "2026-11-26T12:00:00Z", "from": "a", "to": "b",
    //                  "reason": "server_error"} | null}
    // Providers by name; "from" is "" when there was no current provider before. Every
    // provider seen since the supervisor started (up to the bound) is listed, with zeros
    // once quiet.
    boost::json::object to_json(profile p) const;

    // Introspection for tests.
    std::size_t provider_count(profile p) const;

    // The histogram the p50 comes from (exposed for tests): bin of a ttfb, and the value a
    // bin reports (exact below 16 ms, else the bin's midpoint).
    static constexpr std::size_t ttfb_bins = 16 + 14 * 8;
    static std::size_t ttfb_bin(std::uint32_t ms);
    static std::uint32_t ttfb_bin_value(std::size_t bin);

private:
    struct second_bucket {
        std::int64_t second = -1; // unix second this bucket holds, -1 = none
        std::uint32_t requests = 0;
        std::uint32_t failures = 0;
        std::uint32_t ttfb_count = 0;
        std::array<std::uint32_t, ttfb_bins> ttfb{};
    };
    struct provider_activity {
        std::array<second_bucket, window_seconds> window{};
        std::int64_t tokens_day = 0; // the local day (its midnight, unix ms) the counts belong to
        std::array<std::uint64_t, token_kind_count> tokens{};
        std::int64_t last_ms = 0; // latest activity, to pick whom to forget at the bound
    };
    using provider_map = std::map<std::string, std::unique_ptr<provider_activity>, std::less<>>;
    struct profile_activity {
        provider_map providers;
        std::optional<provider_switch> last_switch;
    };

    // The entry of provider `name`, made (and the quietest one forgotten at the bound) when missing.
    provider_map::value_type& provider(profile p, std::string_view name, std::int64_t now_ms);
    // The last provider a row went to: a report's rows mostly name one provider, and the
    // map's node (its key and value) stays put until that provider is forgotten, which only
    // a lookup that misses can do.
    struct provider_cache {
        std::string_view name;
        provider_activity* activity = nullptr;
    };
    void add_row(profile p, const usage_row_view& row, std::int64_t now_ms, provider_cache& cache);
    // [midnight, next midnight) of the local day holding `ms`, cached for the current day.
    std::int64_t day_start(std::int64_t ms) const;

    const clock& clock_;
    std::array<profile_activity, all_profiles.size()> profiles_;
    mutable std::int64_t cached_day_start_ = 0;
    mutable std::int64_t cached_day_end_ = 0;
};

} // namespace clipal::supervisor
