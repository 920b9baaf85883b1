// Issue 15 end to end through the real clipal (supervisor + workers) and fake-upstream:
// GET /metrics after a scripted traffic mix, read by Python's prometheus_client parser; a
// killed worker's counts neither lost nor doubled; 10,000 requests making 10,000 usage.db
// rows (and `clipal usage` beside a running clipal and after it); token usage read from
// Anthropic, Responses and Gemini streams and a gzip-encoded answer while the client gets
// the upstream's bytes unchanged; and an unwritable usage.db that costs one log line, not
// the service.
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"
#include "support/prometheus_parser.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

// ---- Prometheus exposition through Python's prometheus_client parser ----

using labels = std::map<std::string, std::string>;

struct sample {
    std::string family;
    std::string name;
    labels labels_;
    double value = 0;
};

// What the parser made of an exposition: family types (counter families are named without
// _total by the parser) and every sample.
struct parsed_metrics {
    std::map<std::string, std::string> types, helps;
    std::vector<sample> samples;

    // The sample `name` with exactly these labels; NaN when there is none.
    double value(const std::string& name, const labels& l) const {
        for (const auto& s : samples)
            if (s.name == name && s.labels_ == l) return s.value;
        return std::numeric_limits<double>::quiet_NaN();
    }
    // Every sample of `name`, as "label=value,..." -> value, for exact comparisons.
    std::map<std::string, double> series(const std::string& name, const std::set<std::string>& skip = {}) const {
        std::map<std::string, double> out;
        for (const auto& s : samples) {
            if (s.name != name) continue;
            std::string key;
            for (const auto& [k, v] : s.labels_)
                if (!skip.count(k)) key += (key.empty() ? "" : ",") + k + "=" + v;
            out[key] = s.value;
        }
        return out;
    }
};

// Runs the real parser over `text`. Empty string on success, else what went wrong.
std::string parse_with_python(const std::string& text, parsed_metrics& out) {
    const auto parsed = parse_prometheus_text(text);
    if (!parsed.error.empty()) return parsed.error;
    for (const auto& f : parsed.families.as_array()) {
        const auto name = boost::json::value_to<std::string>(f.at("name"));
        if (out.types.count(name)) return "family " + name + " appears twice";
        out.types[name] = boost::json::value_to<std::string>(f.at("type"));
        out.helps[name] = boost::json::value_to<std::string>(f.at("help"));
        for (const auto& s : f.at("samples").as_array()) {
            sample smp;
            smp.family = name;
            smp.name = boost::json::value_to<std::string>(s.at("name"));
            for (const auto& kv : s.at("labels").as_object())
                smp.labels_[std::string(kv.key())] = boost::json::value_to<std::string>(kv.value());
            smp.value = s.at("value").to_number<double>();
            out.samples.push_back(std::move(smp));
        }
    }
    return {};
}

http_response get_metrics(std::uint16_t port, const header_list& headers = {}, const std::string& method = "GET") {
    http_probe p("127.0.0.1", port, 2s);
    return p.request(method, "/metrics", headers, {}, 10s);
}

// The value of one series in the raw exposition text, e.g.
// `clipal_requests_total{profile="codex",provider="cx",status_class="2xx"}` (labels in the
// order clipal writes them); nullopt when the line is not there. For waiting on reports.
std::optional<double> raw_value(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return std::nullopt;
    return std::strtod(text.c_str() + at + series.size() + 2, nullptr);
}

// Scrapes until every series has its value (the workers report once a second).
bool wait_series(std::uint16_t port, const std::vector<std::pair<std::string, double>>& want,
                 std::chrono::milliseconds timeout, std::string* last = nullptr) {
    std::string text;
    const bool ok = wait_until(
        [&] {
            const auto r = get_metrics(port);
            if (r.status != 200) return false;
            text = r.body;
            return std::all_of(want.begin(), want.end(), [&](const auto& w) {
                const auto v = raw_value(text, w.first);
                return v && *v == w.second;
            });
        },
        timeout);
    if (last) *last = text;
    return ok;
}

std::string requests_series(const std::string& profile, const std::string& provider, const std::string& cls) {
    return "clipal_requests_total{profile=\"" + profile + "\",provider=\"" + provider + "\",status_class=\"" + cls +
           "\"}";
}

std::string open_connections_series(const std::string& process) {
    return "clipal_open_connections{process=\"" + process + "\"}";
}

std::int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// ---- clipal commands, requests ----

struct command_result {
    int code = -1;
    std::string out, err;
};

command_result run_clipal(std::vector<std::string> args, std::chrono::milliseconds timeout = 20s) {
    spawn_options o;
    o.args = std::move(args);
    child_process c(clipal_binary(), o);
    command_result r;
    const auto st = c.wait_exit(timeout);
    r.out = c.stdout_text();
    r.err = c.stderr_text();
    if (st && !st->signaled) r.code = st->value;
    return r;
}

http_response post(std::uint16_t port, const std::string& target, const std::string& body,
                   std::chrono::milliseconds timeout = 20s) {
    http_probe p("127.0.0.1", port, 2s);
    return p.request("POST", target, {{"content-type", "application/json"}}, body, timeout);
}

std::string anthropic_body(const std::string& model, bool stream) {
    return R"({"model":")" + model + R"(","max_tokens":16,)" + (stream ? R"("stream":true,)" : "") +
           R"("messages":[{"role":"user","content":"hi"}]})";
}

// ---- usage.db, read directly (read-only) ----

