// The supervisor's metrics (issue 15): the workers' reports added up per profile, plus what
// the supervisor itself knows (worker restarts and states, its router's open connections,
// config reloads, build info), rendered as Prometheus text exposition format 0.0.4 for
// `GET /metrics`. Pure: no I/O, no clock; a scrape reads what the last reports said and
// never waits on a worker. Not thread-safe (the supervisor's io_context thread owns it).
#pragma once

#include "shared/metrics_report.hpp"
#include "shared/profile.hpp"
#include "supervisor/worker_slot.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::supervisor {

// The Content-Type of exposition().
inline constexpr std::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

class metrics_registry {
public:
    // Provider names kept per profile. Names come from config, so this is never reached in
    // practice; a report naming more has the extra providers' counts dropped (and counted).
    static constexpr std::size_t max_providers_per_profile = 4096;

    explicit metrics_registry(std::string version);

    // What to do with a report's absolute values (provider gauges, open connections, last switch).
    enum class gauges {
        replace, // the profile's worker: its gauges become the profile's
        ignore,  // a worker being retired across `clipal update`: count its deltas, keep the new one's gauges
    };

    // Adds a worker's report: counters add its deltas (saturating); with gauges::replace the
    // profile's provider gauges become exactly the report's (a provider without gauges in it
    // has none), its open connections are set, and its last switch replaces the previous one
    // when it carries one.
    void add(profile p, const metrics_report& r, gauges g = gauges::replace);
    // The profile's worker exited or was stopped: its gauges (provider states, open
    // connections) go; counters and the last switch stay. A restarted worker starts its
    // deltas from zero, so the totals carry on without loss or double counting.
    void worker_gone(profile p);

    // Supervisor-side facts.
    void worker_restarted(profile p);
    void set_worker_state(profile p, slot_state s);
    void set_open_connections(std::uint64_t n); // connections the supervisor's router holds
    void config_reloaded(bool ok);

    // Prometheus text format 0.0.4, families in a fixed order, series sorted by profile and
    // provider, every family with # HELP and # TYPE (even when it has no series yet).
    // Families (labels): clipal_build_info{version}, clipal_requests_total{profile,provider,
    // status_class}, clipal_upstream_attempts_total{profile,provider,result},
    // clipal_failovers_total{profile,provider,reason}, clipal_time_to_first_byte_seconds and
    // clipal_request_duration_seconds{profile,provider} (histograms), clipal_tokens_total
    // {profile,provider,kind}, clipal_requests_unknown_usage_total{profile,provider},
    // clipal_provider_state{profile,provider,state} and clipal_provider_breaker_state
    // {profile,provider,state} (1 for the current state, 0 for the others),
    // clipal_provider_current{profile,provider}, clipal_worker_restarts_total{profile},
    // clipal_worker_state{profile,state}, clipal_open_connections{process} (process =
    // "supervisor" or a profile name), clipal_config_reloads_total{result="ok|error"}.
    // Counter series appear once non-zero (and never go away); provider "" is shown as
    // provider="none" (requests answered by no provider).
    std::string exposition() const;

    // Read access, e.g. for `clipal status --watch`.
    struct provider_entry {
        provider_counters counters; // totals since the supervisor started
        std::optional<provider_gauges> gauges;
    };
    struct profile_entry {
        std::map<std::string, provider_entry, std::less<>> providers;
        std::optional<std::uint64_t> open_connections; // none while no live worker has reported
        std::optional<provider_switch> last_switch;
        std::uint64_t restarts = 0;
        std::optional<slot_state> state;
    };
    const profile_entry& profile_metrics(profile p) const { return profiles_[static_cast<std::size_t>(p)]; }
    std::uint64_t dropped_providers() const { return dropped_providers_; }

private:
    std::string version_;
    std::array<profile_entry, all_profiles.size()> profiles_;
    std::uint64_t open_connections_ = 0;
    std::uint64_t reloads_ok_ = 0;
    std::uint64_t reloads_error_ = 0;
    std::uint64_t dropped_providers_ = 0;
};

// A Prometheus label value with backslash, double quote and newline escaped (format 0.0.4).
std::string escape_label_value(std::string_view v);

} // namespace clipal::supervisor
