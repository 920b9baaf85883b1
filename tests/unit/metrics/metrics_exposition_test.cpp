// The exposition read back by a real parser: Python's prometheus_client (Debian
// python3-prometheus-client), after a scripted traffic mix went through worker_metrics, the
// report codec and the registry.
#include "supervisor/metrics_registry.hpp"
#include "support/prometheus_parser.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <string>

#include <sys/wait.h>

using namespace std::chrono_literals;
using namespace clipal;
using clipal::supervisor::metrics_registry;
using clipal::supervisor::slot_state;

namespace {

struct sample {
    std::map<std::string, std::string> labels;
    double value = 0;
};
struct family {
    std::string type, help;
    std::map<std::string, std::vector<sample>> samples; // by sample name
};

// Runs the parser over `text`; fills `families` by family name. Empty string on success.
std::string parse_with_python(const std::string& text, std::map<std::string, family>& families) {
    const auto parsed = clipal::test::parse_prometheus_text(text);
    if (!parsed.error.empty()) return parsed.error;
    for (const auto& f : parsed.families.as_array()) {
        family fam;
        fam.type = boost::json::value_to<std::string>(f.at("type"));
        fam.help = boost::json::value_to<std::string>(f.at("help"));
        for (const auto& s : f.at("samples").as_array()) {
            sample smp;
            for (const auto& kv : s.at("labels").as_object())
                smp.labels[std::string(kv.key())] = boost::json::value_to<std::string>(kv.value());
            smp.value = s.at("value").to_number<double>();
            fam.samples[boost::json::value_to<std::string>(s.at("name"))].push_back(std::move(smp));
        }
        const auto name = boost::json::value_to<std::string>(f.at("name"));
        if (families.count(name)) return "family " + name + " appears twice";
        families[name] = std::move(fam);
    }
    return {};
}

// The value of the one sample of `name` with exactly these labels; NaN when absent.
double value_of(const std::map<std::string, family>& fams, const std::string& fam, const std::string& name,
                const std::map<std::string, std::string>& labels) {
    auto f = fams.find(fam);
    if (f == fams.end()) return std::numeric_limits<double>::quiet_NaN();
    auto s = f->second.samples.find(name);
    if (s == f->second.samples.end()) return std::numeric_limits<double>::quiet_NaN();
    for (const auto& smp : s->second)
        if (smp.labels == labels) return smp.value;
    return std::numeric_limits<double>::quiet_NaN();
}

// Sends a report through the codec, as the IPC will.
void deliver(metrics_registry& reg, profile p, const metrics_report& r) {
    const auto parsed = parse_metrics_report(to_json(r));
    ASSERT_TRUE(parsed.value) << parsed.error;
    reg.add(p, *parsed.value);
}

} // namespace