struct usage_row {
    std::int64_t time_ms = 0;
    std::string profile, provider, key_fingerprint, model;
    int status = 0;
    std::int64_t attempts = 0;
    std::optional<std::int64_t> ttfb_ms;
    std::int64_t duration_ms = 0;
    std::optional<std::int64_t> input, output, cache_read, cache_write;
};

std::optional<std::int64_t> opt_column(sqlite3_stmt* s, int i) {
    if (::sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
    return ::sqlite3_column_int64(s, i);
}

std::string text_column(sqlite3_stmt* s, int i) {
    const auto* t = ::sqlite3_column_text(s, i);
    return t ? reinterpret_cast<const char*>(t) : "";
}

// Every row of usage.db's requests table, oldest first; `error` set when it cannot be read.
std::vector<usage_row> read_usage_db(const std::filesystem::path& db, std::string& error) {
    std::vector<usage_row> rows;
    sqlite3* h = nullptr;
    if (::sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        error = std::string("cannot open ") + db.string() + ": " + (h ? ::sqlite3_errmsg(h) : "?");
        ::sqlite3_close(h);
        return rows;
    }
    sqlite3_stmt* s = nullptr;
    const char* sql =
        "SELECT time_ms, profile, provider, key_fingerprint, model, status, attempts, ttfb_ms, duration_ms, "
        "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens FROM requests ORDER BY id";
    if (::sqlite3_prepare_v2(h, sql, -1, &s, nullptr) != SQLITE_OK) {
        error = std::string("cannot read ") + db.string() + ": " + ::sqlite3_errmsg(h);
        ::sqlite3_close(h);
        return rows;
    }
    int rc = 0;
    while ((rc = ::sqlite3_step(s)) == SQLITE_ROW) {
        usage_row r;
        r.time_ms = ::sqlite3_column_int64(s, 0);
        r.profile = text_column(s, 1);
        r.provider = text_column(s, 2);
        r.key_fingerprint = text_column(s, 3);
        r.model = text_column(s, 4);
        r.status = ::sqlite3_column_int(s, 5);
        r.attempts = ::sqlite3_column_int64(s, 6);
        r.ttfb_ms = opt_column(s, 7);
        r.duration_ms = ::sqlite3_column_int64(s, 8);
        r.input = opt_column(s, 9);
        r.output = opt_column(s, 10);
        r.cache_read = opt_column(s, 11);
        r.cache_write = opt_column(s, 12);
        rows.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) error = std::string("reading ") + db.string() + ": " + ::sqlite3_errmsg(h);
    ::sqlite3_finalize(s);
    ::sqlite3_close(h);
    return rows;
}

// `clipal stop` for the fixture's clipal, and its end (the usage rows are flushed then).
void stop_clipal(supervisor_fixture& s) {
    const auto r = run_clipal({"stop", "--config-dir", s.dir().path().string()}, 40s);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    const auto st = s.process().wait_exit(10s);
    ASSERT_TRUE(st) << "clipal did not exit after `clipal stop`";
    EXPECT_TRUE(st->exited_with(0)) << st->describe() << "\n" << s.process().stdout_text();
}

// `clipal usage --json` for the fixture's config dir: the parsed document, or null.
boost::json::value usage_json(const supervisor_fixture& s, std::vector<std::string> extra = {}, int* code = nullptr,
                              std::string* output = nullptr) {
    std::vector<std::string> args{"usage", "--json", "--config-dir", s.dir().path().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_clipal(args);
    if (code) *code = r.code;
    if (output) *output = r.out + r.err;
    if (r.code != 0) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(r.out, ec);
    return ec ? boost::json::value(nullptr) : v;
}

std::int64_t total_of(const boost::json::value& usage, const char* field) {
    const auto* o = usage.if_object();
    const auto* t = o ? o->if_contains("total") : nullptr;
    const auto* f = t && t->is_object() ? t->as_object().if_contains(field) : nullptr;
    return f && f->is_int64() ? f->as_int64() : (f && f->is_uint64() ? static_cast<std::int64_t>(f->as_uint64()) : -1);
}

std::string provider_field(supervisor_fixture& s, const std::string& profile, const std::string& provider,
                           const char* field) {
    const auto w = s.worker(profile);
    if (!w) return "?";
    for (const auto& p : w->at("providers").as_array())
        if (p.at("name").as_string() == provider) {
            const auto* f = p.as_object().if_contains(field);
            return f && f->is_string() ? std::string(f->as_string()) : "?";
        }
    return "?";
}

} // namespace

// The scripted traffic mix of the issue, then one scrape read by prometheus_client: every
// family with its type, and the exact value of every series the traffic made.
TEST(Observability, PrometheusExpositionOfATrafficMixHasExactNamesTypesLabelsAndValues) {
    // claude-code: a answers 500 once then ok, b ok; "case404" gets a 404 from a, "caseout"
    // a 401 from both (each key deactivated: every provider is out afterwards). codex: cx.
    fake_upstream_options fo;
    fo.providers = {{"a", "status:500,ok", {{"case404", "status:404"}, {"caseout", "status:401"}}},
                    {"b", "ok", {{"caseout", "status:401"}}},
                    {"cx", "ok"}};
    fake_upstream_process up(fo);
    supervisor_fixture s;
    // No same-provider retry: a's 500 is a failover to b (the fail-back to a is waited for below).
    const std::string config = "log_level: debug\nretries_per_provider: 0\n";
    s.write("config.yaml", config);
    s.write("claude-code.yaml", provider_yaml({{"a", up.base_url("a")}, {"b", up.base_url("b")}}));
    s.write("codex.yaml", provider_yaml({{"cx", up.base_url("cx") + "/v1"}}));
    s.start(2);
    const auto port = s.port();

    // Config reloads: one good config.yaml edit, one broken one (the running config stays).
    s.write("config.yaml", config + "usage_retention_days: 30\n");
    ASSERT_TRUE(wait_series(port, {{"clipal_config_reloads_total{result=\"ok\"}", 1}}, 10s))
        << s.process().stdout_text();
    s.write("config.yaml", "log_level: debug\nretries_per_provider: 99\n"); // 0-5
    ASSERT_TRUE(wait_series(port, {{"clipal_config_reloads_total{result=\"error\"}", 1}}, 10s))
        << s.process().stdout_text();
    ASSERT_TRUE(s.wait_worker_ready("claude-code", std::nullopt, 10s));
    ASSERT_TRUE(s.wait_worker_ready("codex", std::nullopt, 10s));

    const std::string cc = "/claudecode/v1/messages";
    // 1: a 500 -> failover -> b 200 (non-streaming).
    auto r = post(port, cc, anthropic_body("claude-mix", false));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("Hello from b"), std::string::npos) << r.body;
    // a's breaker opened for 1 s; once it is half-open the next request probes a.
    ASSERT_TRUE(wait_until([&] { return provider_field(s, "claude-code", "a", "breaker") == "half-open"; }, 10s))
        << boost::json::serialize(s.status());
    // 2: streaming, the probe of a, which is current again after it.
    r = post(port, cc, anthropic_body("claude-mix", true));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("Hello from a"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("event: message_delta"), std::string::npos) << r.body;
    // 3: non-streaming on a, on a connection kept open (the worker's open connection gauge).
    http_probe held("127.0.0.1", port, 2s);
    r = held.request("POST", cc, {{"content-type", "application/json"}}, anthropic_body("claude-mix", false), 20s);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find("Hello from a"), std::string::npos) << r.body;
    // 4: a 404 passed through.
    r = post(port, cc + "?case404", anthropic_body("claude-mix", false));
    ASSERT_EQ(r.status, 404) << r.body;
    // 5: both providers refuse the key: clipal's 503 naming both.
    r = post(port, cc + "?caseout", anthropic_body("claude-mix", false));
    ASSERT_EQ(r.status, 503) << r.body;
    // 6: every provider is out: 503 at once, no attempt.
    r = post(port, cc, anthropic_body("claude-mix", false));
    ASSERT_EQ(r.status, 503) << r.body;
    EXPECT_TRUE(r.header("retry-after")) << "every provider comes back in an hour";
    // codex: one request.
    r = post(port, "/codex/responses", R"({"model":"gpt-mix","input":"hi"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(up.requests("a").size(), 5u); // 500, probe, 3, 404, 401
    EXPECT_EQ(up.requests("b").size(), 2u); // ok, 401

    // The held connection is counted by its worker, and given back once closed.
    std::string text;
    ASSERT_TRUE(wait_series(port,
                            {{requests_series("claude-code", "none", "5xx"), 2},
                             {requests_series("codex", "cx", "2xx"), 1},
                             {open_connections_series("claude-code"), 1},
                             {open_connections_series("codex"), 0}},
                            15s, &text))
        << text;
    held.close();
    ASSERT_TRUE(wait_series(port, {{open_connections_series("claude-code"), 0}}, 10s, &text)) << text;

    const auto scrape = get_metrics(port);
    ASSERT_EQ(scrape.status, 200);
    EXPECT_EQ(scrape.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    parsed_metrics m;
    const auto err = parse_with_python(scrape.body, m);
    ASSERT_EQ(err, "") << scrape.body;

    // Names and types (prometheus_client names counter families without _total), each with help.
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
    EXPECT_EQ(m.types, want_types) << scrape.body;
    for (const auto& [name, help] : m.helps) EXPECT_FALSE(help.empty()) << name;

    // Build info: the version `clipal --version` prints.
    const auto version = run_clipal({"--version"});
    ASSERT_EQ(version.code, 0);
    const auto v = version.out.substr(version.out.find(' ') + 1, version.out.find('\n') - version.out.find(' ') - 1);
    EXPECT_EQ(m.series("clipal_build_info"), (std::map<std::string, double>{{"version=" + v, 1}}));

    using series_map = std::map<std::string, double>;
    EXPECT_EQ(m.series("clipal_requests_total"),
              (series_map{{"profile=claude-code,provider=a,status_class=2xx", 2}, // stream + held
                          {"profile=claude-code,provider=a,status_class=4xx", 1}, // the 404
                          {"profile=claude-code,provider=b,status_class=2xx", 1}, // after a's 500
                          {"profile=claude-code,provider=none,status_class=5xx", 2},
                          {"profile=codex,provider=cx,status_class=2xx", 1}}))
        << scrape.body;
    EXPECT_EQ(m.series("clipal_upstream_attempts_total"),
              (series_map{{"profile=claude-code,provider=a,result=auth", 1},
                          {"profile=claude-code,provider=a,result=ok", 3}, // answers passed through, 404 included
                          {"profile=claude-code,provider=a,result=server_error", 1},
                          {"profile=claude-code,provider=b,result=auth", 1},
                          {"profile=claude-code,provider=b,result=ok", 1},
                          {"profile=codex,provider=cx,result=ok", 1}}))
        << scrape.body;
    EXPECT_EQ(m.series("clipal_failovers_total"),
              (series_map{{"profile=claude-code,provider=a,reason=auth", 1},
                          {"profile=claude-code,provider=a,reason=server_error", 1}}))
        << scrape.body;

    // Histograms: one observation per request a provider answered (clipal's own 503s, provider
    // "none", have no latency series).
    for (const std::string h : {"clipal_time_to_first_byte_seconds", "clipal_request_duration_seconds"}) {
        const series_map want_count{{"profile=claude-code,provider=a", 3},
                                    {"profile=claude-code,provider=b", 1},
                                    {"profile=codex,provider=cx", 1}};
        EXPECT_EQ(m.series(h + "_count"), want_count) << h;
        // Cumulative buckets: 13 per series, non-decreasing, +Inf equal to the count.
        std::map<std::string, std::vector<double>> buckets;
        for (const auto& smp : m.samples)
            if (smp.name == h + "_bucket")
                buckets[smp.labels_.at("profile") + "/" + smp.labels_.at("provider")].push_back(smp.value);
        EXPECT_EQ(buckets.size(), want_count.size()) << h;
        for (const auto& [k, b] : buckets) {
            ASSERT_EQ(b.size(), 13u) << h << " " << k;
            for (std::size_t i = 1; i < b.size(); ++i) EXPECT_LE(b[i - 1], b[i]) << h << " " << k;
        }
        for (const auto& [k, want] : want_count) {
            const auto slash = k.find(",provider=");
            const std::string prof = k.substr(8, slash - 8), prov = k.substr(slash + 10);
            EXPECT_EQ(m.value(h + "_bucket", {{"profile", prof}, {"provider", prov}, {"le", "+Inf"}}), want) << k;
            const double sum = m.value(h + "_sum", {{"profile", prof}, {"provider", prov}});
            EXPECT_GT(sum, 0) << h << " " << k;
            EXPECT_LT(sum, 30 * want) << h << " " << k;
        }
    }
    // The 500 then failover took no longer than a second; everything here is on loopback.
    EXPECT_EQ(m.value("clipal_request_duration_seconds_bucket",
                      {{"profile", "claude-code"}, {"provider", "b"}, {"le", "5"}}),
              1);

    // Tokens as fake-upstream reports them: 12 input, 5 output per answer, cache counts 0
    // (stated as 0: no series). a: the stream and the held request; b and cx one each.
    EXPECT_EQ(m.series("clipal_tokens_total"), (series_map{{"kind=input,profile=claude-code,provider=a", 24},
                                                           {"kind=input,profile=claude-code,provider=b", 12},
                                                           {"kind=input,profile=codex,provider=cx", 12},
                                                           {"kind=output,profile=claude-code,provider=a", 10},
                                                           {"kind=output,profile=claude-code,provider=b", 5},
                                                           {"kind=output,profile=codex,provider=cx", 5}}))
        << scrape.body;
    EXPECT_EQ(m.series("clipal_requests_unknown_usage_total"), series_map{}) << "every 2xx answer had its usage read";

    // Gauges: both claude-code providers deactivated (their keys refused), a current again
    // after its probe, every breaker closed; cx active and current.
    EXPECT_EQ(m.series("clipal_provider_state"), (series_map{{"profile=claude-code,provider=a,state=active", 0},
                                                             {"profile=claude-code,provider=a,state=cooling", 0},
                                                             {"profile=claude-code,provider=a,state=deactivated", 1},
                                                             {"profile=claude-code,provider=a,state=open", 0},
                                                             {"profile=claude-code,provider=b,state=active", 0},
                                                             {"profile=claude-code,provider=b,state=cooling", 0},
                                                             {"profile=claude-code,provider=b,state=deactivated", 1},
                                                             {"profile=claude-code,provider=b,state=open", 0},
                                                             {"profile=codex,provider=cx,state=active", 1},
                                                             {"profile=codex,provider=cx,state=cooling", 0},
                                                             {"profile=codex,provider=cx,state=deactivated", 0},
                                                             {"profile=codex,provider=cx,state=open", 0}}))
        << scrape.body;
    EXPECT_EQ(m.series("clipal_provider_breaker_state"),
              (series_map{{"profile=claude-code,provider=a,state=closed", 1},
                          {"profile=claude-code,provider=a,state=half-open", 0},
                          {"profile=claude-code,provider=a,state=open", 0},
                          {"profile=claude-code,provider=b,state=closed", 1},
                          {"profile=claude-code,provider=b,state=half-open", 0},
                          {"profile=claude-code,provider=b,state=open", 0},
                          {"profile=codex,provider=cx,state=closed", 1},
                          {"profile=codex,provider=cx,state=half-open", 0},
                          {"profile=codex,provider=cx,state=open", 0}}))
        << scrape.body;
    EXPECT_EQ(m.series("clipal_provider_current"), (series_map{{"profile=claude-code,provider=a", 1},
                                                               {"profile=claude-code,provider=b", 0},
                                                               {"profile=codex,provider=cx", 1}}))
        << scrape.body;

    // Workers: none restarted; claude-code and codex ready (exactly one state each).
    EXPECT_EQ(m.series("clipal_worker_restarts_total"),
              (series_map{{"profile=claude-code", 0}, {"profile=codex", 0}, {"profile=gemini", 0}}));
    for (const std::string prof : {"claude-code", "codex"}) {
        double ones = 0;
        for (const auto& smp : m.samples)
            if (smp.name == "clipal_worker_state" && smp.labels_.at("profile") == prof) ones += smp.value;
        EXPECT_EQ(ones, 1) << prof;
        EXPECT_EQ(m.value("clipal_worker_state", {{"profile", prof}, {"state", "ready"}}), 1) << prof;
    }
    EXPECT_EQ(m.value("clipal_open_connections", {{"process", "claude-code"}}), 0);
    EXPECT_EQ(m.value("clipal_open_connections", {{"process", "codex"}}), 0);
    EXPECT_EQ(m.value("clipal_worker_state", {{"profile", "gemini"}, {"state", "stopped"}}), 1) << "no providers";
    // The supervisor's router holds the scrape's own connection while it answers it (and
    // maybe, for a moment, the previous scrape's, closed just before).
    const double router = m.value("clipal_open_connections", {{"process", "supervisor"}});
    EXPECT_TRUE(router >= 1 && router <= 2) << router;
    EXPECT_EQ(m.series("clipal_config_reloads_total"), (series_map{{"result=error", 1}, {"result=ok", 1}}));
}

TEST(Observability, MetricsAnswersGetAndHeadAndRefusesAForeignHostAnOriginAndPost) {
    supervisor_fixture s;
    s.start(0);
    const auto ok = get_metrics(s.port());
    EXPECT_EQ(ok.status, 200);
    EXPECT_NE(ok.body.find("# TYPE clipal_build_info gauge"), std::string::npos) << ok.body;
    {
        http_probe p("127.0.0.1", s.port(), 2s);
        ASSERT_TRUE(p.send("HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
        const auto head = p.read_response(5s, true);
        EXPECT_EQ(head.status, 200);
        EXPECT_TRUE(head.body.empty());
    }
    const auto foreign = get_metrics(s.port(), {{"Host", "evil.example:3333"}});
    EXPECT_EQ(foreign.status, 403) << foreign.body;
    EXPECT_EQ(foreign.body.find("clipal_"), std::string::npos) << foreign.body;
    const auto origin = get_metrics(s.port(), {{"Origin", "http://evil.example"}});
    EXPECT_EQ(origin.status, 403) << origin.body;
    EXPECT_EQ(origin.body.find("clipal_"), std::string::npos) << origin.body;
    const auto posted = get_metrics(s.port(), {}, "POST");
    EXPECT_EQ(posted.status, 405) << posted.body;
    EXPECT_EQ(posted.body.find("clipal_"), std::string::npos) << posted.body;
    // Still answering after the refusals.
    EXPECT_EQ(get_metrics(s.port()).status, 200);

    // With an access_token a scraper presents it like any client (Authorization: Bearer).
    const std::string token = "metrics-token-0123456789";
    s.write("config.yaml", "log_level: debug\naccess_token: \"" + token + "\"\n");
    ASSERT_TRUE(wait_until([&] { return get_metrics(s.port()).status == 401; }, 10s)) << s.process().stdout_text();
    EXPECT_EQ(get_metrics(s.port(), {{"Authorization", "Bearer wrong-token-0123456789"}}).status, 401);
    const auto with_token = get_metrics(s.port(), {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(with_token.status, 200);
    EXPECT_NE(with_token.body.find("clipal_config_reloads_total{result=\"ok\"} 1"), std::string::npos)
        << with_token.body;
    EXPECT_EQ(with_token.body.find(token), std::string::npos) << "the token is never shown";
}

// A worker killed after N requests and restarted: its counts were reported before it died
// and are kept; the new worker's start from zero and add up; nothing is counted twice.
TEST(Observability, AKilledWorkersCountsAreNeitherLostNorDoubled) {
    fake_upstream_process up(fake_upstream_options{{{"p"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"p", up.base_url("p")}}));
    s.start(1);
    const auto port = s.port();
    const auto victim = s.worker_pid("claude-code");
    ASSERT_TRUE(victim);

    constexpr int before = 5, after = 3;
    for (int i = 0; i < before; ++i)
        ASSERT_EQ(post(port, "/claudecode/v1/messages", anthropic_body("m-restart", i % 2 == 1)).status, 200) << i;
    // The worker reports once a second: wait until /metrics has all N, then kill it.
    std::string text;
    ASSERT_TRUE(wait_series(port, {{requests_series("claude-code", "p", "2xx"), before}}, 10s, &text)) << text;
    ASSERT_EQ(::kill(*victim, SIGKILL), 0);
    const auto replacement = s.wait_worker_ready("claude-code", victim, 10s);
    ASSERT_TRUE(replacement) << s.process().stdout_text();

    for (int i = 0; i < after; ++i)
        ASSERT_EQ(post(port, "/claudecode/v1/messages", anthropic_body("m-restart", false)).status, 200) << i;
    ASSERT_TRUE(wait_series(port, {{requests_series("claude-code", "p", "2xx"), before + after}}, 10s, &text)) << text;
    // One more report of the new worker (it sees the held connection), and still N + M.
    http_probe held("127.0.0.1", port, 2s);
    ASSERT_EQ(held.request("GET", "/claudecode/v1/models", {}, {}, 10s).status, 200);
    ASSERT_TRUE(wait_series(port, {{open_connections_series("claude-code"), 1}}, 10s, &text)) << text;

    parsed_metrics m;
    ASSERT_EQ(parse_with_python(text, m), "") << text;
    const labels p{{"profile", "claude-code"}, {"provider", "p"}};
    auto with = [&](labels l, const std::string& k, const std::string& v) {
        l[k] = v;
        return l;
    };
    EXPECT_EQ(m.value("clipal_requests_total", with(p, "status_class", "2xx")), before + after + 1) << text;
    EXPECT_EQ(m.value("clipal_upstream_attempts_total", with(p, "result", "ok")), before + after + 1) << text;
    EXPECT_EQ(m.value("clipal_time_to_first_byte_seconds_count", p), before + after + 1) << text;
    EXPECT_EQ(m.value("clipal_request_duration_seconds_count", p), before + after + 1) << text;
    EXPECT_EQ(m.value("clipal_tokens_total", with(p, "kind", "input")), 12 * (before + after)) << text;
    EXPECT_EQ(m.value("clipal_tokens_total", with(p, "kind", "output")), 5 * (before + after)) << text;
    // GET /v1/models answers {"ok":true}: a 2xx whose usage is unknown.
    EXPECT_EQ(m.value("clipal_requests_unknown_usage_total", p), 1) << text;
    EXPECT_EQ(m.value("clipal_worker_restarts_total", {{"profile", "claude-code"}}), 1) << text;
    EXPECT_EQ(m.value("clipal_worker_restarts_total", {{"profile", "codex"}}), 0) << text;
    EXPECT_EQ(m.value("clipal_worker_state", {{"profile", "claude-code"}, {"state", "ready"}}), 1) << text;
    EXPECT_EQ(m.value("clipal_provider_current", p), 1) << text;
    held.close();

    // usage.db holds every request exactly once too: those of the killed worker were sent
    // with its reports before it died.
    stop_clipal(s);
    std::string error;
    const auto rows = read_usage_db(s.dir().path() / "usage.db", error);
    ASSERT_EQ(error, "");
    EXPECT_EQ(rows.size(), static_cast<std::size_t>(before + after + 1));
    EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](const usage_row& r) { return r.model == "m-restart"; }),
              before + after);
}

// 10,000 small requests over a few kept-alive connections: exactly 10,000 rows after
// `clipal stop` (which flushes), with the provider, model, status and tokens of each;
// `clipal usage` during the run, after it, and beside the next clipal. The requests'
// latency is printed (and recorded as test properties) for the benchmark comparison.
TEST(Observability, TenThousandRequestsMakeTenThousandUsageRows) {
    fake_upstream_options fo;
    fo.providers = {{"p"}};
    fake_upstream_process up(fo);
    supervisor_fixture s;
    s.write("config.yaml", "log_level: warn\n");
    s.write("claude-code.yaml", provider_yaml({{"p", up.base_url("p")}}));
    s.start(0);
    ASSERT_TRUE(s.wait_worker_ready("claude-code", std::nullopt, 10s));
    const auto port = s.port();

    constexpr int total = 10000, connections = 4;
    const std::string body = anthropic_body("model-10k", false);
    std::atomic<int> next{0}, failed{0}, reconnects{0};
    std::vector<std::vector<double>> latencies(connections);
    const auto run_started = std::chrono::steady_clock::now();
    const auto run_started_ms = unix_ms_now();
    const auto deadline = run_started + 240s;
    std::vector<std::thread> clients;
    for (int t = 0; t < connections; ++t)
        clients.emplace_back([&, t] {
            http_probe p("127.0.0.1", port, 5s);
            while (next.fetch_add(1) < total) {
                if (std::chrono::steady_clock::now() > deadline) {
                    ++failed;
                    continue;
                }
                if (!p.connected()) {
                    ++reconnects;
                    p.connect("127.0.0.1", port, 5s);
                }
                const auto t0 = std::chrono::steady_clock::now();
                const auto r =
                    p.request("POST", "/claudecode/v1/messages", {{"content-type", "application/json"}}, body, 10s);
                const auto t1 = std::chrono::steady_clock::now();
                if (r.status != 200) {
                    ++failed;
                    p.close();
                    continue;
                }
                latencies[t].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
                if (r.header("connection").value_or("") == "close") p.close();
            }
        });
    // `clipal usage` while clipal runs and writes: it reads beside the writer.
    ASSERT_TRUE(wait_until([&] { return next.load() >= total / 2; }, 120s));
    int during_code = -1;
    std::string during_out;
    const auto during = usage_json(s, {}, &during_code, &during_out);
    for (auto& c : clients) c.join();
    const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_started).count();
    const auto run_ended_ms = unix_ms_now();
    ASSERT_EQ(during_code, 0) << during_out;
    ASSERT_TRUE(during.is_object()) << during_out;
    EXPECT_GE(total_of(during, "requests"), 0) << during_out;
    EXPECT_LE(total_of(during, "requests"), total) << during_out;
    EXPECT_EQ(failed.load(), 0);

    std::vector<double> all;
    for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    ASSERT_FALSE(all.empty());
    const auto pct = [&](double q) { return all[std::min(all.size() - 1, static_cast<std::size_t>(q * all.size()))]; };
    std::cout << "[ latency  ] " << all.size() << " requests over " << connections << " keep-alive connections in "
              << elapsed << " s (" << all.size() / elapsed << " req/s): p50 " << pct(0.50) << " ms, p99 " << pct(0.99)
              << " ms, max " << all.back() << " ms; reconnects " << reconnects.load() << std::endl;
    ::testing::Test::RecordProperty("requests", static_cast<int>(all.size()));
    ::testing::Test::RecordProperty("p50_us", static_cast<int>(pct(0.50) * 1000));
    ::testing::Test::RecordProperty("p99_us", static_cast<int>(pct(0.99) * 1000));
    ::testing::Test::RecordProperty("max_us", static_cast<int>(all.back() * 1000));

    // Stop at once: what the worker still holds goes with its last reports, and the
    // supervisor writes everything before it exits.
    stop_clipal(s);
    const auto db = s.dir().path() / "usage.db";
    std::string error;
    const auto rows = read_usage_db(db, error);
    ASSERT_EQ(error, "");
    EXPECT_EQ(rows.size(), static_cast<std::size_t>(total));
    std::map<std::string, int> shapes;
    std::int64_t input = 0, output = 0, cache_read = 0, cache_write = 0;
    int out_of_window = 0, bad_times = 0;
    for (const auto& r : rows) {
        // Finished during the run (a little slack for the clocks' granularity).
        if (r.time_ms < run_started_ms - 1000 || r.time_ms > run_ended_ms + 1000) ++out_of_window;
        if (!r.ttfb_ms || *r.ttfb_ms > r.duration_ms || r.duration_ms > (run_ended_ms - run_started_ms) + 1000)
            ++bad_times;
        ++shapes[r.profile + "|" + r.provider + "|" + r.model + "|" + std::to_string(r.status) + "|" +
                 std::to_string(r.attempts) + "|" + (r.key_fingerprint.empty() ? "no key" : "key")];
        input += r.input.value_or(0);
        output += r.output.value_or(0);
        cache_read += r.cache_read.value_or(-1000000);
        cache_write += r.cache_write.value_or(-1000000);
    }
    EXPECT_EQ(shapes, (std::map<std::string, int>{{"claude-code|p|model-10k|200|1|key", total}}));
    EXPECT_EQ(out_of_window, 0) << "row times are when each request finished";
    EXPECT_EQ(bad_times, 0) << "ttfb_ms <= duration_ms <= the run";
    EXPECT_EQ(input, 12 * total);
    EXPECT_EQ(output, 5 * total);
    EXPECT_EQ(cache_read, 0);
    EXPECT_EQ(cache_write, 0);
    const auto key_text = rows.front().key_fingerprint;
    EXPECT_EQ(key_text.find("key-p-000000000000"), std::string::npos) << "a fingerprint, never the key";

    // `clipal usage` with nothing running, then beside the next clipal, which has the file open.
    for (int round = 0; round < 2; ++round) {
        int code = -1;
        std::string out;
        const auto u = usage_json(s, {"--by", "model"}, &code, &out);
        ASSERT_EQ(code, 0) << out;
        EXPECT_EQ(total_of(u, "requests"), total) << out;
        EXPECT_EQ(total_of(u, "failures"), 0) << out;
        EXPECT_EQ(total_of(u, "input_tokens"), 12 * total) << out;
        EXPECT_EQ(total_of(u, "output_tokens"), 5 * total) << out;
        ASSERT_TRUE(u.is_object()) << out;
        const auto& groups = u.at("groups").as_array();
        ASSERT_EQ(groups.size(), 1u) << out;
        EXPECT_EQ(groups[0].at("group").as_string(), "model-10k") << out;
        if (round == 0) {
            const auto table = run_clipal({"usage", "--config-dir", s.dir().path().string()});
            EXPECT_EQ(table.code, 0) << table.out << table.err;
            EXPECT_NE(table.out.find("10,000"), std::string::npos) << table.out;
            s.start(0);
            ASSERT_TRUE(s.wait_worker_ready("claude-code", std::nullopt, 10s));
        }
    }
}

// Usage read from the three streaming protocols and from a gzip-encoded JSON answer: each
// request is one usage.db row with the tokens the fake upstream reported, and the client
// got exactly the bytes the upstream sends (compared with the same request made directly).
TEST(Observability, UsageIsReadFromStreamsAndGzipWhileTheBytesPassUnchanged) {
    fake_upstream_options fo;
    fo.providers = {{"ca", "ok", {{"gzip1", "ok;gzip"}}}, {"cx"}, {"gm"}};
    fake_upstream_process up(fo);
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"ca", up.base_url("ca")}}));
    s.write("codex.yaml", provider_yaml({{"cx", up.base_url("cx") + "/v1"}}));
    s.write("gemini.yaml", provider_yaml({{"gm", up.base_url("gm")}}));
    s.start(3);

    struct exchange {
        std::string what, via, direct_provider, direct, body, model;
        std::optional<std::int64_t> cache_read, cache_write; // as the response states them
    };
    const std::vector<exchange> cases{
        {"anthropic sse", "/claudecode/v1/messages", "ca", "/v1/messages", anthropic_body("model-anthropic-sse", true),
         "model-anthropic-sse", 0, 0},
        {"responses sse", "/codex/responses", "cx", "/v1/responses",
         R"({"model":"model-responses-sse","input":"hi","stream":true})", "model-responses-sse", 0, std::nullopt},
        {"gemini sse", "/gemini/v1beta/models/model-gemini-sse:streamGenerateContent?alt=sse", "gm",
         "/v1beta/models/model-gemini-sse:streamGenerateContent?alt=sse",
         R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})", "model-gemini-sse", std::nullopt, std::nullopt},
        {"gzip json", "/claudecode/v1/messages?gzip1", "ca", "/v1/messages?gzip1",
         anthropic_body("model-gzip-json", false), "model-gzip-json", 0, 0},
        {"gzip anthropic sse", "/claudecode/v1/messages?gzip1", "ca", "/v1/messages?gzip1",
         anthropic_body("model-gzip-sse", true), "model-gzip-sse", 0, 0},
    };
    for (const auto& c : cases) {
        const auto via = post(s.port(), c.via, c.body);
        http_probe direct_probe("127.0.0.1", up.port(c.direct_provider), 2s);
        const auto direct = direct_probe.request("POST", c.direct, {{"content-type", "application/json"}}, c.body, 10s);
        ASSERT_EQ(via.status, 200) << c.what << ": " << via.body;
        ASSERT_EQ(direct.status, 200) << c.what;
        ASSERT_TRUE(via.complete()) << c.what << ": " << via.error;
        EXPECT_EQ(via.body, direct.body) << c.what << ": the client must get the upstream's bytes unchanged";
        EXPECT_EQ(via.header("content-type"), direct.header("content-type")) << c.what;
        EXPECT_EQ(via.header("content-encoding"), direct.header("content-encoding")) << c.what;
        if (!via.header("content-encoding")) {
            EXPECT_NE(via.body.find(c.model), std::string::npos) << c.what;
        }
    }
    const auto gz = post(s.port(), "/claudecode/v1/messages?gzip1", anthropic_body("model-gzip-json", false));
    EXPECT_EQ(gz.header("content-encoding"), "gzip");
    EXPECT_EQ(gz.body.substr(0, 2), "\x1f\x8b") << "the gzip bytes themselves, not inflated";

    stop_clipal(s);
    std::string error;
    const auto rows = read_usage_db(s.dir().path() / "usage.db", error);
    ASSERT_EQ(error, "");
    ASSERT_EQ(rows.size(), cases.size() + 1);
    for (const auto& c : cases) {
        const auto it = std::find_if(rows.begin(), rows.end(), [&](const usage_row& r) { return r.model == c.model; });
        ASSERT_NE(it, rows.end()) << c.what << ": no row for model " << c.model;
        EXPECT_EQ(it->status, 200) << c.what;
        EXPECT_EQ(it->provider, c.direct_provider) << c.what;
        EXPECT_EQ(it->attempts, 1) << c.what;
        EXPECT_TRUE(it->ttfb_ms.has_value()) << c.what;
        EXPECT_EQ(it->input, 12) << c.what;
        EXPECT_EQ(it->output, 5) << c.what;
        EXPECT_EQ(it->cache_read, c.cache_read) << c.what;
        EXPECT_EQ(it->cache_write, c.cache_write) << c.what;
    }
    EXPECT_EQ(std::count_if(rows.begin(), rows.end(), [](const usage_row& r) { return r.model == "model-gzip-json"; }),
              2);
}

