#include "shared/metrics_report.hpp"

#include "shared/text.hpp"

#include <boost/json.hpp>
#include <boost/json/monotonic_resource.hpp>

#include <algorithm>
#include <limits>
#include <utility>

namespace clipal {
namespace json = boost::json;

namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

std::uint64_t sat_add(std::uint64_t a, std::uint64_t b) { return a > u64_max - b ? u64_max : a + b; }

template <std::size_t N>
void add_all(std::array<std::uint64_t, N>& to, const std::array<std::uint64_t, N>& from) {
    for (std::size_t i = 0; i < N; ++i) to[i] = sat_add(to[i], from[i]);
}

template <std::size_t N>
bool all_zero(const std::array<std::uint64_t, N>& a) {
    return std::all_of(a.begin(), a.end(), [](std::uint64_t v) { return v == 0; });
}

// Printable ASCII only (the switch reason is shown in a terminal), at most `limit` bytes.
std::string printable_ascii(std::string_view s, std::size_t limit) {
    std::string out;
    for (char c : s.substr(0, limit)) out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
    return out;
}

// ---- encoding ----

template <std::size_t N, typename Name>
void put_counts(json::object& o, std::string_view key, const std::array<std::uint64_t, N>& a, Name name) {
    json::object m(o.storage());
    for (std::size_t i = 0; i < N; ++i)
        if (a[i] != 0) m.emplace(name(i), a[i]);
    if (!m.empty()) o.emplace(key, std::move(m));
}

void put_histogram(json::object& o, std::string_view key, const latency_histogram& h) {
    if (h.count == 0 && h.sum_ns == 0 && all_zero(h.buckets)) return;
    json::array b(o.storage());
    for (auto v : h.buckets) b.emplace_back(v);
    o.emplace(key, json::object({{"buckets", std::move(b)}, {"sum_ns", h.sum_ns}, {"count", h.count}}, o.storage()));
}

json::object provider_to_json(const provider_metrics& p, json::storage_ptr sp) {
    json::object o(std::move(sp));
    o.emplace("name", clean_utf8(p.name, max_provider_name_size));
    const auto& c = p.counters;
    put_counts(o, "requests", c.requests, [](std::size_t i) { return to_string(static_cast<status_class>(i)); });
    put_counts(o, "attempts", c.attempts, [](std::size_t i) { return to_string(static_cast<attempt_result>(i)); });
    put_counts(o, "failovers", c.failovers, [](std::size_t i) { return snake_name(static_cast<failure_reason>(i)); });
    put_histogram(o, "ttfb", c.ttfb);
    put_histogram(o, "duration", c.duration);
    put_counts(o, "tokens", c.tokens, [](std::size_t i) { return to_string(static_cast<token_kind>(i)); });
    if (c.unknown_usage != 0) o.emplace("unknown_usage", c.unknown_usage);
    if (p.gauges) {
        o.emplace("state", to_string(p.gauges->state));
        o.emplace("breaker", to_string(p.gauges->breaker));
        o.emplace("current", p.gauges->current);
    }
    return o;
}

// ---- decoding ----

// Reads the fields of one JSON object; the first problem is kept in `error` with its path
// and every later read fails.
class reader {
public:
    reader(std::string& error) : error_(error) {}

    bool ok() const { return error_.empty(); }
    bool fail(const std::string& path, std::string_view what) {
        if (error_.empty()) error_ = path + ": " + std::string(what);
        return false;
    }

    // A JSON number that is a whole number 0..UINT64_MAX.
    bool count(const json::value& v, const std::string& path, std::uint64_t& out) {
        if (const auto* u = v.if_uint64()) {
            out = *u;
            return true;
        }
        if (const auto* i = v.if_int64(); i && *i >= 0) {
            out = static_cast<std::uint64_t>(*i);
            return true;
        }
        return fail(path, "must be a whole number from 0 to 18446744073709551615");
    }
    bool int64(const json::value& v, const std::string& path, std::int64_t& out) {
        if (const auto* i = v.if_int64()) {
            out = *i;
            return true;
        }
        return fail(path, "must be a whole number from -9223372036854775808 to 9223372036854775807");
    }
    bool text(const json::value& v, const std::string& path, std::string& out, std::size_t max) {
        const auto* s = v.if_string();
        if (!s) return fail(path, "must be a string");
        if (s->size() > max) return fail(path, "must be at most " + std::to_string(max) + " bytes");
        out.assign(s->data(), s->size());
        return true;
    }
    bool boolean(const json::value& v, const std::string& path, bool& out) {
        const auto* b = v.if_bool();
        if (!b) return fail(path, "must be true or false");
        out = *b;
        return true;
    }
    const json::object* object(const json::value& v, const std::string& path) {
        const auto* o = v.if_object();
        if (!o) fail(path, "must be an object");
        return o;
    }
    const json::array* array(const json::value& v, const std::string& path) {
        const auto* a = v.if_array();
        if (!a) fail(path, "must be an array");
        return a;
    }

