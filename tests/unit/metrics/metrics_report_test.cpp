#include "shared/metrics_report.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <limits>
#include <random>
#include <set>
#include <string>

using namespace std::chrono_literals;
using namespace clipal;

namespace {

usage_record row(std::string model, int status, std::optional<std::uint64_t> input = std::nullopt) {
    usage_record u;
    u.time_ms = 1'700'000'000'123;
    u.profile = "claude-code";
    u.provider = "anthropic";
    u.key_fingerprint = "sk-…abcd";
    u.model = std::move(model);
    u.status = status;
    u.attempts = 2;
    u.ttfb_ms = 120;
    u.duration_ms = 3400;
    u.input_tokens = input;
    if (input) {
        u.output_tokens = 20;
        u.cache_read_tokens = 0;
        u.cache_write_tokens = 7;
    }
    return u;
}

// A report with something in every field.
metrics_report full_report() {
    metrics_report r;
    auto& a = r.provider("anthropic");
    a.counters.requests[static_cast<std::size_t>(status_class::s2xx)] = 5;
    a.counters.requests[static_cast<std::size_t>(status_class::error)] = 1;
    a.counters.attempts[static_cast<std::size_t>(attempt_result::ok)] = 5;
    a.counters.attempts[static_cast<std::size_t>(attempt_result::first_byte_timeout)] = 2;
    a.counters.failovers[index_of(failure_reason::rate_limited)] = 3;
    a.counters.ttfb.observe(30ms);
    a.counters.ttfb.observe(2s);
    a.counters.duration.observe(400s);
    a.counters.tokens[static_cast<std::size_t>(token_kind::cache_write)] = 99;
    a.counters.unknown_usage = 1;
    a.gauges = provider_gauges{provider_availability::cooling, breaker_state::half_open, true};
    r.set_gauges("backup \"b\"", {provider_availability::deactivated, breaker_state::open, false});
    r.provider("").counters.requests[static_cast<std::size_t>(status_class::s5xx)] = 4;
    r.open_connections = 12;
    r.last_switch = provider_switch{1'700'000'000'000, "anthropic", "backup \"b\"", "server_error"};
    r.usage_dropped = 3;
    return r;
}

std::string parse_error(std::string_view json) {
    auto res = parse_metrics_report(json);
    EXPECT_FALSE(res.value) << json;
    return res.error;
}

} // namespace

TEST(MetricsVocabulary, StatusClasses) {
    EXPECT_EQ(classify_status(200), status_class::s2xx);
    EXPECT_EQ(classify_status(299), status_class::s2xx);
    EXPECT_EQ(classify_status(304), status_class::s3xx);
    EXPECT_EQ(classify_status(429), status_class::s4xx);
    EXPECT_EQ(classify_status(599), status_class::s5xx);
    EXPECT_EQ(classify_status(0), status_class::error);
    EXPECT_EQ(classify_status(101), status_class::error);
    EXPECT_EQ(classify_status(600), status_class::error);
    EXPECT_EQ(classify_status(-1), status_class::error);
    for (std::size_t i = 0; i < status_class_count; ++i)
        EXPECT_EQ(status_class_from_string(to_string(static_cast<status_class>(i))), static_cast<status_class>(i));
    EXPECT_EQ(to_string(status_class::s4xx), "4xx");
    EXPECT_FALSE(status_class_from_string("1xx"));
}