// usage.db cannot be written (a directory is in its place): clipal starts, serves, counts
// in /metrics, and says so once, naming the file.
TEST(Observability, AnUnwritableUsageDbIsOneClearErrorAndRequestsAreStillServed) {
    fake_upstream_process up(fake_upstream_options{{{"p"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"p", up.base_url("p")}}));
    const auto db = s.dir().path() / "usage.db";
    std::filesystem::create_directory(db);
    s.start(1);

    constexpr int n = 5;
    for (int i = 0; i < n; ++i)
        ASSERT_EQ(post(s.port(), "/claudecode/v1/messages", anthropic_body("m", i % 2 == 0)).status, 200) << i;
    // The reports carrying the rows have arrived (and more after them) ...
    std::string text;
    ASSERT_TRUE(wait_series(s.port(), {{requests_series("claude-code", "p", "2xx"), n}}, 10s, &text)) << text;
    http_probe held("127.0.0.1", s.port(), 2s);
    ASSERT_EQ(held.request("POST", "/claudecode/v1/messages", {{"content-type", "application/json"}},
                           anthropic_body("m", false), 10s)
                  .status,
              200);
    ASSERT_TRUE(
        wait_series(s.port(),
                    {{requests_series("claude-code", "p", "2xx"), n + 1}, {open_connections_series("claude-code"), 1}},
                    10s, &text))
        << text;
    held.close();
    stop_clipal(s);

    // ... and the log says it once, as an error naming the file.
    const auto log = s.process().stdout_text();
    std::vector<std::string> lines;
    for (std::size_t at = 0; at < log.size();) {
        const auto end = log.find('\n', at);
        const auto line = log.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (line.find("usage") != std::string::npos && line.find("database") != std::string::npos)
            lines.push_back(line);
        at = end == std::string::npos ? log.size() : end + 1;
    }
    ASSERT_EQ(lines.size(), 1u) << log;
    EXPECT_NE(lines[0].find("ERROR"), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(db.string()), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find("directory"), std::string::npos) << lines[0];
    EXPECT_EQ(supervisor_fixture::occurrences(log, db.string()), 1) << log;
    EXPECT_EQ(supervisor_fixture::occurrences(log, "usage rows"), 0) << "no write was tried, nothing to report\n"
                                                                     << log;
    EXPECT_TRUE(std::filesystem::is_directory(db)) << "clipal must not remove what is in the way";

    // `clipal usage` says the same and exits 1.
    const auto usage = run_clipal({"usage", "--config-dir", s.dir().path().string()});
    EXPECT_EQ(usage.code, 1) << usage.out << usage.err;
    EXPECT_NE((usage.out + usage.err).find(db.string()), std::string::npos) << usage.out << usage.err;
}
