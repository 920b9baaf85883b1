// The one place that holds a profile's provider state (SPEC §4): which provider is current
// (per lane), which keys are deactivated or cooling, which providers are cooling down or have
// an open breaker and until when, who is being probed after a fail-back, and counters.
// Driven by clipal::clock, no Asio: the forwarder asks for a route and reports outcomes; the
// same-request retry rules live in retry_budget.
#pragma once

#include "shared/clock.hpp"
#include "shared/config.hpp"
#include "shared/failure_classifier.hpp"

#include <boost/container/small_vector.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace clipal::worker {

// Providers by index, in the order a request tries them; a profile has a handful, so a
// request's order is kept inline (no allocation per request).
using provider_order = boost::container::small_vector<std::size_t, 8>;

// Requests on different lanes keep separate current providers, so Claude Code's
// count_tokens calls cannot move the main conversation off its provider.
enum class lane { main, count_tokens };

// What record_failure did to the provider, so the caller logs exactly that.
enum class failure_effect {
    none,
    deactivated, // the key used (a provider's only key: the provider) is out for reactivate_after
    cooling,     // the key (rate limit) or the provider (server hint) waits for the hinted time
    opened,      // the breaker opened: the provider is skipped for its backoff, then probed
};

// One failed attempt of a request, as the forwarder saw it.
struct attempt_record {
    std::size_t provider = 0;
    failure_reason reason = failure_reason::connect;
    int status = 0;     // HTTP status of the upstream answer, 0 when there was none
    std::string detail; // optional extra words ("connection refused"); never a key
};

// The settings from config.yaml that shape provider state; a config.yaml edit replaces them
// while the state stays (set_policy).
struct provider_policy {
    duration reactivate_after = std::chrono::hours(1); // auth/billing/quota; 0 = never deactivate
    bool failback = true;                              // breaker + fail-back, else the seed's stickiness
    bool separate_count_tokens = false;                // ignore_count_tokens_failover (claude-code)
};

// The breaker's backoff: 1 s after the first transient failure, doubling to 60 s; a 2xx resets it.
inline constexpr duration breaker_first_backoff = std::chrono::seconds(1);
inline constexpr duration breaker_max_backoff = std::chrono::seconds(60);
duration breaker_backoff(unsigned consecutive_failures);

// Not thread-safe: owned by the worker's event loop. A profile-file reload builds a new set
// (clearing every state); a config.yaml reload keeps this one and calls set_policy.
class provider_set {
public:
    // enabled_sorted: the profile's enabled providers in priority order, each with >= 1 key.
    provider_set(std::vector<provider_config> enabled_sorted, const clock& clk, provider_policy policy);

    std::size_t size() const { return providers_.size(); }
    const provider_config& provider(std::size_t i) const { return providers_.at(i).config; }
    void set_policy(const provider_policy& p) { policy_ = p; }
    const provider_policy& policy() const { return policy_; }

    // The lane a request belongs on: count_tokens only when the set was built to separate it.
    lane lane_for(bool is_count_tokens) const;

    // Providers to try for one request, in order: from the lane's current provider, wrapping,
    // each at most once, without those unavailable now (a state whose time has passed counts
    // as available even before expire_due() clears it). With fail-back, the best available
    // provider above the current one that no other request is probing goes first; and when
    // nothing is available but providers whose breaker is open, those are tried.
    provider_order candidates(lane l) const;

    struct route {
        provider_order order;
        std::optional<std::size_t> probe; // order[0] when it is a fail-back probe
    };
    // candidates(l), and marks a fail-back probe as taken until end_probe (or an outcome).
    route route_for(lane l);
    void end_probe(std::size_t i);

    // Whether provider i may be tried now: its breaker is not open, it is not cooling, and one
    // of its keys is usable.
    bool available(std::size_t i) const;
    // Provider i is out only because its breaker is open (a key is usable, no cooldown).
    bool only_breaker_open(std::size_t i) const;
    // The key to use for provider i now: the first usable one from its rotation cursor.
    std::size_t key_for(std::size_t i) const;
    const std::string& key(std::size_t i, std::size_t k) const { return providers_.at(i).config.api_keys.at(k); }
    std::size_t key_count(std::size_t i) const { return providers_.at(i).keys.size(); }
    const std::string& key_fingerprint(std::size_t i, std::size_t k) const {
        return providers_.at(i).keys.at(k).fingerprint;
    }