TEST(MetricsVocabulary, NamesAreSnakeCaseUniqueAndRoundTrip) {
    std::set<std::string_view> seen;
    for (std::size_t i = 0; i < attempt_result_count; ++i) {
        const auto r = static_cast<attempt_result>(i);
        const auto name = to_string(r);
        EXPECT_TRUE(seen.insert(name).second) << name;
        for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
        EXPECT_EQ(attempt_result_from_string(name), r);
    }
    for (std::size_t i = 0; i < failure_reason_count; ++i) {
        const auto r = static_cast<failure_reason>(i);
        EXPECT_EQ(failure_reason_from_snake(snake_name(r)), r);
        EXPECT_EQ(to_string(to_attempt_result(r)), snake_name(r));
        EXPECT_NE(to_attempt_result(r), attempt_result::ok);
    }
    EXPECT_EQ(snake_name(failure_reason::header_timeout), "header_timeout");
    EXPECT_EQ(snake_name(failure_reason::context_length), "context_length");
    EXPECT_FALSE(failure_reason_from_snake("ok"));
    EXPECT_FALSE(failure_reason_from_snake("client_closed"));
    EXPECT_EQ(to_string(breaker_state::half_open), "half-open");
    EXPECT_EQ(breaker_state_from_string("half-open"), breaker_state::half_open);
    EXPECT_EQ(provider_availability_from_string("deactivated"), provider_availability::deactivated);
    EXPECT_FALSE(provider_availability_from_string("Active"));
    EXPECT_EQ(token_kind_from_string("cache_read"), token_kind::cache_read);
}

TEST(MetricsHistogram, BucketBoundsAreInclusive) {
    EXPECT_EQ(latency_bucket_index(-5ms), 0u);
    EXPECT_EQ(latency_bucket_index(0ms), 0u);
    EXPECT_EQ(latency_bucket_index(50ms), 0u);
    EXPECT_EQ(latency_bucket_index(50ms + 1ns), 1u);
    EXPECT_EQ(latency_bucket_index(1s), 4u);
    EXPECT_EQ(latency_bucket_index(2500ms), 5u);
    EXPECT_EQ(latency_bucket_index(300s), 11u);
    EXPECT_EQ(latency_bucket_index(300s + 1ns), 12u);
    EXPECT_EQ(latency_bucket_index(24h), 12u);

    latency_histogram h;
    h.observe(10ms);
    h.observe(10ms);
    h.observe(-1s); // counts as 0
    h.observe(1h);
    EXPECT_EQ(h.count, 4u);
    EXPECT_EQ(h.buckets[0], 3u);
    EXPECT_EQ(h.buckets[12], 1u);
    EXPECT_EQ(h.sum_ns, std::uint64_t(20'000'000) + 3'600'000'000'000ull);
}

