#include "supervisor/metrics_registry.hpp"

#include <fmt/format.h>

#include <initializer_list>
#include <limits>
#include <utility>

namespace clipal::supervisor {
namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();
std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) { return a > u64_max - b ? u64_max : a + b; }

// Every slot_state, in the order the exposition lists them (extend with the enum).
constexpr std::array<slot_state, 8> all_slot_states{
    slot_state::stopped,  slot_state::starting, slot_state::ready,  slot_state::reloading,
    slot_state::draining, slot_state::backoff,  slot_state::failed, slot_state::config_error,
};

using label = std::pair<std::string_view, std::string_view>;

void append_label_escaped(std::string& out, std::string_view v) {
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
}

// Builds the exposition text family by family.
class writer {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        for (char c : help) {
            if (c == '\\')
                out_ += "\\\\";
            else if (c == '\n')
                out_ += "\\n";
            else
                out_ += c;
        }
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(std::string_view name, std::initializer_list<label> labels, std::string_view value) {
        out_ += name;
        if (labels.size() != 0) {
            out_ += '{';
            bool first = true;
            for (const auto& [k, v] : labels) {
                if (!first) out_ += ',';
                first = false;
                out_ += k;
                out_ += "=\"";
                append_label_escaped(out_, v);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        out_ += value;
        out_ += '\n';
    }
    void sample(std::string_view name, std::initializer_list<label> labels, std::uint64_t value) {
        sample(name, labels, std::string_view(std::to_string(value)));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

std::string_view shown(const std::string& provider) { return provider.empty() ? std::string_view("none") : provider; }

std::string seconds(std::uint64_t ns) { return fmt::format("{}", static_cast<double>(ns) / 1e9); }

// Iterates every (profile, provider) in a fixed order: profiles as in all_profiles (sorted
// by name), providers by name.
template <typename Profiles, typename F>
void each_provider(const Profiles& profiles, F f) {
    for (const auto& info : all_profiles) {
        const auto& pe = profiles[static_cast<std::size_t>(info.id)];
        for (const auto& [name, entry] : pe.providers) f(info.name, name, entry);
    }
}

} // namespace

std::string escape_label_value(std::string_view v) {
    std::string out;
    append_label_escaped(out, v);
    return out;
}

metrics_registry::metrics_registry(std::string version) : version_(std::move(version)) {}

void metrics_registry::add(profile p, const metrics_report& r, gauges g) {
    auto& pe = profiles_[static_cast<std::size_t>(p)];
    if (g == gauges::replace)
        for (auto& [name, entry] : pe.providers) entry.gauges.reset();
    for (const auto& pm : r.providers) {
        auto it = pe.providers.find(pm.name);
        if (it == pe.providers.end()) {
            if (pe.providers.size() >= max_providers_per_profile) {
                dropped_providers_ = sat_add(dropped_providers_, 1);
                continue;
            }
            it = pe.providers.emplace(pm.name, provider_entry{}).first;
        }
        it->second.counters.add(pm.counters);
        if (g == gauges::replace) it->second.gauges = pm.gauges;
    }
    if (g == gauges::replace) {
        pe.open_connections = r.open_connections;
        if (r.last_switch) pe.last_switch = r.last_switch;
    }
}

void metrics_registry::worker_gone(profile p) {
    auto& pe = profiles_[static_cast<std::size_t>(p)];
    for (auto& [name, entry] : pe.providers) entry.gauges.reset();
    pe.open_connections.reset();
}

void metrics_registry::worker_restarted(profile p) {
    auto& n = profiles_[static_cast<std::size_t>(p)].restarts;
    n = sat_add(n, 1);
}

void metrics_registry::set_worker_state(profile p, slot_state s) { profiles_[static_cast<std::size_t>(p)].state = s; }

void metrics_registry::set_open_connections(std::uint64_t n) { open_connections_ = n; }

void metrics_registry::config_reloaded(bool ok) {
    auto& n = ok ? reloads_ok_ : reloads_error_;
    n = sat_add(n, 1);
}

std::string metrics_registry::exposition() const {
    writer w;

    w.family("clipal_build_info", "gauge", "Build information of the running clipal; the value is always 1.");
    w.sample("clipal_build_info", {{"version", version_}}, 1);

    // Counters by a fixed set of label values: a series once its count is non-zero.
    const auto counter_family = [&](std::string_view name, std::string_view help, std::string_view label_name,
                                    auto array_of, auto label_of) {
        w.family(name, "counter", help);
        each_provider(profiles_, [&](std::string_view prof, const std::string& prov, const provider_entry& e) {
            const auto& a = array_of(e.counters);
            for (std::size_t i = 0; i < a.size(); ++i)
                if (a[i] != 0)
                    w.sample(name, {{"profile", prof}, {"provider", shown(prov)}, {label_name, label_of(i)}}, a[i]);
        });
    };
    counter_family(
        "clipal_requests_total", "Finished client requests by the class of the status they got (error: none).",
        "status_class", [](const provider_counters& c) -> const auto& { return c.requests; },
        [](std::size_t i) { return to_string(static_cast<status_class>(i)); });
    counter_family(
        "clipal_upstream_attempts_total", "Upstream attempts by how they ended (ok or the failure reason).", "result",
        [](const provider_counters& c) -> const auto& { return c.attempts; },
        [](std::size_t i) { return to_string(static_cast<attempt_result>(i)); });
    counter_family(
        "clipal_failovers_total", "Requests that left this provider (or one of its keys) for another, by reason.",
        "reason", [](const provider_counters& c) -> const auto& { return c.failovers; },
        [](std::size_t i) { return snake_name(static_cast<failure_reason>(i)); });

    const auto histogram_family = [&](std::string_view name, std::string_view help, auto hist_of) {
        w.family(name, "histogram", help);
        const std::string bucket = std::string(name) + "_bucket";
        const std::string sum = std::string(name) + "_sum";
        const std::string count = std::string(name) + "_count";
        each_provider(profiles_, [&](std::string_view prof, const std::string& prov, const provider_entry& e) {
            const latency_histogram& h = hist_of(e.counters);
            if (h.count == 0) return;
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < latency_bucket_count; ++i) {
                cumulative = sat_add(cumulative, h.buckets[i]);
                const std::string le =
                    i < latency_bucket_bounds.size() ? fmt::format("{}", latency_bucket_bounds[i]) : "+Inf";
                w.sample(bucket, {{"profile", prof}, {"provider", shown(prov)}, {"le", le}}, cumulative);
            }
            w.sample(sum, {{"profile", prof}, {"provider", shown(prov)}}, seconds(h.sum_ns));
            w.sample(count, {{"profile", prof}, {"provider", shown(prov)}}, h.count);
        });
    };
    histogram_family(
        "clipal_time_to_first_byte_seconds",
        "Time from the request head to the first response byte sent to the client.",
        [](const provider_counters& c) -> const auto& { return c.ttfb; });
    histogram_family(
        "clipal_request_duration_seconds", "Time from the request head to the end of the answer.",
        [](const provider_counters& c) -> const auto& { return c.duration; });

    counter_family(
        "clipal_tokens_total", "Tokens as the providers reported them, by kind.", "kind",
        [](const provider_counters& c) -> const auto& { return c.tokens; },
        [](std::size_t i) { return to_string(static_cast<token_kind>(i)); });

    w.family("clipal_requests_unknown_usage_total", "counter",
             "Successful requests whose token usage could not be read from the response.");
    each_provider(profiles_, [&](std::string_view prof, const std::string& prov, const provider_entry& e) {
        if (e.counters.unknown_usage != 0)
            w.sample("clipal_requests_unknown_usage_total", {{"profile", prof}, {"provider", shown(prov)}},
                     e.counters.unknown_usage);
    });

    w.family("clipal_provider_state", "gauge",
             "Provider state (active, cooling, deactivated, open): 1 for the current state, 0 for the others.");
    each_provider(profiles_, [&](std::string_view prof, const std::string& prov, const provider_entry& e) {
        if (!e.gauges) return;
        for (std::size_t i = 0; i < provider_availability_count; ++i) {
            const auto s = static_cast<provider_availability>(i);
            w.sample("clipal_provider_state", {{"profile", prof}, {"provider", shown(prov)}, {"state", to_string(s)}},
                     e.gauges->state == s ? 1 : 0);
        }
    });
    w.family("clipal_provider_breaker_state", "gauge",
             "Provider breaker (closed, open, half-open): 1 for the current state, 0 for the others.");
    each_provider(profiles_, [&](std::string_view prof, const std::string& prov, const provider_entry& e) {
        if (!e.gauges) return;
        for (std::size_t i = 0; i < breaker_state_count; ++i) {
            const auto s = static_cast<breaker_state>(i);
            w.sample("clipal_provider_breaker_state",
                     {{"profile", prof}, {"provider", shown(prov)}, {"state", to_string(s)}},
                     e.gauges->breaker == s ? 1 : 0);
        }
    });
    w.family("clipal_provider_current", "gauge", "1 for the provider the profile's next request tries first.");
    each_provider(profiles_, [&](std::string_view prof, const std::string& prov, const provider_entry& e) {
        if (e.gauges)
            w.sample("clipal_provider_current", {{"profile", prof}, {"provider", shown(prov)}},
                     e.gauges->current ? 1 : 0);
    });

    w.family("clipal_worker_restarts_total", "counter", "Worker processes restarted after they died.");
    for (const auto& info : all_profiles)
        w.sample("clipal_worker_restarts_total", {{"profile", info.name}},
                 profiles_[static_cast<std::size_t>(info.id)].restarts);

    w.family("clipal_worker_state", "gauge", "Worker state: 1 for the current state, 0 for the others.");
    for (const auto& info : all_profiles) {
        const auto& state = profiles_[static_cast<std::size_t>(info.id)].state;
        if (!state) continue;
        for (auto s : all_slot_states)
            w.sample("clipal_worker_state", {{"profile", info.name}, {"state", to_string(s)}}, *state == s ? 1 : 0);
    }

    w.family("clipal_open_connections", "gauge",
             "Open client connections held by a process (the supervisor's router, or a profile's worker).");
    w.sample("clipal_open_connections", {{"process", "supervisor"}}, open_connections_);
    for (const auto& info : all_profiles)
        if (const auto& n = profiles_[static_cast<std::size_t>(info.id)].open_connections)
            w.sample("clipal_open_connections", {{"process", info.name}}, *n);

    w.family("clipal_config_reloads_total", "counter", "Config reloads by result (error: the running config stayed).");
    w.sample("clipal_config_reloads_total", {{"result", "ok"}}, reloads_ok_);
    w.sample("clipal_config_reloads_total", {{"result", "error"}}, reloads_error_);

    return w.take();
}

} // namespace clipal::supervisor