    // {"name": count, ...}: names `index` does not know are skipped (their counts still
    // have to be counts).
    template <std::size_t N, typename Index>
    bool counts(const json::value& v, const std::string& path, std::array<std::uint64_t, N>& out, Index index) {
        const auto* o = object(v, path);
        if (!o) return false;
        for (const auto& kv : *o) {
            std::uint64_t n = 0;
            const std::string_view key = kv.key();
            if (!count(kv.value(), path + "." + std::string(key), n)) return false;
            if (const std::optional<std::size_t> i = index(key)) out[*i] = sat_add(out[*i], n);
        }
        return true;
    }

    bool histogram(const json::value& v, const std::string& path, latency_histogram& h) {
        const auto* o = object(v, path);
        if (!o) return false;
        const auto* b = o->if_contains("buckets");
        const auto* s = o->if_contains("sum_ns");
        const auto* c = o->if_contains("count");
        if (!b || !s || !c) return fail(path, "needs buckets, sum_ns and count");
        const auto* a = array(*b, path + ".buckets");
        if (!a) return false;
        if (a->size() != latency_bucket_count)
            return fail(path + ".buckets", "must hold " + std::to_string(latency_bucket_count) + " counts");
        std::uint64_t total = 0;
        for (std::size_t i = 0; i < a->size(); ++i) {
            if (!count((*a)[i], path + ".buckets[" + std::to_string(i) + "]", h.buckets[i])) return false;
            if (h.buckets[i] > u64_max - total) return fail(path + ".buckets", "add up to more than 2^64-1");
            total += h.buckets[i];
        }
        if (!count(*s, path + ".sum_ns", h.sum_ns) || !count(*c, path + ".count", h.count)) return false;
        if (h.count != total) return fail(path + ".count", "must equal the sum of the buckets");
        return true;
    }

private:
    std::string& error_;
};

template <typename E>
std::optional<std::size_t> as_index(std::optional<E> e) {
    if (!e) return std::nullopt;
    return static_cast<std::size_t>(*e);
}

bool read_provider(reader& rd, const json::value& v, const std::string& path, provider_metrics& p) {
    const auto* o = rd.object(v, path);
    if (!o) return false;
    const auto* name = o->if_contains("name");
    if (!name) return rd.fail(path, "needs a name");
    if (!rd.text(*name, path + ".name", p.name, max_provider_name_size)) return false;
    auto& c = p.counters;
    if (const auto* f = o->if_contains("requests")) {
        if (!rd.counts(*f, path + ".requests", c.requests,
                       [](std::string_view s) { return as_index(status_class_from_string(s)); }))
            return false;
    }
    if (const auto* f = o->if_contains("attempts")) {
        if (!rd.counts(*f, path + ".attempts", c.attempts,
                       [](std::string_view s) { return as_index(attempt_result_from_string(s)); }))
            return false;
    }
    if (const auto* f = o->if_contains("failovers")) {
        if (!rd.counts(*f, path + ".failovers", c.failovers, [](std::string_view s) -> std::optional<std::size_t> {
                auto r = failure_reason_from_snake(s);
                if (!r) return std::nullopt;
                return index_of(*r);
            }))
            return false;
    }
    if (const auto* f = o->if_contains("ttfb"); f && !rd.histogram(*f, path + ".ttfb", c.ttfb)) return false;
    if (const auto* f = o->if_contains("duration"); f && !rd.histogram(*f, path + ".duration", c.duration))
        return false;
    if (const auto* f = o->if_contains("tokens")) {
        if (!rd.counts(*f, path + ".tokens", c.tokens,
                       [](std::string_view s) { return as_index(token_kind_from_string(s)); }))
            return false;
    }
    if (const auto* f = o->if_contains("unknown_usage"); f && !rd.count(*f, path + ".unknown_usage", c.unknown_usage))
        return false;

    const auto* state = o->if_contains("state");
    const auto* breaker = o->if_contains("breaker");
    const auto* current = o->if_contains("current");
    if (state || breaker || current) {
        if (!state || !breaker || !current) return rd.fail(path, "gauges need state, breaker and current together");
        std::string st, br;
        bool cur = false;
        if (!rd.text(*state, path + ".state", st, 32) || !rd.text(*breaker, path + ".breaker", br, 32) ||
            !rd.boolean(*current, path + ".current", cur))
            return false;
        auto a = provider_availability_from_string(st);
        auto b = breaker_state_from_string(br);
        if (a && b) p.gauges = provider_gauges{*a, *b, cur}; // else a state this build does not know: skipped
    }
    return true;
}

bool read_switch(reader& rd, const json::value& v, provider_switch& s) {
    const std::string path = "last_switch";
    const auto* o = rd.object(v, path);
    if (!o) return false;
    const auto* t = o->if_contains("time_ms");
    const auto* from = o->if_contains("from");
    const auto* to = o->if_contains("to");
    const auto* reason = o->if_contains("reason");
    if (!t || !from || !to || !reason) return rd.fail(path, "needs time_ms, from, to and reason");
    if (!rd.int64(*t, path + ".time_ms", s.time_ms) ||
        !rd.text(*from, path + ".from", s.from, max_provider_name_size) ||
        !rd.text(*to, path + ".to", s.to, max_provider_name_size) ||
        !rd.text(*reason, path + ".reason", s.reason, max_switch_reason_size))
        return false;
    s.reason = printable_ascii(s.reason, max_switch_reason_size);
    return true;
}

} // namespace