TEST(MetricsHistogram, AddSaturates) {
    latency_histogram a, b;
    a.count = a.buckets[3] = std::numeric_limits<std::uint64_t>::max() - 1;
    b.count = b.buckets[3] = 5;
    a.sum_ns = std::numeric_limits<std::uint64_t>::max();
    b.sum_ns = 1;
    a.add(b);
    EXPECT_EQ(a.count, std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(a.buckets[3], std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(a.sum_ns, std::numeric_limits<std::uint64_t>::max());
}

TEST(MetricsReportCodec, RoundTripsEveryField) {
    const auto r = full_report();
    const auto json = to_json(r);
    const auto back = parse_metrics_report(json);
    ASSERT_TRUE(back.value) << back.error << "\n" << json;
    EXPECT_EQ(*back.value, r);
    EXPECT_EQ(to_json(*back.value), json); // deterministic
}

TEST(MetricsReportCodec, EmptyReport) {
    const auto json = to_json(metrics_report{});
    EXPECT_EQ(json, R"({"v":1,"providers":[],"open_connections":0})");
    const auto back = parse_metrics_report(json);
    ASSERT_TRUE(back.value) << back.error;
    EXPECT_EQ(*back.value, metrics_report{});
    // Every section but "v" is optional.
    ASSERT_TRUE(parse_metrics_report(R"({"v":1})").value);
}

TEST(MetricsReportCodec, LeavesZeroCountsOut) {
    metrics_report r;
    r.provider("p").counters.attempts[static_cast<std::size_t>(attempt_result::reset)] = 1;
    EXPECT_EQ(to_json(r), R"({"v":1,"providers":[{"name":"p","attempts":{"reset":1}}],"open_connections":0})");
}

TEST(MetricsReportCodec, ExtremeCountsRoundTrip) {
    metrics_report r;
    auto& p = r.provider("p");
    constexpr auto max = std::numeric_limits<std::uint64_t>::max();
    p.counters.requests.fill(max);
    p.counters.tokens.fill(max);
    p.counters.ttfb.buckets[12] = max;
    p.counters.ttfb.count = max;
    p.counters.ttfb.sum_ns = max;
    r.usage_dropped = max;
    r.last_switch = provider_switch{std::numeric_limits<std::int64_t>::min(), "a", "b", "auth"};
    const auto back = parse_metrics_report(to_json(r));
    ASSERT_TRUE(back.value) << back.error;
    EXPECT_EQ(*back.value, r);
}

TEST(MetricsReportCodec, UnknownFieldsAndNamesAreIgnored) {
    const auto res = parse_metrics_report(R"({"v":1,"future":{"x":[1,2]},"providers":[
        {"name":"p","requests":{"2xx":2,"1xx":7},"attempts":{"ok":1,"teleport_failure":3},
         "failovers":{"quantum":1,"auth":1},"tokens":{"input":5,"reasoning":9},"colour":"blue",
         "state":"hibernating","breaker":"closed","current":true},
        {"name":"q","state":"open","breaker":"half-open","current":false}],
      "usage":[{"time_ms":1,"profile":"codex"}]})"); // rows travel beside the JSON now
    ASSERT_TRUE(res.value) << res.error;
    const auto& r = *res.value;
    ASSERT_EQ(r.providers.size(), 2u);
    const auto& p = r.providers[0].counters;
    EXPECT_EQ(p.requests[static_cast<std::size_t>(status_class::s2xx)], 2u);
    EXPECT_EQ(p.attempts[static_cast<std::size_t>(attempt_result::ok)], 1u);
    EXPECT_EQ(p.failovers[index_of(failure_reason::auth)], 1u);
    EXPECT_EQ(p.tokens[static_cast<std::size_t>(token_kind::input)], 5u);
    provider_counters expected;
    expected.requests[static_cast<std::size_t>(status_class::s2xx)] = 2;
    expected.attempts[static_cast<std::size_t>(attempt_result::ok)] = 1;
    expected.failovers[index_of(failure_reason::auth)] = 1;
    expected.tokens[static_cast<std::size_t>(token_kind::input)] = 5;
    EXPECT_EQ(p, expected);              // nothing else was counted anywhere
    EXPECT_FALSE(r.providers[0].gauges); // a state this build does not know
    ASSERT_TRUE(r.providers[1].gauges);
    EXPECT_EQ(*r.providers[1].gauges, (provider_gauges{provider_availability::open, breaker_state::half_open, false}));
}

