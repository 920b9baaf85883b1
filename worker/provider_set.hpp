// The one place that holds a profile's provider state (SPEC §4): which provider is current
// (per lane), who is deactivated or cooling down and until when, and per-provider counters.
// Driven by clipal::clock, no Asio: the forwarder asks for candidates and reports outcomes.
//
// Shaped for policies that are not implemented yet: everything about one provider lives in
// provider_state (room for several keys, a model override, retry/backoff counters), and the
// order in which providers are tried is decided in one function (order_from), where a
// same-provider retry or a fail-back to a recovered higher-priority provider would go.
#pragma once

#include "shared/clock.hpp"
#include "shared/config.hpp"
#include "shared/failure_classifier.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace clipal::worker {

// Requests on different lanes keep separate current providers, so Claude Code's
// count_tokens calls cannot move the main conversation off its provider.
enum class lane { main, count_tokens };

// What record_failure did to the provider, so the caller logs exactly that.
enum class failure_effect { none, deactivated, cooling };

// One failed attempt of a request, as the forwarder saw it.
struct attempt_record {
    std::size_t provider = 0;
    failure_reason reason = failure_reason::connect;
    int status = 0;     // HTTP status of the upstream answer, 0 when there was none
    std::string detail; // optional extra words ("connection refused"); never a key
};

// Not thread-safe: owned by the worker's event loop. A reload builds a new set (clearing
// every deactivation); requests in flight keep using the old one.
class provider_set {
public:
    // enabled_sorted: the profile's enabled providers in priority order.
    // reactivate_after: how long auth/billing/quota failures keep a provider out; 0 = never.
    // separate_count_tokens: ignore_count_tokens_failover on the claude-code profile.
    provider_set(std::vector<provider_config> enabled_sorted, const clock& clk, duration reactivate_after,
                 bool separate_count_tokens);

    std::size_t size() const { return providers_.size(); }
    const provider_config& provider(std::size_t i) const { return providers_.at(i).config; }

    // The lane a request belongs on: count_tokens only when the set was built to separate it.
    lane lane_for(bool is_count_tokens) const;

    // Providers to try for one request, in order: from the lane's current provider,
    // wrapping, each at most once, without those deactivated or cooling now (a state whose
    // time has passed counts as available even before expire_due() clears it).
    std::vector<std::size_t> candidates(lane l) const;

    // Whether provider i may be tried now (not deactivated or cooling, or its time is up).
    bool available(std::size_t i) const;

    // Provider i answered: it becomes the lane's current provider (sticky).
    void record_success(std::size_t i, lane l);

    // Provider i failed with verdict v. On the main lane: deactivate (auth/billing/quota) for
    // reactivate_after unless that is 0, and cool down for v.cooldown when given. On the
    // count_tokens lane only auth and billing deactivations apply. Counters either way.
    // Returns the state the provider was put in by this call (none when left as it was).
    failure_effect record_failure(std::size_t i, lane l, const verdict& v);

    // The soonest time a deactivation or cooldown ends (possibly already past), so the
    // worker can arm a timer and log reactivations without waiting for traffic.
    std::optional<clock::time_point> next_change() const;

    // Clears every state whose time has passed; returns those providers (for log lines).
    std::vector<std::size_t> expire_due();

    struct exhausted_answer {
        int status = 503;                                // 429 or 503
        std::optional<std::chrono::seconds> retry_after; // whole seconds until the soonest return, >= 1
        std::string message;                             // names every provider tried or skipped, and why
    };

    // The answer to send when no candidate served the request. `tried` lists the failed
    // attempts in order; providers not tried but unavailable now are named as skipped.
    // 429 when every failure and unavailability is a rate limit or overload and someone
    // comes back later; 503 with Retry-After when someone comes back later; else 503.
    exhausted_answer when_exhausted(const std::vector<attempt_record>& tried) const;

    struct provider_status {
        std::string name;
        std::string state; // "active" | "deactivated" | "cooling"
        std::optional<clock::time_point> until;
        std::optional<failure_reason> reason;
        bool current = false; // current on the main lane
        std::uint64_t requests = 0, failures = 0;
    };

    // Every provider's state as of now, in priority order (for `clipal status`).
    std::vector<provider_status> snapshot() const;

private:
    enum class availability { active, deactivated, cooling };

    struct provider_state {
        provider_config config;
        availability state = availability::active;
        clock::time_point until{};            // end of deactivation/cooldown
        std::optional<failure_reason> reason; // why it is unavailable
        std::uint64_t requests = 0;
        std::uint64_t failures = 0;
    };

    static std::size_t index_of(lane l) { return l == lane::count_tokens ? 1 : 0; }
    lane effective(lane l) const { return separate_count_tokens_ ? l : lane::main; }
    static bool available_at(const provider_state& p, clock::time_point now);
    std::vector<std::size_t> order_from(std::size_t start) const;
    failure_effect deactivate(provider_state& p, failure_reason r, clock::time_point now);
    static failure_effect cool_down(provider_state& p, failure_reason r, duration d, clock::time_point now);

    std::vector<provider_state> providers_;
    const clock& clock_;
    duration reactivate_after_;
    bool separate_count_tokens_;
    std::array<std::size_t, 2> current_{0, 0}; // per lane
};

} // namespace clipal::worker
