#include "supervisor/metrics_registry.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace std::chrono_literals;
using namespace clipal;
using clipal::supervisor::escape_label_value;
using clipal::supervisor::metrics_registry;
using clipal::supervisor::slot_state;

namespace {

constexpr auto s2xx = static_cast<std::size_t>(status_class::s2xx);
constexpr auto s5xx = static_cast<std::size_t>(status_class::s5xx);

// The report a worker would send after `requests` 2xx answers from `provider`.
metrics_report served(worker_metrics& m, std::string_view provider, int requests) {
    const auto id = m.provider_id(provider);
    for (int i = 0; i < requests; ++i) {
        m.on_attempt(id, attempt_result::ok);
        m.on_request_done(id, 200, 100ms, 1s, token_counts{10, 1, std::nullopt, std::nullopt});
    }
    return m.take_report();
}

const provider_counters& counters(const metrics_registry& reg, profile p, const std::string& provider) {
    return reg.profile_metrics(p).providers.at(provider).counters;
}

bool contains(const std::string& text, std::string_view line) {
    return text.find(std::string(line) + "\n") != std::string::npos;
}

} // namespace

TEST(MetricsRegistry, AddsTheDeltasOfSuccessiveReports) {
    metrics_registry reg("1.2.3");
    worker_metrics w;
    reg.add(profile::codex, served(w, "openai", 3));
    reg.add(profile::codex, served(w, "openai", 2));
    reg.add(profile::codex, w.take_report()); // nothing new
    const auto& c = counters(reg, profile::codex, "openai");
    EXPECT_EQ(c.requests[s2xx], 5u);
    EXPECT_EQ(c.attempts[static_cast<std::size_t>(attempt_result::ok)], 5u);
    EXPECT_EQ(c.ttfb.count, 5u);
    EXPECT_EQ(c.duration.sum_ns, 5'000'000'000u);
    EXPECT_EQ(c.tokens[static_cast<std::size_t>(token_kind::input)], 50u);
    EXPECT_TRUE(reg.profile_metrics(profile::gemini).providers.empty());
    const auto text = reg.exposition();
    EXPECT_TRUE(contains(text, R"(clipal_requests_total{profile="codex",provider="openai",status_class="2xx"} 5)"))
        << text;
    EXPECT_TRUE(contains(text, R"(clipal_tokens_total{profile="codex",provider="openai",kind="input"} 50)"));
}

TEST(MetricsRegistry, AWorkerRestartNeitherLosesNorDoublesCounts) {
    metrics_registry reg("1.2.3");
    {
        worker_metrics first;
        reg.add(profile::claude_code, served(first, "anthropic", 4));
        reg.add(profile::claude_code, served(first, "anthropic", 1));
    } // the worker died
    reg.worker_gone(profile::claude_code);
    reg.worker_restarted(profile::claude_code);
    worker_metrics second; // a new process counts from zero
    reg.add(profile::claude_code, served(second, "anthropic", 2));
    const auto& c = counters(reg, profile::claude_code, "anthropic");
    EXPECT_EQ(c.requests[s2xx], 7u);
    EXPECT_EQ(c.duration.count, 7u);
    EXPECT_EQ(reg.profile_metrics(profile::claude_code).restarts, 1u);
    const auto text = reg.exposition();
    EXPECT_TRUE(
        contains(text, R"(clipal_requests_total{profile="claude-code",provider="anthropic",status_class="2xx"} 7)"));
    EXPECT_TRUE(contains(text, R"(clipal_worker_restarts_total{profile="claude-code"} 1)"));
    EXPECT_TRUE(contains(text, R"(clipal_worker_restarts_total{profile="codex"} 0)"));
}

TEST(MetricsRegistry, GaugesAreReplacedNotAdded) {
    metrics_registry reg("v");
    metrics_report r1;
    r1.set_gauges("a", {provider_availability::cooling, breaker_state::open, false});
    r1.set_gauges("b", {provider_availability::active, breaker_state::closed, true});
    r1.open_connections = 5;
    reg.add(profile::gemini, r1);
    reg.add(profile::gemini, r1); // the same absolute values again: still 5, not 10
    const auto& pe = reg.profile_metrics(profile::gemini);
    EXPECT_EQ(pe.open_connections, 5u);
    ASSERT_TRUE(pe.providers.at("a").gauges);
    EXPECT_EQ(pe.providers.at("a").gauges->state, provider_availability::cooling);

    metrics_report r2; // b left the config; a recovered
    r2.set_gauges("a", {provider_availability::active, breaker_state::half_open, true});
    r2.open_connections = 1;
    reg.add(profile::gemini, r2);
    EXPECT_EQ(pe.open_connections, 1u);
    EXPECT_EQ(*pe.providers.at("a").gauges,
              (provider_gauges{provider_availability::active, breaker_state::half_open, true}));
    EXPECT_FALSE(pe.providers.at("b").gauges);
    auto text = reg.exposition();
    EXPECT_TRUE(contains(text, R"(clipal_provider_state{profile="gemini",provider="a",state="active"} 1)")) << text;
    EXPECT_TRUE(contains(text, R"(clipal_provider_state{profile="gemini",provider="a",state="cooling"} 0)"));
    EXPECT_TRUE(contains(text, R"(clipal_provider_breaker_state{profile="gemini",provider="a",state="half-open"} 1)"));
    EXPECT_TRUE(contains(text, R"(clipal_provider_current{profile="gemini",provider="a"} 1)"));
    EXPECT_EQ(text.find(R"(provider="b")"), std::string::npos);
    EXPECT_TRUE(contains(text, R"(clipal_open_connections{process="gemini"} 1)"));

    // A retiring worker's report adds its counts but leaves the gauges alone.
    metrics_report old;
    old.provider("a").counters.requests[s5xx] = 2;
    old.set_gauges("a", {provider_availability::deactivated, breaker_state::closed, false});
    old.open_connections = 99;
    reg.add(profile::gemini, old, metrics_registry::gauges::ignore);
    EXPECT_EQ(pe.open_connections, 1u);
    EXPECT_EQ(pe.providers.at("a").gauges->state, provider_availability::active);
    EXPECT_EQ(pe.providers.at("a").counters.requests[s5xx], 2u);

    // The worker went away: no gauges, counters stay.
    reg.worker_gone(profile::gemini);
    EXPECT_FALSE(pe.open_connections);
    EXPECT_FALSE(pe.providers.at("a").gauges);
    EXPECT_EQ(pe.providers.at("a").counters.requests[s5xx], 2u);
    text = reg.exposition();
    EXPECT_EQ(text.find("clipal_provider_state{"), std::string::npos);
    EXPECT_EQ(text.find(R"(clipal_open_connections{process="gemini"})"), std::string::npos);
    EXPECT_TRUE(contains(text, R"(clipal_requests_total{profile="gemini",provider="a",status_class="5xx"} 2)"));
}

TEST(MetricsRegistry, LastSwitchIsKeptUntilANewOne) {
    metrics_registry reg("v");
    metrics_report r;
    r.last_switch = provider_switch{10, "a", "b", "auth"};
    reg.add(profile::codex, r);
    reg.add(profile::codex, metrics_report{}); // a report without one keeps it
    reg.worker_gone(profile::codex);           // and so does a restart (it is history)
    ASSERT_TRUE(reg.profile_metrics(profile::codex).last_switch);
    EXPECT_EQ(reg.profile_metrics(profile::codex).last_switch->to, "b");
    r.last_switch = provider_switch{20, "b", "a", "failback"};
    reg.add(profile::codex, r);
    EXPECT_EQ(reg.profile_metrics(profile::codex).last_switch->reason, "failback");
}

TEST(MetricsRegistry, CountersSaturate) {
    metrics_registry reg("v");
    metrics_report r;
    r.provider("a").counters.requests[s2xx] = std::numeric_limits<std::uint64_t>::max() - 1;
    reg.add(profile::codex, r);
    reg.add(profile::codex, r);
    EXPECT_EQ(counters(reg, profile::codex, "a").requests[s2xx], std::numeric_limits<std::uint64_t>::max());
}

TEST(MetricsRegistry, ProvidersPerProfileAreBounded) {
    metrics_registry reg("v");
    metrics_report r;
    for (std::size_t i = 0; i < max_report_providers; ++i)
        r.provider("p" + std::to_string(i)).counters.requests[s2xx] = 1;
    for (int round = 0; round < 5; ++round) {
        for (auto& p : r.providers) p.name += "x"; // a worker inventing new names every time
        reg.add(profile::codex, r);
    }
    EXPECT_EQ(reg.profile_metrics(profile::codex).providers.size(), metrics_registry::max_providers_per_profile);
    EXPECT_EQ(reg.dropped_providers(), 5 * max_report_providers - metrics_registry::max_providers_per_profile);
}

TEST(MetricsRegistry, LabelValuesAreEscaped) {
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    EXPECT_EQ(escape_label_value("tab\tstays"), "tab\tstays");
    EXPECT_EQ(escape_label_value("统一"), "统一");

    metrics_registry reg("1.0\"beta\"");
    metrics_report r;
    r.provider("we\"ird\\name\n").counters.requests[s2xx] = 1;
    reg.add(profile::codex, r);
    const auto text = reg.exposition();
    EXPECT_TRUE(contains(text, R"(clipal_build_info{version="1.0\"beta\""} 1)")) << text;
    EXPECT_TRUE(
        contains(text, R"(clipal_requests_total{profile="codex",provider="we\"ird\\name\n",status_class="2xx"} 1)"))
        << text;
}

TEST(MetricsRegistry, ExpositionIsExactAndDeterministic) {
    metrics_registry reg("0.9.0");
    reg.set_worker_state(profile::codex, slot_state::ready);
    reg.set_open_connections(2);
    reg.config_reloaded(true);
    reg.config_reloaded(false);
    reg.config_reloaded(true);
    metrics_report r;
    auto& z = r.provider("zeta");
    z.counters.requests[s2xx] = 2;
    z.counters.attempts[static_cast<std::size_t>(attempt_result::ok)] = 2;
    z.counters.attempts[static_cast<std::size_t>(attempt_result::rate_limited)] = 1;
    z.counters.ttfb.observe(40ms);
    z.counters.ttfb.observe(700ms);
    z.counters.unknown_usage = 1;
    z.gauges = provider_gauges{provider_availability::active, breaker_state::closed, true};
    auto& a = r.provider("alpha");
    a.counters.failovers[index_of(failure_reason::rate_limited)] = 1;
    a.counters.tokens[static_cast<std::size_t>(token_kind::cache_read)] = 1234;
    r.provider("").counters.requests[s5xx] = 1;
    r.open_connections = 3;
    reg.add(profile::codex, r);

    const std::string expected =
        R"(# HELP clipal_build_info Build information of the running clipal; the value is always 1.
# TYPE clipal_build_info gauge
clipal_build_info{version="0.9.0"} 1
# HELP clipal_requests_total Finished client requests by the class of the status they got (error: none).
# TYPE clipal_requests_total counter
clipal_requests_total{profile="codex",provider="none",status_class="5xx"} 1
clipal_requests_total{profile="codex",provider="zeta",status_class="2xx"} 2
# HELP clipal_upstream_attempts_total Upstream attempts by how they ended (ok or the failure reason).
# TYPE clipal_upstream_attempts_total counter
clipal_upstream_attempts_total{profile="codex",provider="zeta",result="ok"} 2
clipal_upstream_attempts_total{profile="codex",provider="zeta",result="rate_limited"} 1
# HELP clipal_failovers_total Requests that left this provider (or one of its keys) for another, by reason.
# TYPE clipal_failovers_total counter
clipal_failovers_total{profile="codex",provider="alpha",reason="rate_limited"} 1
# HELP clipal_time_to_first_byte_seconds Time from the request head to the first response byte sent to the client.
# TYPE clipal_time_to_first_byte_seconds histogram
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="0.05"} 1
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="0.1"} 1
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="0.25"} 1
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="0.5"} 1
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="1"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="2.5"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="5"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="10"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="30"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="60"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="120"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="300"} 2
clipal_time_to_first_byte_seconds_bucket{profile="codex",provider="zeta",le="+Inf"} 2
clipal_time_to_first_byte_seconds_sum{profile="codex",provider="zeta"} 0.74
clipal_time_to_first_byte_seconds_count{profile="codex",provider="zeta"} 2
# HELP clipal_request_duration_seconds Time from the request head to the end of the answer.
# TYPE clipal_request_duration_seconds histogram
# HELP clipal_tokens_total Tokens as the providers reported them, by kind.
# TYPE clipal_tokens_total counter
clipal_tokens_total{profile="codex",provider="alpha",kind="cache_read"} 1234
# HELP clipal_requests_unknown_usage_total Successful requests whose token usage could not be read from the response.
# TYPE clipal_requests_unknown_usage_total counter
clipal_requests_unknown_usage_total{profile="codex",provider="zeta"} 1
# HELP clipal_provider_state Provider state (active, cooling, deactivated, open): 1 for the current state, 0 for the others.
# TYPE clipal_provider_state gauge
clipal_provider_state{profile="codex",provider="zeta",state="active"} 1
clipal_provider_state{profile="codex",provider="zeta",state="cooling"} 0
clipal_provider_state{profile="codex",provider="zeta",state="deactivated"} 0
clipal_provider_state{profile="codex",provider="zeta",state="open"} 0
# HELP clipal_provider_breaker_state Provider breaker (closed, open, half-open): 1 for the current state, 0 for the others.
# TYPE clipal_provider_breaker_state gauge
clipal_provider_breaker_state{profile="codex",provider="zeta",state="closed"} 1
clipal_provider_breaker_state{profile="codex",provider="zeta",state="open"} 0
clipal_provider_breaker_state{profile="codex",provider="zeta",state="half-open"} 0
# HELP clipal_provider_current 1 for the provider the profile's next request tries first.
# TYPE clipal_provider_current gauge
clipal_provider_current{profile="codex",provider="zeta"} 1
# HELP clipal_worker_restarts_total Worker processes restarted after they died.
# TYPE clipal_worker_restarts_total counter
clipal_worker_restarts_total{profile="claude-code"} 0
clipal_worker_restarts_total{profile="codex"} 0
clipal_worker_restarts_total{profile="gemini"} 0
# HELP clipal_worker_state Worker state: 1 for the current state, 0 for the others.
# TYPE clipal_worker_state gauge
clipal_worker_state{profile="codex",state="stopped"} 0
clipal_worker_state{profile="codex",state="starting"} 0
clipal_worker_state{profile="codex",state="ready"} 1
clipal_worker_state{profile="codex",state="reloading"} 0
clipal_worker_state{profile="codex",state="draining"} 0
clipal_worker_state{profile="codex",state="backoff"} 0
clipal_worker_state{profile="codex",state="failed"} 0
clipal_worker_state{profile="codex",state="config_error"} 0
# HELP clipal_open_connections Open client connections held by a process (the supervisor's router, or a profile's worker).
# TYPE clipal_open_connections gauge
clipal_open_connections{process="supervisor"} 2
clipal_open_connections{process="codex"} 3
# HELP clipal_config_reloads_total Config reloads by result (error: the running config stayed).
# TYPE clipal_config_reloads_total counter
clipal_config_reloads_total{result="ok"} 2
clipal_config_reloads_total{result="error"} 1
)";
    EXPECT_EQ(reg.exposition(), expected);
    EXPECT_EQ(reg.exposition(), reg.exposition());
}