TEST(MetricsReportCodec, HostileInputIsAnErrorNeverACrash) {
    const std::string big_name(max_provider_name_size + 1, 'x');
    const std::string buckets13 = "[0,0,0,0,0,0,0,0,0,0,0,0,1]";
    struct bad_case {
        std::string json;
        std::string error; // a part of the expected message; "?" any; "" only: must not crash
    };
    const std::vector<bad_case> cases = {
        {"", "not JSON"},
        {"{", "not JSON"},
        {"{\"v\":1}}", "not JSON"},
        {"{\"v\":1,}", "not JSON"},
        {"[1,2]", "report: must be an object"},
        {"null", "report: must be an object"},
        {"{}", "v: missing"},
        {R"({"v":2})", "version 2 is not supported"},
        {R"({"v":"1"})", "is not supported"},
        {R"({"v":1.0})", "is not supported"},
        {R"({"v":1,"providers":{}})", "providers: must be an array"},
        {R"({"v":1,"providers":[7]})", "providers[0]: must be an object"},
        {R"({"v":1,"providers":[{}]})", "providers[0]: needs a name"},
        {R"({"v":1,"providers":[{"name":5}]})", "providers[0].name: must be a string"},
        {R"({"v":1,"providers":[{"name":")" + big_name + R"("}]})", "providers[0].name: must be at most 256 bytes"},
        {R"({"v":1,"providers":[{"name":"a"},{"name":"a"}]})", "provider \"a\" appears twice"},
        {R"({"v":1,"providers":[{"name":"a","requests":[]}]})", "providers[0].requests: must be an object"},
        {R"({"v":1,"providers":[{"name":"a","requests":{"2xx":-1}}]})", "providers[0].requests.2xx: must be a whole"},
        {R"({"v":1,"providers":[{"name":"a","requests":{"2xx":1.5}}]})", "must be a whole number"},
        {R"({"v":1,"providers":[{"name":"a","requests":{"2xx":"1"}}]})", "must be a whole number"},
        {R"({"v":1,"providers":[{"name":"a","requests":{"2xx":true}}]})", "must be a whole number"},
        {R"({"v":1,"providers":[{"name":"a","requests":{"2xx":null}}]})", "must be a whole number"},
        {R"({"v":1,"providers":[{"name":"a","requests":{"2xx":1e30}}]})", "must be a whole number"},
        {R"({"v":1,"providers":[{"name":"a","attempts":{"ok":18446744073709551616}}]})", "must be a whole number"},
        {R"({"v":1,"providers":[{"name":"a","attempts":{"nonsense":-3}}]})", "attempts.nonsense: must be a whole"},
        {R"({"v":1,"providers":[{"name":"a","tokens":{"input":1e400}}]})", "?"},
        {R"({"v":1,"providers":[{"name":"a","unknown_usage":-0.5}]})", "unknown_usage: must be a whole"},
        {R"({"v":1,"providers":[{"name":"a","ttfb":[]}]})", "ttfb: must be an object"},
        {R"({"v":1,"providers":[{"name":"a","ttfb":{"buckets":[1],"sum_ns":1,"count":1}}]})", "must hold 13 counts"},
        {R"({"v":1,"providers":[{"name":"a","ttfb":{"sum_ns":1,"count":1}}]})", "needs buckets, sum_ns and count"},
        {R"({"v":1,"providers":[{"name":"a","duration":{"buckets":)" + buckets13 + R"(,"sum_ns":1,"count":2}}]})",
         "duration.count: must equal the sum of the buckets"},
        {R"({"v":1,"providers":[{"name":"a","duration":{"buckets":[0,0,0,0,0,0,0,0,0,0,0,18446744073709551615,1],)"
         R"("sum_ns":1,"count":0}}]})",
         "add up to more than"},
        {R"({"v":1,"providers":[{"name":"a","state":"active"}]})", "gauges need state, breaker and current together"},
        {R"({"v":1,"providers":[{"name":"a","state":"active","breaker":"closed","current":1}]})",
         "providers[0].current: must be true or false"},
        {R"({"v":1,"providers":[{"name":"a","state":7,"breaker":"closed","current":true}]})",
         "state: must be a string"},
        {R"({"v":1,"open_connections":-1})", "open_connections: must be a whole"},
        {R"({"v":1,"last_switch":{"time_ms":1,"from":"a","to":"b"}})", "last_switch: needs time_ms, from, to"},
        {R"({"v":1,"last_switch":{"time_ms":1.5,"from":"a","to":"b","reason":"x"}})", "last_switch.time_ms"},
        {R"({"v":1,"last_switch":"yesterday"})", "last_switch: must be an object"},
        {R"({"v":1,"usage_dropped":-1})", "usage_dropped: must be a whole"},
        {"{\"v\":1,\"providers\":[{\"name\":\"\xff\xfe\"}]}", "not JSON"},     // invalid UTF-8
        {"{\"v\":1,\"providers\":[{\"name\":\"\xed\xa0\x80\"}]}", "not JSON"}, // a surrogate
        {std::string(40, '[') + std::string(40, ']'), "not JSON"},             // too deep
        {std::string(max_report_json_size + 1, ' '), "is larger than"},
    };
    for (const auto& c : cases) {
        const auto res = parse_metrics_report(c.json);
        if (c.error.empty()) continue; // whatever the parser made of it
        EXPECT_FALSE(res.value) << c.json.substr(0, 200);
        if (c.error == "?") continue;
        EXPECT_NE(res.error.find(c.error), std::string::npos)
            << "input: " << c.json.substr(0, 200) << "\nerror: " << res.error << "\nwanted: " << c.error;
    }
}