TEST(MetricsExposition, PrometheusClientParsesNamesTypesLabelsAndValues) {
    const auto python = clipal::test::system_python();
    if (python.empty()) GTEST_SKIP() << "python3 is not installed";

    metrics_registry reg("1.4.0-test");
    reg.set_open_connections(4);
    reg.config_reloaded(true);
    reg.config_reloaded(false);
    reg.set_worker_state(profile::claude_code, slot_state::ready);
    reg.set_worker_state(profile::codex, slot_state::backoff);
    reg.worker_restarted(profile::codex);

    const std::string odd = "odd \"quoted\" \\ name\nwith newline";
    // claude-code: the main provider rate limits, the backup serves; one request finds nothing.
    worker_metrics cc({"main", "backup", odd});
    const auto main_id = cc.provider_id("main"), backup_id = cc.provider_id("backup");
    const auto odd_id = cc.provider_id(odd);
    for (int i = 0; i < 3; ++i) {
        cc.on_attempt(main_id, failure_reason::rate_limited);
        cc.on_failover(main_id, failure_reason::rate_limited);
        cc.on_attempt(backup_id, attempt_result::ok);
        cc.on_request_done(backup_id, 200, 300ms, 4s, token_counts{1000, 200, 50, 10});
    }
    cc.on_switch(1'700'000'000'000, main_id, backup_id, "rate_limited");
    cc.on_request_done(worker_metrics::no_provider, 429, std::nullopt, 1ms, {});
    cc.on_attempt(odd_id, attempt_result::ok);
    cc.on_request_done(odd_id, 200, 20ms, 40ms, {}); // usage unknown
    auto r = cc.take_report();
    r.set_gauges("main", {provider_availability::cooling, breaker_state::open, false});
    r.set_gauges("backup", {provider_availability::active, breaker_state::closed, true});
    r.set_gauges(odd, {provider_availability::active, breaker_state::closed, false});
    r.open_connections = 2;
    deliver(reg, profile::claude_code, r);
    // One more second of traffic.
    cc.on_attempt(backup_id, attempt_result::ok);
    cc.on_request_done(backup_id, 500, 2ms, 700s, {});
    r = cc.take_report();
    r.set_gauges("main", {provider_availability::deactivated, breaker_state::closed, false});
    r.set_gauges("backup", {provider_availability::active, breaker_state::half_open, true});
    r.open_connections = 1;
    deliver(reg, profile::claude_code, r);

    // codex: a worker that crashed and came back.
    {
        worker_metrics first({"openai"});
        first.on_request_done(0, 200, 50ms, 50ms, token_counts{5, 5, {}, {}});
        deliver(reg, profile::codex, first.take_report());
        reg.worker_gone(profile::codex);
    }
    worker_metrics second({"openai"});
    second.on_request_done(0, 0, std::nullopt, 3s, {});
    deliver(reg, profile::codex, second.take_report());

    const std::string text = reg.exposition();
    std::map<std::string, family> fams;
    const auto err = parse_with_python(text, fams);
    ASSERT_EQ(err, "") << text;

    // Names and types (the parser names counter families without _total).
    const std::map<std::string, std::string> want_types{
        {"clipal_build_info", "gauge"},
        {"clipal_requests", "counter"},
        {"clipal_upstream_attempts", "counter"},
        {"clipal_failovers", "counter"},
        {"clipal_time_to_first_byte_seconds", "histogram"},
        {"clipal_request_duration_seconds", "histogram"},
        {"clipal_tokens", "counter"},
        {"clipal_requests_unknown_usage", "counter"},
        {"clipal_provider_state", "gauge"},
        {"clipal_provider_breaker_state", "gauge"},
        {"clipal_provider_current", "gauge"},
        {"clipal_worker_restarts", "counter"},
        {"clipal_worker_state", "gauge"},
        {"clipal_open_connections", "gauge"},
        {"clipal_config_reloads", "counter"},
    };
    std::map<std::string, std::string> got_types;
    for (const auto& [name, f] : fams) {
        got_types[name] = f.type; // an untyped family here would be a sample outside its family
        EXPECT_FALSE(f.help.empty()) << name;
    }
    EXPECT_EQ(got_types, want_types);

    const std::string cc_name = "claude-code";
    const auto at = [&](const std::string& fam, const std::string& name, std::map<std::string, std::string> labels) {
        return value_of(fams, fam, name, labels);
    };
    EXPECT_EQ(at("clipal_build_info", "clipal_build_info", {{"version", "1.4.0-test"}}), 1);
    EXPECT_EQ(at("clipal_requests", "clipal_requests_total",
                 {{"profile", cc_name}, {"provider", "backup"}, {"status_class", "2xx"}}),
              3);
    EXPECT_EQ(at("clipal_requests", "clipal_requests_total",
                 {{"profile", cc_name}, {"provider", "backup"}, {"status_class", "5xx"}}),
              1);
    EXPECT_EQ(at("clipal_requests", "clipal_requests_total",
                 {{"profile", cc_name}, {"provider", "none"}, {"status_class", "4xx"}}),
              1);
    // The escaped name comes back as it was.
    EXPECT_EQ(at("clipal_requests", "clipal_requests_total",
                 {{"profile", cc_name}, {"provider", odd}, {"status_class", "2xx"}}),
              1);
    // codex: 1 before the crash + 1 after, nothing doubled.
    EXPECT_EQ(at("clipal_requests", "clipal_requests_total",
                 {{"profile", "codex"}, {"provider", "openai"}, {"status_class", "2xx"}}),
              1);
    EXPECT_EQ(at("clipal_requests", "clipal_requests_total",
                 {{"profile", "codex"}, {"provider", "openai"}, {"status_class", "error"}}),
              1);
    EXPECT_EQ(fams.at("clipal_requests").samples.at("clipal_requests_total").size(), 6u);

    EXPECT_EQ(at("clipal_upstream_attempts", "clipal_upstream_attempts_total",
                 {{"profile", cc_name}, {"provider", "main"}, {"result", "rate_limited"}}),
              3);
    EXPECT_EQ(at("clipal_upstream_attempts", "clipal_upstream_attempts_total",
                 {{"profile", cc_name}, {"provider", "backup"}, {"result", "ok"}}),
              4);
    EXPECT_EQ(at("clipal_failovers", "clipal_failovers_total",
                 {{"profile", cc_name}, {"provider", "main"}, {"reason", "rate_limited"}}),
              3);

    // Histograms: cumulative buckets ending in +Inf == count, sum in seconds.
    const std::map<std::string, std::string> backup{{"profile", cc_name}, {"provider", "backup"}};
    const auto bucket = [&](const std::string& fam, const std::string& le) {
        auto l = backup;
        l["le"] = le;
        return at(fam, fam + "_bucket", l);
    };
    const std::string ttfb = "clipal_time_to_first_byte_seconds", dur = "clipal_request_duration_seconds";
    EXPECT_EQ(bucket(ttfb, "0.05"), 1); // the 2 ms one
    EXPECT_EQ(bucket(ttfb, "0.25"), 1);
    EXPECT_EQ(bucket(ttfb, "0.5"), 4); // + three at 300 ms
    EXPECT_EQ(bucket(ttfb, "+Inf"), 4);
    EXPECT_EQ(at(ttfb, ttfb + "_count", backup), 4);
    EXPECT_NEAR(at(ttfb, ttfb + "_sum", backup), 0.902, 1e-9);
    EXPECT_EQ(bucket(dur, "2.5"), 0);
    EXPECT_EQ(bucket(dur, "5"), 3);
    EXPECT_EQ(bucket(dur, "300"), 3);
    EXPECT_EQ(bucket(dur, "+Inf"), 4); // the 700 s one
    EXPECT_NEAR(at(dur, dur + "_sum", backup), 712, 1e-9);
    for (const auto& fam : {ttfb, dur}) { // every series has 13 buckets, non-decreasing
        std::map<std::string, std::vector<double>> series;
        for (const auto& s : fams.at(fam).samples.at(fam + "_bucket"))
            series[s.labels.at("profile") + "/" + s.labels.at("provider")].push_back(s.value);
        EXPECT_EQ(series.size(), 3u) << fam; // backup, odd, codex/openai ("none" has no latencies)
        for (const auto& [k, v] : series) {
            EXPECT_EQ(v.size(), latency_bucket_count) << k;
            for (std::size_t i = 1; i < v.size(); ++i) EXPECT_LE(v[i - 1], v[i]) << k;
        }
    }

    for (const auto& [kind, n] :
         std::map<std::string, double>{{"input", 3000}, {"output", 600}, {"cache_read", 150}, {"cache_write", 30}})
        EXPECT_EQ(at("clipal_tokens", "clipal_tokens_total",
                     {{"profile", cc_name}, {"provider", "backup"}, {"kind", kind}}),
                  n)
            << kind;
    EXPECT_EQ(at("clipal_requests_unknown_usage", "clipal_requests_unknown_usage_total",
                 {{"profile", cc_name}, {"provider", odd}}),
              1);

    // Gauges: the last report's values.
    EXPECT_EQ(at("clipal_provider_state", "clipal_provider_state",
                 {{"profile", cc_name}, {"provider", "main"}, {"state", "deactivated"}}),
              1);
    EXPECT_EQ(at("clipal_provider_state", "clipal_provider_state",
                 {{"profile", cc_name}, {"provider", "main"}, {"state", "cooling"}}),
              0);
    EXPECT_EQ(at("clipal_provider_breaker_state", "clipal_provider_breaker_state",
                 {{"profile", cc_name}, {"provider", "backup"}, {"state", "half-open"}}),
              1);
    EXPECT_EQ(at("clipal_provider_current", "clipal_provider_current", {{"profile", cc_name}, {"provider", "backup"}}),
              1);
    EXPECT_EQ(at("clipal_provider_current", "clipal_provider_current", {{"profile", cc_name}, {"provider", "main"}}),
              0);
    // The odd provider was left out of the second report's gauges: it has none now.
    EXPECT_TRUE(std::isnan(
        at("clipal_provider_current", "clipal_provider_current", {{"profile", cc_name}, {"provider", odd}})));
    // Exactly one state is 1 per provider.
    std::map<std::string, double> ones;
    for (const auto& s : fams.at("clipal_provider_state").samples.at("clipal_provider_state"))
        ones[s.labels.at("profile") + "/" + s.labels.at("provider")] += s.value;
    for (const auto& [k, v] : ones) EXPECT_EQ(v, 1) << k;

    EXPECT_EQ(at("clipal_worker_restarts", "clipal_worker_restarts_total", {{"profile", "codex"}}), 1);
    EXPECT_EQ(at("clipal_worker_restarts", "clipal_worker_restarts_total", {{"profile", "gemini"}}), 0);
    EXPECT_EQ(at("clipal_worker_state", "clipal_worker_state", {{"profile", "codex"}, {"state", "backoff"}}), 1);
    EXPECT_EQ(at("clipal_worker_state", "clipal_worker_state", {{"profile", "codex"}, {"state", "ready"}}), 0);
    EXPECT_EQ(at("clipal_worker_state", "clipal_worker_state", {{"profile", cc_name}, {"state", "ready"}}), 1);
    EXPECT_EQ(at("clipal_open_connections", "clipal_open_connections", {{"process", "supervisor"}}), 4);
    EXPECT_EQ(at("clipal_open_connections", "clipal_open_connections", {{"process", cc_name}}), 1);
    EXPECT_EQ(at("clipal_open_connections", "clipal_open_connections", {{"process", "codex"}}), 0);
    EXPECT_EQ(at("clipal_config_reloads", "clipal_config_reloads_total", {{"result", "ok"}}), 1);
    EXPECT_EQ(at("clipal_config_reloads", "clipal_config_reloads_total", {{"result", "error"}}), 1);

    // Every label name is one of the fixed set, and every value of a bounded label is from its set.
    const std::set<std::string> label_names{"version", "profile", "provider", "status_class", "result",
                                            "reason",  "le",      "kind",     "state",        "process"};
    for (const auto& [fname, f] : fams)
        for (const auto& [sname, list] : f.samples)
            for (const auto& s : list)
                for (const auto& [k, v] : s.labels) {
                    EXPECT_TRUE(label_names.count(k)) << sname << " " << k;
                    if (k == "status_class") {
                        EXPECT_TRUE(status_class_from_string(v)) << v;
                    }
                    if (k == "result" && fname == "clipal_upstream_attempts") {
                        EXPECT_TRUE(attempt_result_from_string(v)) << v;
                    }
                    if (k == "reason") {
                        EXPECT_TRUE(failure_reason_from_snake(v)) << v;
                    }
                    if (k == "kind") {
                        EXPECT_TRUE(token_kind_from_string(v)) << v;
                    }
                    if (k == "profile") {
                        EXPECT_TRUE(profile_from_name(v)) << v;
                    }
                }
}
