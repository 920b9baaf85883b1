// JSON (de)serialisation of worker_config with Boost.JSON, using its non-throwing
// accessors only, so that a bad config_push is an error message, not an exception.
#include "ipc/config_codec.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <limits>

namespace clipal::ipc {
namespace json = boost::json;

namespace {

// The loader's bound (shared/config_loader.cpp): the worker's attempt budget relies on it.
constexpr std::uint64_t max_retries_per_provider = 5;

json::object provider_to_json(const provider_config& p) {
    return json::object{
        {"name", p.name},         {"base_url", p.base_url}, {"api_keys", json::value_from(p.api_keys)},
        {"priority", p.priority}, {"enabled", p.enabled},   {"auth_header", to_string(p.auth_header)},
        {"model", p.model},
    };
}

json::array providers_to_json(const std::vector<provider_config>& list) {
    json::array a;
    for (const auto& p : list) a.push_back(provider_to_json(p));
    return a;
}

// Reads the fields of one JSON object, remembering the first error with its path.
// Every getter returns false once an error is recorded, so callers chain with &&.
class object_reader {
public:
    object_reader(const json::object& o, std::string path, std::string& error)
        : obj_(o), path_(std::move(path)), error_(error) {}

    const json::value* field(std::string_view key) {
        seen_.push_back(key);
        const json::value* v = obj_.if_contains(key);
        if (!v) fail(key, "is missing");
        return v;
    }

    bool str(std::string_view key, std::string& out, bool non_empty = false) {
        const json::value* v = field(key);
        if (!v) return false;
        const json::string* s = v->if_string();
        if (!s) return fail(key, "must be a string");
        if (non_empty && s->empty()) return fail(key, "must not be empty");
        out.assign(s->data(), s->size());
        return true;
    }

    // `non_empty`: at least one element, and none empty (API keys). Messages never show an element.
    bool strings(std::string_view key, std::vector<std::string>& out, bool non_empty = false) {
        const json::value* v = field(key);
        if (!v) return false;
        const auto what = non_empty ? "must be a non-empty array of non-empty strings" : "must be an array of strings";
        const json::array* a = v->if_array();
        if (!a || (non_empty && a->empty())) return fail(key, what);
        out.clear();
        for (const auto& e : *a) {
            const json::string* s = e.if_string();
            if (!s || (non_empty && s->empty())) return fail(key, what);
            out.emplace_back(s->data(), s->size());
        }
        return true;
    }

    bool boolean(std::string_view key, bool& out) {
        const json::value* v = field(key);
        if (!v) return false;
        const bool* b = v->if_bool();
        if (!b) return fail(key, "must be true or false");
        out = *b;
        return true;
    }

    // An integer within [lo, hi].
    bool integer(std::string_view key, std::int64_t lo, std::uint64_t hi, std::uint64_t& out_u,
                 std::int64_t* out_s = nullptr) {
        const json::value* v = field(key);
        if (!v) return false;
        const auto range = [&] { return fail(key, fmt::format("must be an integer from {} to {}", lo, hi)); };
        if (const std::int64_t* i = v->if_int64()) {
            if (*i < lo || (*i >= 0 && static_cast<std::uint64_t>(*i) > hi)) return range();
            if (out_s) *out_s = *i;
            out_u = static_cast<std::uint64_t>(*i);
            return true;
        }
        if (const std::uint64_t* u = v->if_uint64()) {
            if (*u > hi) return range();
            if (out_s) *out_s = static_cast<std::int64_t>(*u);
            out_u = *u;
            return true;
        }
        return range();
    }

    template <class T>
    bool number(std::string_view key, T& out, std::int64_t lo, std::uint64_t hi) {
        std::uint64_t u = 0;
        std::int64_t s = 0;
        if (!integer(key, lo, hi, u, &s)) return false;
        out = std::is_signed_v<T> ? static_cast<T>(s) : static_cast<T>(u);
        return true;
    }