TEST(MetricsReportCodec, TooManyProviders) {
    std::string json = R"({"v":1,"providers":[)";
    for (std::size_t i = 0; i <= max_report_providers; ++i) {
        if (i) json += ',';
        json += R"({"name":"p)" + std::to_string(i) + R"("})";
    }
    json += "]}";
    EXPECT_NE(parse_error(json).find("providers: more than 1024 providers"), std::string::npos);
}

TEST(MetricsReportCodec, AThousandProvidersRoundTrip) {
    metrics_report r;
    for (int i = 0; i < 1000; ++i) {
        auto& p = r.provider("provider-" + std::to_string(i));
        p.counters.requests.fill(static_cast<std::uint64_t>(i) + 1);
        p.counters.attempts.fill(2);
        p.counters.failovers.fill(3);
        p.counters.tokens.fill(1'000'000);
        p.counters.ttfb.observe(std::chrono::milliseconds(i));
        p.counters.duration.observe(std::chrono::seconds(i));
        p.counters.unknown_usage = 1;
        p.gauges = provider_gauges{provider_availability::active, breaker_state::closed, i == 0};
    }
    const auto json = to_json(r);
    const auto back = parse_metrics_report(json);
    ASSERT_TRUE(back.value) << back.error;
    EXPECT_EQ(*back.value, r);
}

TEST(MetricsReportCodec, EncoderKeepsTextValidAndBounded) {
    // Provider names are checked by the config loader; the report holds them to its own
    // rules anyway, so that whatever it names, it parses.
    metrics_report r;
    r.provider(std::string("bad\xff\xc3(\xed\xa0\x80") + std::string(1000, 'y'));
    r.last_switch = provider_switch{1, "a", "b", "line\nbreak\x1b[31m"};
    const auto json = to_json(r);
    const auto back = parse_metrics_report(json);
    ASSERT_TRUE(back.value) << back.error;
    const auto& name = back.value->providers.at(0).name;
    EXPECT_LE(name.size(), max_provider_name_size);
    EXPECT_EQ(name.substr(0, 3), "bad");
    EXPECT_EQ(name.substr(3, 3), "\xEF\xBF\xBD"); // U+FFFD for the stray byte
    EXPECT_EQ(back.value->last_switch->reason, "line?break?[31m");
}

TEST(MetricsReportCodec, MutatedReportsNeverCrashAndReencodeStably) {
    const std::string base = to_json(full_report());
    std::mt19937 rng(15);
    int parsed = 0;
    for (int n = 0; n < 3000; ++n) {
        std::string s = base;
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t at = rng() % s.size();
            switch (rng() % 4) {
            case 0: s[at] = static_cast<char>(rng() % 256); break;
            case 1: s.erase(at, 1 + rng() % 8); break;
            case 2: s.insert(at, 1, "0123456789-.e\"{}[],:"[rng() % 20]); break;
            case 3: s.resize(at); break;
            }
        }
        const auto res = parse_metrics_report(s);
        if (!res.value) {
            EXPECT_FALSE(res.error.empty());
            continue;
        }
        ++parsed;
        const auto again = parse_metrics_report(to_json(*res.value));
        ASSERT_TRUE(again.value) << again.error << "\nfrom: " << s;
        EXPECT_EQ(*again.value, *res.value) << s;
    }
    EXPECT_GT(parsed, 0);
}