// ---- vocabulary ----

status_class classify_status(int status) {
    if (status >= 200 && status < 300) return status_class::s2xx;
    if (status >= 300 && status < 400) return status_class::s3xx;
    if (status >= 400 && status < 500) return status_class::s4xx;
    if (status >= 500 && status < 600) return status_class::s5xx;
    return status_class::error;
}

std::string_view to_string(status_class c) {
    switch (c) {
    case status_class::s2xx: return "2xx";
    case status_class::s3xx: return "3xx";
    case status_class::s4xx: return "4xx";
    case status_class::s5xx: return "5xx";
    case status_class::error: return "error";
    }
    return "error";
}

namespace {
template <typename E, std::size_t N>
std::optional<E> by_name(std::string_view s) {
    for (std::size_t i = 0; i < N; ++i)
        if (to_string(static_cast<E>(i)) == s) return static_cast<E>(i);
    return std::nullopt;
}
} // namespace

std::optional<status_class> status_class_from_string(std::string_view s) {
    return by_name<status_class, status_class_count>(s);
}

attempt_result to_attempt_result(failure_reason r) {
    switch (r) {
    case failure_reason::connect: return attempt_result::connect;
    case failure_reason::tls: return attempt_result::tls;
    case failure_reason::write: return attempt_result::write;
    case failure_reason::reset: return attempt_result::reset;
    case failure_reason::header_timeout: return attempt_result::header_timeout;
    case failure_reason::idle_timeout: return attempt_result::idle_timeout;
    case failure_reason::bad_response: return attempt_result::bad_response;
    case failure_reason::auth: return attempt_result::auth;
    case failure_reason::billing: return attempt_result::billing;
    case failure_reason::quota: return attempt_result::quota;
    case failure_reason::rate_limited: return attempt_result::rate_limited;
    case failure_reason::overloaded: return attempt_result::overloaded;
    case failure_reason::server_error: return attempt_result::server_error;
    case failure_reason::context_length: return attempt_result::context_length;
    case failure_reason::first_byte_timeout: return attempt_result::first_byte_timeout;
    }
    return attempt_result::bad_response;
}

std::string_view to_string(attempt_result r) {
    switch (r) {
    case attempt_result::ok: return "ok";
    case attempt_result::connect: return "connect";
    case attempt_result::tls: return "tls";
    case attempt_result::write: return "write";
    case attempt_result::reset: return "reset";
    case attempt_result::header_timeout: return "header_timeout";
    case attempt_result::idle_timeout: return "idle_timeout";
    case attempt_result::bad_response: return "bad_response";
    case attempt_result::auth: return "auth";
    case attempt_result::billing: return "billing";
    case attempt_result::quota: return "quota";
    case attempt_result::rate_limited: return "rate_limited";
    case attempt_result::overloaded: return "overloaded";
    case attempt_result::server_error: return "server_error";
    case attempt_result::context_length: return "context_length";
    case attempt_result::first_byte_timeout: return "first_byte_timeout";
    case attempt_result::client_closed: return "client_closed";
    }
    return "unknown";
}
static_assert(static_cast<std::size_t>(attempt_result::client_closed) + 1 == attempt_result_count);