    bool nanoseconds(std::string_view key, duration& out) {
        std::int64_t ns = 0;
        if (!number(key, ns, 0, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) return false;
        out = duration(ns);
        return true;
    }

    // After all fields were read: any other key is an error.
    bool no_unknown_fields() {
        for (const auto& kv : obj_) {
            bool known = false;
            for (auto k : seen_) known = known || k == kv.key();
            if (!known) return fail(kv.key(), "is not a known field");
        }
        return error_.empty();
    }

    bool fail(std::string_view key, std::string_view what) {
        if (error_.empty()) error_ = fmt::format("{}{}{} {}", path_, path_.empty() ? "" : ".", key, what);
        return false;
    }

    const std::string& path() const { return path_; }

private:
    const json::object& obj_;
    std::string path_;
    std::string& error_;
    std::vector<std::string_view> seen_;
};

bool read_provider(const json::value& v, const std::string& path, provider_config& p, std::string& error) {
    const json::object* o = v.if_object();
    if (!o) {
        error = path + " must be an object";
        return false;
    }
    object_reader r(*o, path, error);
    std::string carrier;
    if (!(r.str("name", p.name, true) && r.str("base_url", p.base_url, true) &&
          r.strings("api_keys", p.api_keys, true) &&
          r.number("priority", p.priority, std::numeric_limits<int>::min(),
                   static_cast<std::uint64_t>(std::numeric_limits<int>::max())) &&
          r.boolean("enabled", p.enabled) && r.str("auth_header", carrier) && r.str("model", p.model)))
        return false;
    if (carrier == to_string(auth_carrier::automatic)) {
        p.auth_header = auth_carrier::automatic;
    } else if (auto a = auth_carrier_from_string(carrier)) {
        p.auth_header = *a;
    } else {
        return r.fail("auth_header",
                      fmt::format("is \"{}\", not automatic, x-api-key, bearer or x-goog-api-key", carrier));
    }
    return r.no_unknown_fields();
}

bool read_providers(object_reader& r, std::string_view key, std::vector<provider_config>& out, std::string& error) {
    const json::value* v = r.field(key);
    if (!v) return false;
    const json::array* a = v->if_array();
    if (!a) return r.fail(key, "must be an array");
    out.clear();
    for (std::size_t i = 0; i < a->size(); ++i) {
        provider_config p;
        if (!read_provider((*a)[i], fmt::format("{}[{}]", key, i), p, error)) return false;
        out.push_back(std::move(p));
    }
    return true;
}

bool read_global(const json::value& v, global_config& g, std::string& error) {
    const json::object* o = v.if_object();
    if (!o) {
        error = "global must be an object";
        return false;
    }
    object_reader r(*o, "global", error);
    std::string level;
    constexpr auto u64_max = std::numeric_limits<std::uint64_t>::max();
    if (!(r.str("listen_addr", g.listen_addr, true) && r.number("port", g.port, 1, 65535) && r.str("log_level", level)))
        return false;
    if (auto l = log_level_from_string(level))
        g.level = *l;
    else
        return r.fail("log_level", fmt::format("is \"{}\", not debug, info, warn or error", level));
    return r.nanoseconds("reactivate_after_ns", g.reactivate_after) &&
           r.nanoseconds("upstream_idle_timeout_ns", g.upstream_idle_timeout) &&
           r.nanoseconds("response_header_timeout_ns", g.response_header_timeout) &&
           r.nanoseconds("stream_first_byte_timeout_ns", g.stream_first_byte_timeout) &&
           r.number("retries_per_provider", g.retries_per_provider, 0, max_retries_per_provider) &&
           r.nanoseconds("max_inline_wait_ns", g.max_inline_wait) && r.boolean("failback", g.failback) &&
           r.number("max_request_body_bytes", g.max_request_body_bytes, 1, u64_max) &&
           r.number("request_body_budget_bytes", g.request_body_budget_bytes, 1, u64_max) &&
           r.number("max_connections", g.max_connections, 1, max_connections_limit) && r.str("log_dir", g.log_dir) &&
           r.number("log_retention_days", g.log_retention_days, 0,
                    static_cast<std::uint64_t>(std::numeric_limits<int>::max())) &&
           r.boolean("log_stdout", g.log_stdout) &&
           r.boolean("ignore_count_tokens_failover", g.ignore_count_tokens_failover) &&
           r.strings("allowed_hosts", g.allowed_hosts) && r.strings("allowed_origins", g.allowed_origins) &&
           r.str("access_token", g.access_token) && r.no_unknown_fields();
}

} // namespace

std::string to_json(const worker_config& c) {
    const global_config& g = c.global;
    json::object global{
        {"listen_addr", g.listen_addr},
        {"port", g.port},
        {"log_level", to_string(g.level)},
        {"reactivate_after_ns", g.reactivate_after.count()},
        {"upstream_idle_timeout_ns", g.upstream_idle_timeout.count()},
        {"response_header_timeout_ns", g.response_header_timeout.count()},
        {"stream_first_byte_timeout_ns", g.stream_first_byte_timeout.count()},
        {"retries_per_provider", g.retries_per_provider},
        {"max_inline_wait_ns", g.max_inline_wait.count()},
        {"failback", g.failback},
        {"max_request_body_bytes", g.max_request_body_bytes},
        {"request_body_budget_bytes", g.request_body_budget_bytes},
        {"max_connections", g.max_connections},
        {"log_dir", g.log_dir},
        {"log_retention_days", g.log_retention_days},
        {"log_stdout", g.log_stdout},
        {"ignore_count_tokens_failover", g.ignore_count_tokens_failover},
        {"allowed_hosts", json::value_from(g.allowed_hosts)},
        {"allowed_origins", json::value_from(g.allowed_origins)},
        {"access_token", g.access_token},
    };
    json::object root{
        {"profile", info(c.profile.id).name},
        {"providers", providers_to_json(c.profile.providers)},
        {"disabled", providers_to_json(c.profile.disabled)},
        {"global", std::move(global)},
        {"keep_state", c.keep_state},
    };
    return json::serialize(root);
}

worker_config_parse_result parse_worker_config(std::string_view text) {
    worker_config_parse_result result;
    boost::system::error_code ec;
    const json::value root = json::parse(text, ec);
    if (ec) {
        result.error = "config is not valid JSON: " + ec.message();
        return result;
    }
    const json::object* o = root.if_object();
    if (!o) {
        result.error = "config must be a JSON object";
        return result;
    }
    worker_config c;
    object_reader r(*o, "", result.error);
    std::string name;
    if (!r.str("profile", name)) return result;
    if (auto p = profile_from_name(name)) {
        c.profile.id = *p;
    } else {
        r.fail("profile", fmt::format("is \"{}\", not claude-code, codex or gemini", name));
        return result;
    }
    if (!(read_providers(r, "providers", c.profile.providers, result.error) &&
          read_providers(r, "disabled", c.profile.disabled, result.error)))
        return result;
    const json::value* g = r.field("global");
    if (!g || !read_global(*g, c.global, result.error) || !r.boolean("keep_state", c.keep_state) ||
        !r.no_unknown_fields())
        return result;
    result.value = std::move(c);
    return result;
}

} // namespace clipal::ipc