    // The lane's current provider.
    std::size_t current(lane l) const { return current_[index_of(effective(l))]; }
    // Failures of provider i since its last 2xx (the breaker's backoff step).
    unsigned consecutive_failures(std::size_t i) const { return providers_.at(i).consecutive; }

    // Provider i answered with a 2xx: it becomes the lane's current provider, its breaker closes.
    void record_success(std::size_t i, lane l);
    // Provider i answered something the client gets as it is (3xx, 4xx): counted, nothing else.
    void record_answer(std::size_t i);

    // Provider i (key k) failed with verdict v. Auth/billing/quota deactivate key k for
    // reactivate_after (unless 0); a rate limit cools key k for its hint and rotates to the next
    // key; any other failure (server errors, overload, resets, timeouts) opens the provider's
    // breaker for max(backoff, hint) with fail-back on, or cools it for its hint without. On
    // the count_tokens lane only auth and billing deactivations apply. A context-length
    // verdict is no failure of the provider and changes nothing. Counters either way.
    failure_effect record_failure(std::size_t i, lane l, const verdict& v);
    failure_effect record_failure(std::size_t i, std::size_t k, lane l, const verdict& v);

    // The soonest time a deactivation, cooldown or open breaker ends (possibly already past),
    // so the worker can arm a timer and log returns without waiting for traffic.
    std::optional<clock::time_point> next_change() const;

    // Clears every state whose time has passed; returns the providers that came back (for logs).
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

    struct key_status {
        std::string fingerprint;
        std::string state; // "active" | "deactivated" | "cooling"
        std::optional<clock::time_point> until;
        std::optional<failure_reason> reason;
        bool in_use = false; // the key the next request uses
    };
    struct provider_status {
        std::string name;
        std::string state; // "active" | "deactivated" | "cooling" | "open"
        std::optional<clock::time_point> until;
        std::optional<failure_reason> reason;
        // "closed" | "open" | "half-open" (back after a failure, above the current provider:
        // the next request probes it); "closed" without fail-back.
        std::string breaker;
        std::optional<clock::time_point> next_try; // open: when it is tried again
        unsigned consecutive_failures = 0;
        bool current = false; // current on the main lane
        std::uint64_t requests = 0, failures = 0;
        std::string model; // the override, empty when none
        std::vector<key_status> keys;
    };

    // Every provider's state as of now, in priority order (for `clipal status`).
    std::vector<provider_status> snapshot() const;

private:
    enum class availability { active, deactivated, cooling, open };

    struct key_state {
        std::string fingerprint;
        availability state = availability::active; // active, deactivated or cooling
        clock::time_point until{};
        std::optional<failure_reason> reason;
    };

    struct provider_state {
        provider_config config;
        std::vector<key_state> keys;
        std::size_t cursor = 0; // rotation: the key tried first
        // Provider-wide (the server, not a key): cooling on a hint or an open breaker.
        availability state = availability::active;
        clock::time_point until{};
        std::optional<failure_reason> reason;
        unsigned consecutive = 0; // failures in a row since the last 2xx: the breaker's backoff
        bool probing = false;
        std::uint64_t requests = 0;
        std::uint64_t failures = 0;
    };

    static std::size_t index_of(lane l) { return l == lane::count_tokens ? 1 : 0; }
    lane effective(lane l) const { return policy_.separate_count_tokens ? l : lane::main; }
    static bool key_available_at(const key_state& k, clock::time_point now);
    static bool available_at(const provider_state& p, clock::time_point now);
    // When provider p is usable again (now when it is).
    static clock::time_point back_at(const provider_state& p, clock::time_point now);
    static bool rate_limited_only(const provider_state& p, clock::time_point now);
    provider_order order_from(std::size_t start) const;
    failure_effect deactivate(key_state& k, failure_reason r, clock::time_point now);
    static failure_effect cool_key(key_state& k, failure_reason r, duration d, clock::time_point now);
    static failure_effect hold_provider(provider_state& p, availability a, failure_reason r, duration d,
                                        clock::time_point now);
    std::string_view breaker_of(std::size_t i, clock::time_point now) const;

    std::vector<provider_state> providers_;
    const clock& clock_;
    provider_policy policy_;
    std::array<std::size_t, 2> current_{0, 0}; // per lane
};

} // namespace clipal::worker