TEST(WorkerMetrics, TakeReportResetsTheDeltas) {
    worker_metrics m({"a", "b"});
    const auto a = m.provider_id("a"), b = m.provider_id("b");
    EXPECT_EQ(a, 0u);
    EXPECT_EQ(b, 1u);
    m.on_attempt(a, failure_reason::server_error);
    m.on_failover(a, failure_reason::server_error);
    m.on_attempt(b, attempt_result::ok);
    m.on_request_done(b, 200, 150ms, 2s, token_counts{100, 20, 5, std::nullopt});

    auto r1 = m.take_report();
    ASSERT_EQ(r1.providers.size(), 2u);
    const auto* pa = r1.find("a");
    const auto* pb = r1.find("b");
    ASSERT_TRUE(pa && pb);
    EXPECT_EQ(pa->counters.attempts[static_cast<std::size_t>(attempt_result::server_error)], 1u);
    EXPECT_EQ(pa->counters.failovers[index_of(failure_reason::server_error)], 1u);
    EXPECT_EQ(pb->counters.requests[static_cast<std::size_t>(status_class::s2xx)], 1u);
    EXPECT_EQ(pb->counters.ttfb.buckets[2], 1u);     // 150 ms: le 0.25
    EXPECT_EQ(pb->counters.duration.buckets[5], 1u); // 2 s: le 2.5
    EXPECT_EQ(pb->counters.duration.sum_ns, 2'000'000'000u);
    EXPECT_EQ(pb->counters.tokens, (std::array<std::uint64_t, token_kind_count>{100, 20, 5, 0}));
    EXPECT_EQ(pb->counters.unknown_usage, 0u);
    EXPECT_FALSE(pa->gauges); // the caller adds them

    const auto r2 = m.take_report();
    EXPECT_TRUE(r2.providers.empty());
    EXPECT_EQ(m.take_usage_rows(), "");

    m.on_attempt(b, attempt_result::ok);
    const auto r3 = m.take_report();
    ASSERT_EQ(r3.providers.size(), 1u);
    EXPECT_EQ(r3.providers[0].name, "b");
    provider_counters only_one;
    only_one.attempts[static_cast<std::size_t>(attempt_result::ok)] = 1;
    EXPECT_EQ(r3.providers[0].counters, only_one);
}

TEST(WorkerMetrics, RequestsWithoutAProviderCountUnderTheEmptyName) {
    worker_metrics m({"a"});
    m.on_request_done(worker_metrics::no_provider, 503, std::nullopt, 5ms, {});
    m.on_request_done(worker_metrics::no_provider, 429, std::nullopt, 5ms, {});
    m.on_request_done(worker_metrics::no_provider, 503, std::nullopt, 5ms, {});
    m.on_request_done(77, 0, std::nullopt, 5ms, {}); // an index that is not valid counts there too
    const auto r = m.take_report();
    ASSERT_EQ(r.providers.size(), 1u);
    EXPECT_EQ(r.providers[0].name, "");
    EXPECT_EQ(r.providers[0].counters.requests, (std::array<std::uint64_t, status_class_count>{0, 0, 1, 2, 1}));
    EXPECT_EQ(r.providers[0].counters.duration.count, 0u);
    EXPECT_TRUE(m.take_report().providers.empty());
}

TEST(WorkerMetrics, UnknownUsageOnlyForSuccessfulAnswers) {
    worker_metrics m({"a"});
    m.on_request_done(0, 200, 10ms, 20ms, {});                                    // unknown
    m.on_request_done(0, 500, 10ms, 20ms, {});                                    // errors carry no usage
    m.on_request_done(0, 0, std::nullopt, 20ms, {});                              // aborted
    m.on_request_done(0, 200, 10ms, 20ms, token_counts{std::nullopt, 7, {}, {}}); // partly known
    const auto r = m.take_report();
    const auto& c = r.find("a")->counters;
    EXPECT_EQ(c.unknown_usage, 1u);
    EXPECT_EQ(c.tokens[static_cast<std::size_t>(token_kind::output)], 7u);
    EXPECT_EQ(c.tokens[static_cast<std::size_t>(token_kind::input)], 0u);
    EXPECT_EQ(c.requests, (std::array<std::uint64_t, status_class_count>{2, 0, 0, 1, 1}));
    EXPECT_EQ(c.ttfb.count, 3u);
    EXPECT_EQ(c.duration.count, 4u);
}

TEST(WorkerMetrics, ProviderIdsAreStableAndBounded) {
    worker_metrics m({"a", "b"});
    EXPECT_EQ(m.provider_id("b"), 1u);
    EXPECT_EQ(m.provider_id("c"), 2u); // a reload added c: a and b keep their indexes
    EXPECT_EQ(m.provider_id("a"), 0u);
    EXPECT_EQ(m.provider_name(2), "c");
    EXPECT_EQ(m.provider_id(""), worker_metrics::no_provider);
    EXPECT_EQ(m.provider_id(std::string(max_provider_name_size + 1, 'x')), worker_metrics::no_provider);
    for (std::size_t i = m.provider_count(); i < max_report_providers; ++i)
        EXPECT_NE(m.provider_id("p" + std::to_string(i)), worker_metrics::no_provider);
    EXPECT_EQ(m.provider_id("one-too-many"), worker_metrics::no_provider);
    EXPECT_EQ(m.provider_count(), max_report_providers);
    // Calls with an invalid index do nothing.
    m.on_attempt(worker_metrics::no_provider, attempt_result::ok);
    m.on_failover(worker_metrics::no_provider, failure_reason::auth);
    EXPECT_TRUE(m.take_report().providers.empty());
}

// The rows of one block, decoded.
std::vector<usage_row_view> decoded(usage_rows_decoder& d, const std::string& block) {
    const auto r = d.decode(block, "claude-code");
    EXPECT_TRUE(r.ok()) << r.error;
    return {r.rows.begin(), r.rows.end()};
}

TEST(WorkerMetrics, UsageRowsGoInBlocksOfARowsPerReportOldestFirstAndAreBounded) {
    worker_metrics m({}, 2);
    for (int i = 0; i < 5; ++i) {
        auto u = row("m", 200);
        u.time_ms = i;
        m.add_usage(u);
    }
    EXPECT_EQ(m.pending_usage_rows(), 5u);
    usage_rows_decoder d;
    for (const std::vector<std::int64_t>& times : {std::vector<std::int64_t>{0, 1}, {2, 3}, {4}}) {
        const auto block = m.take_usage_rows();
        const auto rows = decoded(d, block);
        ASSERT_EQ(rows.size(), times.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
            EXPECT_EQ(rows[i].time_ms, times[i]);
            auto expected = row("m", 200);
            expected.time_ms = times[i];
            EXPECT_EQ(rows[i], usage_row_view(expected)); // every field, the profile from the decoder
        }
    }
    EXPECT_EQ(m.pending_usage_rows(), 0u);
    EXPECT_EQ(m.take_usage_rows(), "");

    worker_metrics big;
    for (std::size_t i = 0; i < worker_metrics::max_pending_usage_rows + 3; ++i) big.add_usage(row("m", 200));
    EXPECT_EQ(big.pending_usage_rows(), worker_metrics::max_pending_usage_rows);
    EXPECT_EQ(big.take_report().usage_dropped, 3u);
    EXPECT_EQ(big.take_report().usage_dropped, 0u);
    std::size_t taken = 0;
    for (std::string block; !(block = big.take_usage_rows()).empty();) {
        const auto n = decoded(d, block).size();
        EXPECT_LE(n, max_report_usage_rows); // never more than a report may hold
        EXPECT_LE(block.size(), max_usage_rows_block_size);
        taken += n;
    }
    EXPECT_EQ(taken, worker_metrics::max_pending_usage_rows);
    EXPECT_EQ(big.pending_usage_rows(), 0u);
}

TEST(WorkerMetrics, LastSwitchIsAbsoluteAndGaugesAreAddedByTheCaller) {
    worker_metrics m({"a", "b"});
    EXPECT_FALSE(m.take_report().last_switch);
    m.on_switch(1000, 0, 1, "rate_limited");
    m.on_switch(2000, 1, 0, "failback");
    for (int i = 0; i < 2; ++i) { // every report carries it
        auto r = m.take_report();
        ASSERT_TRUE(r.last_switch);
        EXPECT_EQ(*r.last_switch, (provider_switch{2000, "b", "a", "failback"}));
        r.set_gauges("a", {provider_availability::active, breaker_state::closed, true});
        r.open_connections = 3;
        const auto back = parse_metrics_report(to_json(r));
        ASSERT_TRUE(back.value) << back.error;
        EXPECT_EQ(*back.value, r);
    }
}