std::optional<attempt_result> attempt_result_from_string(std::string_view s) {
    return by_name<attempt_result, attempt_result_count>(s);
}

std::size_t index_of(failure_reason r) { return static_cast<std::size_t>(r); }
static_assert(static_cast<std::size_t>(failure_reason::first_byte_timeout) + 1 == failure_reason_count,
              "a failure_reason was added: extend failure_reason_count, attempt_result and to_attempt_result");

std::string_view snake_name(failure_reason r) { return to_string(to_attempt_result(r)); }

std::optional<failure_reason> failure_reason_from_snake(std::string_view s) {
    for (std::size_t i = 0; i < failure_reason_count; ++i)
        if (snake_name(static_cast<failure_reason>(i)) == s) return static_cast<failure_reason>(i);
    return std::nullopt;
}

std::string_view to_string(token_kind k) {
    switch (k) {
    case token_kind::input: return "input";
    case token_kind::output: return "output";
    case token_kind::cache_read: return "cache_read";
    case token_kind::cache_write: return "cache_write";
    }
    return "unknown";
}

std::optional<token_kind> token_kind_from_string(std::string_view s) {
    return by_name<token_kind, token_kind_count>(s);
}

std::string_view to_string(provider_availability a) {
    switch (a) {
    case provider_availability::active: return "active";
    case provider_availability::cooling: return "cooling";
    case provider_availability::deactivated: return "deactivated";
    case provider_availability::open: return "open";
    }
    return "unknown";
}

std::optional<provider_availability> provider_availability_from_string(std::string_view s) {
    return by_name<provider_availability, provider_availability_count>(s);
}

std::string_view to_string(breaker_state b) {
    switch (b) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half-open";
    }
    return "unknown";
}

std::optional<breaker_state> breaker_state_from_string(std::string_view s) {
    return by_name<breaker_state, breaker_state_count>(s);
}

// ---- report ----

// The bounds in nanoseconds, so that no floating-point rounding decides a boundary.
constexpr auto latency_bounds_ns = [] {
    std::array<std::int64_t, latency_bucket_bounds.size()> a{};
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::int64_t>(latency_bucket_bounds[i] * 1e9 + 0.5);
    return a;
}();
static_assert(latency_bounds_ns[0] == 50'000'000 && latency_bounds_ns.back() == 300'000'000'000);

std::size_t latency_bucket_index(duration d) {
    // `le` is inclusive: 50 ms exactly falls in the 0.05 bucket.
    const auto ns = d.count();
    for (std::size_t i = 0; i < latency_bounds_ns.size(); ++i)
        if (ns <= latency_bounds_ns[i]) return i;
    return latency_bounds_ns.size();
}

void latency_histogram::observe(duration d) {
    if (d.count() < 0) d = duration::zero();
    const auto i = latency_bucket_index(d);
    buckets[i] = sat_add(buckets[i], 1);
    sum_ns = sat_add(sum_ns, static_cast<std::uint64_t>(d.count()));
    count = sat_add(count, 1);
}

void latency_histogram::add(const latency_histogram& other) {
    add_all(buckets, other.buckets);
    sum_ns = sat_add(sum_ns, other.sum_ns);
    count = sat_add(count, other.count);
}

bool provider_counters::empty() const {
    const auto hist_empty = [](const latency_histogram& h) { return h.count == 0 && h.sum_ns == 0; };
    return all_zero(requests) && all_zero(attempts) && all_zero(failovers) && hist_empty(ttfb) &&
           hist_empty(duration) && all_zero(tokens) && unknown_usage == 0;
}

void provider_counters::add(const provider_counters& other) {
    add_all(requests, other.requests);
    add_all(attempts, other.attempts);
    add_all(failovers, other.failovers);
    ttfb.add(other.ttfb);
    duration.add(other.duration);
    add_all(tokens, other.tokens);
    unknown_usage = sat_add(unknown_usage, other.unknown_usage);
}

provider_metrics& metrics_report::provider(std::string_view name) {
    for (auto& p : providers)
        if (p.name == name) return p;
    providers.push_back(provider_metrics{std::string(name), {}, std::nullopt});
    return providers.back();
}

const provider_metrics* metrics_report::find(std::string_view name) const {
    for (const auto& p : providers)
        if (p.name == name) return &p;
    return nullptr;
}

// ---- codec ----

std::string to_json(const metrics_report& r) {
    // One arena for the whole document, on the stack while it fits: each object and string
    // would otherwise be an allocation and a free.
    unsigned char first[16 * 1024];
    json::monotonic_resource arena(first, sizeof first);
    const json::storage_ptr sp(&arena);
    json::object root(sp);
    root.emplace("v", metrics_report_version);
    json::array providers(sp);
    for (const auto& p : r.providers) providers.push_back(provider_to_json(p, sp));
    root.emplace("providers", std::move(providers));
    root.emplace("open_connections", r.open_connections);
    if (r.last_switch) {
        const auto& s = *r.last_switch;
        root.emplace("last_switch", json::object({{"time_ms", s.time_ms},
                                                  {"from", clean_utf8(s.from, max_provider_name_size)},
                                                  {"to", clean_utf8(s.to, max_provider_name_size)},
                                                  {"reason", printable_ascii(s.reason, max_switch_reason_size)}},
                                                 sp));
    }
    if (r.usage_dropped != 0) root.emplace("usage_dropped", r.usage_dropped);
    return json::serialize(root);
}

metrics_report_parse_result parse_metrics_report(std::string_view text) {
    metrics_report_parse_result result;
    if (text.size() > max_report_json_size) {
        result.error = "report of " + std::to_string(text.size()) + " bytes is larger than " +
                       std::to_string(max_report_json_size);
        return result;
    }
    boost::system::error_code ec;
    json::parse_options opts; // strict JSON, depth <= 32, UTF-8 checked
    // One arena for the parsed document, on the stack while it fits, freed at once; what is
    // kept is copied out into the report.
    unsigned char first[16 * 1024];
    json::monotonic_resource arena(first, sizeof first);
    const json::value root = json::parse(text, ec, json::storage_ptr(&arena), opts);
    if (ec) {
        result.error = "not JSON: " + ec.message();
        return result;
    }
    std::string error;
    reader rd(error);
    metrics_report r;
    const auto fail = [&]() {
        result.error = error;
        return result;
    };
    const auto bad = [&](const std::string& path, std::string_view what) {
        rd.fail(path, what);
        return fail();
    };
    const auto* o = rd.object(root, "report");
    if (!o) return fail();
    const auto* v = o->if_contains("v");
    if (!v) return bad("v", "missing (the report format version)");
    if (const auto* i = v->if_int64(); !i || *i != metrics_report_version)
        return bad("v", "report format version " + json::serialize(*v) + " is not supported (this build reads " +
                            std::to_string(metrics_report_version) + ")");

    if (const auto* f = o->if_contains("providers")) {
        const auto* a = rd.array(*f, "providers");
        if (!a) return fail();
        if (a->size() > max_report_providers)
            return bad("providers", "more than " + std::to_string(max_report_providers) + " providers");
        r.providers.reserve(a->size());
        for (std::size_t i = 0; i < a->size(); ++i) {
            provider_metrics p;
            const auto path = "providers[" + std::to_string(i) + "]";
            if (!read_provider(rd, (*a)[i], path, p)) return fail();
            r.providers.push_back(std::move(p));
        }
        // Unique names (sorted copy: a thousand providers must not cost a million compares).
        std::vector<std::string_view> names;
        names.reserve(r.providers.size());
        for (const auto& p : r.providers) names.push_back(p.name);
        std::sort(names.begin(), names.end());
        if (auto dup = std::adjacent_find(names.begin(), names.end()); dup != names.end())
            return bad("providers", "provider \"" + std::string(*dup) + "\" appears twice");
    }
    if (const auto* f = o->if_contains("open_connections"); f && !rd.count(*f, "open_connections", r.open_connections))
        return fail();
    if (const auto* f = o->if_contains("last_switch"); f && !f->is_null()) {
        provider_switch s;
        if (!read_switch(rd, *f, s)) return fail();
        r.last_switch = std::move(s);
    }
    if (const auto* f = o->if_contains("usage_dropped"); f && !rd.count(*f, "usage_dropped", r.usage_dropped))
        return fail();
    result.value = std::move(r);
    return result;
}

// ---- worker side ----

worker_metrics::worker_metrics(const std::vector<std::string>& provider_names, std::size_t usage_rows_per_report)
    : usage_rows_per_report_(usage_rows_per_report) {
    for (const auto& n : provider_names) provider_id(n);
}

std::size_t worker_metrics::provider_id(std::string_view name) {
    for (std::size_t i = 0; i < providers_.size(); ++i)
        if (providers_[i].name == name) return i;
    if (name.empty() || name.size() > max_provider_name_size || providers_.size() >= max_report_providers)
        return no_provider;
    providers_.push_back(slot{std::string(name), {}, false});
    return providers_.size() - 1;
}

void worker_metrics::on_attempt(std::size_t provider, attempt_result r) {
    if (provider >= providers_.size()) return;
    auto& s = providers_[provider];
    auto& n = s.counters.attempts[static_cast<std::size_t>(r)];
    n = sat_add(n, 1);
    s.touched = true;
}

void worker_metrics::on_failover(std::size_t provider, failure_reason r) {
    if (provider >= providers_.size()) return;
    auto& s = providers_[provider];
    auto& n = s.counters.failovers[index_of(r)];
    n = sat_add(n, 1);
    s.touched = true;
}

void worker_metrics::on_request_done(std::size_t provider, int status, std::optional<duration> ttfb, duration total,
                                     const token_counts& tokens) {
    const auto cls = static_cast<std::size_t>(classify_status(status));
    if (provider >= providers_.size()) {
        unrouted_[cls] = sat_add(unrouted_[cls], 1);
        return;
    }
    auto& s = providers_[provider];
    auto& c = s.counters;
    s.touched = true;
    c.requests[cls] = sat_add(c.requests[cls], 1);
    if (ttfb) c.ttfb.observe(*ttfb);
    c.duration.observe(total);
    if (tokens.known()) {
        const auto put = [&](token_kind k, const std::optional<std::uint64_t>& v) {
            if (v) c.tokens[static_cast<std::size_t>(k)] = sat_add(c.tokens[static_cast<std::size_t>(k)], *v);
        };
        put(token_kind::input, tokens.input);
        put(token_kind::output, tokens.output);
        put(token_kind::cache_read, tokens.cache_read);
        put(token_kind::cache_write, tokens.cache_write);
    } else if (classify_status(status) == status_class::s2xx) {
        // Only a successful answer carries usage; an error answer without it is not "unknown".
        c.unknown_usage = sat_add(c.unknown_usage, 1);
    }
}

void worker_metrics::on_switch(std::int64_t time_ms, std::size_t from, std::size_t to, std::string_view reason) {
    const auto name = [&](std::size_t i) { return i < providers_.size() ? providers_[i].name : std::string(); };
    last_switch_ = provider_switch{time_ms, name(from), name(to), printable_ascii(reason, max_switch_reason_size)};
}

void worker_metrics::add_usage(const usage_row_view& row) {
    if (pending_rows_ >= max_pending_usage_rows) {
        usage_dropped_ = sat_add(usage_dropped_, 1);
        return;
    }
    if (usage_.empty() || !usage_.back().add(row)) {
        // A new block always takes its first row.
        usage_.emplace_back(usage_rows_per_report_);
        usage_.back().add(row);
    }
    ++pending_rows_;
}

metrics_report worker_metrics::take_report() {
    metrics_report r;
    for (auto& s : providers_) {
        if (!s.touched) continue;
        if (!s.counters.empty()) r.providers.push_back(provider_metrics{s.name, s.counters, std::nullopt});
        s.counters = provider_counters{};
        s.touched = false;
    }
    if (!all_zero(unrouted_)) {
        provider_metrics none;
        none.counters.requests = unrouted_;
        r.providers.push_back(std::move(none));
        unrouted_ = {};
    }
    r.usage_dropped = std::exchange(usage_dropped_, 0);
    r.last_switch = last_switch_;
    return r;
}

std::string worker_metrics::take_usage_rows() {
    if (usage_.empty()) return {};
    pending_rows_ -= usage_.front().rows();
    auto block = usage_.front().take();
    usage_.pop_front();
    return block;
}

} // namespace clipal
