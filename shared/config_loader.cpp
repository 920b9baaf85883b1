#include "shared/config_loader.hpp"

#include "shared/request_guard.hpp"
#include "shared/text.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>

namespace clipal {
namespace {

// Bounds of the failover v2 settings (SPEC §4 policies); ipc/config_codec.cpp checks the same.
constexpr long long max_retries_per_provider = 5;
constexpr duration max_inline_wait_limit = std::chrono::seconds(60);

// Collects issues for one file with the line of the node they are about.
struct reporter {
    const std::string& file;
    std::vector<config_issue>& errors;

    void error(const YAML::Node& at, std::string field, std::string message) const {
        const int line = at.IsDefined() ? at.Mark().line + 1 : 0;
        errors.push_back({file, line > 0 ? line : 0, std::move(field), std::move(message)});
    }
};

std::string describe(const YAML::Node& n) {
    if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    return "nothing";
}

bool is_null(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

void reject_unknown(const YAML::Node& map, const std::set<std::string_view>& known, const std::string& prefix,
                    const reporter& rep) {
    for (const auto& kv : map) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string("<non-scalar key>");
        if (!known.contains(key)) {
            std::string list;
            for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            rep.error(kv.first, prefix + key, "unknown field (known fields: " + list + ")");
        }
    }
}

std::optional<std::string> get_string(const YAML::Node& n, const std::string& field, const reporter& rep) {
    if (!n.IsScalar()) {
        rep.error(n, field, "must be a string, got " + describe(n));
        return std::nullopt;
    }
    // Workers get the config as JSON, whose strings are UTF-8: refuse here what they could not read.
    if (!is_utf8(n.Scalar())) {
        rep.error(n, field, "is not UTF-8 text (save the file as UTF-8)");
        return std::nullopt;
    }
    return n.Scalar();
}

template <class Int>
std::optional<Int> get_int(const YAML::Node& n, const std::string& field, const reporter& rep) {
    if (n.IsScalar()) {
        try {
            return n.as<Int>();
        } catch (const YAML::Exception&) {}
    }
    rep.error(n, field, "must be a whole number, got " + describe(n));
    return std::nullopt;
}

std::optional<bool> get_bool(const YAML::Node& n, const std::string& field, const reporter& rep) {
    if (n.IsScalar()) {
        try {
            return n.as<bool>();
        } catch (const YAML::Exception&) {}
    }
    rep.error(n, field, "must be true or false, got " + describe(n));
    return std::nullopt;
}

std::optional<duration> get_duration(const YAML::Node& n, const std::string& field, const reporter& rep) {
    if (!n.IsScalar()) {
        rep.error(n, field, "must be a duration such as 90s, 1h30m or 0, got " + describe(n));
        return std::nullopt;
    }
    auto r = parse_duration(n.Scalar());
    if (!r.value) rep.error(n, field, r.error);
    return r.value;
}

// Parses YAML text into a root node; an empty document is an empty mapping.
std::optional<YAML::Node> parse_root(std::string_view text, const std::string& file,
                                     std::vector<config_issue>& errors) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
        errors.push_back({file, e.mark.line >= 0 ? e.mark.line + 1 : 0, "", "not valid YAML: " + e.msg});
        return std::nullopt;
    } catch (const YAML::Exception& e) {
        errors.push_back({file, 0, "", std::string("not valid YAML: ") + e.what()});
        return std::nullopt;
    }
    if (is_null(root)) return YAML::Node(YAML::NodeType::Map);
    if (!root.IsMap()) {
        errors.push_back(
            {file, root.Mark().line + 1, "", "the file must be a mapping of fields, got " + describe(root)});
        return std::nullopt;
    }
    return root;
}

// A key is sent in an HTTP header: anything that could split or fold the header is refused.
bool key_is_header_safe(std::string_view key) {
    return std::all_of(key.begin(), key.end(), [](unsigned char c) { return c > 0x20 && c < 0x7f; });
}

// One key of a provider: `field` names it in messages, which never repeat the key itself.
std::optional<std::string> get_key(const YAML::Node& n, const std::string& field, const reporter& rep) {
    auto s = get_string(n, field, rep);
    if (!s) return std::nullopt;
    if (s->empty()) {
        rep.error(n, field, "must not be empty");
        return std::nullopt;
    }
    if (!key_is_header_safe(*s)) {
        rep.error(n, field, "contains spaces or control characters; check for a stray newline or quote");
        return std::nullopt;
    }
    return s;
}

// `api_key: K` or `api_keys: [K1, K2, ...]`, exactly one of them (the missing case is
// reported with the other required fields).
void parse_keys(const YAML::Node& item, const std::string& at, const reporter& rep, std::vector<std::string>& out) {
    const YAML::Node one = item["api_key"];
    const YAML::Node list = item["api_keys"];
    if (!is_null(one) && !is_null(list)) {
        rep.error(list, at + ".api_keys",
                  "api_key and api_keys are both set; use api_key for one key or api_keys for several, not both");
        return;
    }
    if (!is_null(one)) {
        if (auto k = get_key(one, at + ".api_key", rep)) out.push_back(std::move(*k));
        return;
    }
    if (is_null(list)) return;
    if (!list.IsSequence()) {
        // Never describe(list): a scalar here is most likely a key.
        rep.error(list, at + ".api_keys",
                  std::string("must be a list of keys, e.g. [KEY1, KEY2], got ") +
                      (list.IsScalar() ? "a single value (write api_key: KEY for one key)" : "a mapping"));
        return;
    }
    if (list.size() == 0) {
        rep.error(list, at + ".api_keys", "must list at least one key");
        return;
    }
    std::vector<std::size_t> index; // of each key of `out` in the list
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string field = at + ".api_keys[" + std::to_string(i) + "]";
        auto k = get_key(list[i], field, rep);
        if (!k) continue;
        if (auto same = std::find(out.begin(), out.end(), *k); same != out.end()) {
            const auto first = index[static_cast<std::size_t>(same - out.begin())];
            rep.error(list[i], field, "is the same key as api_keys[" + std::to_string(first) + "]; list each key once");
            continue;
        }
        out.push_back(std::move(*k));
        index.push_back(i);
    }
}

// `model`: what is wrong with a provider's model override, or "" when it is fine. It
// replaces a JSON string in every profile; for Gemini it is also a path segment
// (`models/NAME:generateContent`), so there it must not change the path's meaning.
std::string model_problem(profile p, std::string_view model) {
    if (model.empty()) return "must not be empty (remove the line to send each request's own model)";
    for (unsigned char c : model)
        if (c <= 0x20 || c == 0x7f) return "contains spaces or control characters; check for a stray newline or quote";
    if (p != profile::gemini) return {};
    if (model.find_first_not_of('.') == std::string_view::npos)
        return "must not be only dots (it is placed in the Gemini request path as models/NAME:)";
    for (unsigned char c : model) {
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                c == '-' || c == '.' || c == '_' || c == '~';
        const bool sub_delim = std::string_view("!$&'()*+,;=@").find(static_cast<char>(c)) != std::string_view::npos;
        if (!unreserved && !sub_delim)
            return c >= 0x80 ? std::string("must be ASCII (it is placed in the Gemini request path as models/NAME:)")
                             : "must not contain \"" + std::string(1, static_cast<char>(c)) +
                                   "\" (it is placed in the Gemini request path as models/NAME:; use letters, digits "
                                   "and - . _)";
    }
    return {};
}

// allowed_hosts / allowed_origins: a list of strings, each stored in the form the request
// guard compares (canonical_host / normalize_origin).
void parse_guard_list(const YAML::Node& v, const std::string& key, const reporter& rep, std::vector<std::string>& out) {
    if (is_null(v)) return;
    if (!v.IsSequence()) {
        rep.error(v, key, "must be a list, e.g. [\"clipal.lan\"], got " + describe(v));
        return;
    }
    const bool hosts = key == "allowed_hosts";
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string at = key + "[" + std::to_string(i) + "]";
        auto s = get_string(v[i], at, rep);
        if (!s) continue;
        if (hosts) {
            const bool has_port = s->find(':') != std::string::npos && s->find(':') == s->rfind(':');
            auto host = canonical_host(*s);
            if (!host || has_port || (s->starts_with('[') && s->find("]:") != std::string::npos))
                rep.error(v[i], at,
                          "must be a host name or IP address without port or scheme (any port is accepted), got \"" +
                              *s + "\"");
            else
                out.push_back(std::move(*host));
        } else if (auto why = normalize_origin(*s); !why.empty()) {
            rep.error(v[i], at, why);
        } else {
            out.push_back(std::move(*s));
        }
    }
}

// One price of `prices:`: a finite number >= 0 (currency units per million tokens).
std::optional<double> get_price(const YAML::Node& n, const std::string& field, const reporter& rep) {
    if (n.IsScalar()) {
        try {
            const auto d = n.as<double>();
            if (std::isfinite(d) && d >= 0) return d;
        } catch (const YAML::Exception&) {}
    }
    rep.error(n, field, "must be a number of at least 0 (the price per million tokens), got " + describe(n));
    return std::nullopt;
}

// `prices:` maps a model name (as sent upstream) to its prices per million tokens:
// `claude-sonnet-4-5: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}`.
void parse_prices(const YAML::Node& v, const reporter& rep, std::map<std::string, model_price, std::less<>>& out) {
    if (is_null(v)) return;
    if (!v.IsMap()) {
        rep.error(v, "prices",
                  "must be a mapping of model names to prices, e.g. {gpt-5: {input: 1.25, output: 10}}, got " +
                      describe(v));
        return;
    }
    static const std::set<std::string_view> kinds{"input", "output", "cache_read", "cache_write"};
    for (const auto& kv : v) {
        const YAML::Node& name_node = kv.first;
        if (!name_node.IsScalar()) {
            rep.error(name_node, "prices", "a model name must be a string, got " + describe(name_node));
            continue;
        }
        const auto name = get_string(name_node, "prices", rep);
        if (!name) continue;
        if (name->empty()) {
            rep.error(name_node, "prices", "a model name must not be empty");
            continue;
        }
        const std::string at = "prices." + *name;
        if (out.contains(*name)) {
            rep.error(name_node, at, "is listed twice; list each model once");
            continue;
        }
        const YAML::Node& price = kv.second;
        if (!price.IsMap()) {
            rep.error(is_null(price) ? name_node : price, at,
                      "must be a mapping of prices per million tokens, e.g. {input: 3, output: 15, cache_read: 0.3, "
                      "cache_write: 3.75}, got " +
                          describe(price));
            continue;
        }
        const auto errors_before = rep.errors.size();
        reject_unknown(price, kinds, at + ".", rep);
        model_price mp;
        const std::pair<const char*, double*> fields[] = {{"input", &mp.input},
                                                          {"output", &mp.output},
                                                          {"cache_read", &mp.cache_read},
                                                          {"cache_write", &mp.cache_write}};
        for (const auto& [kind, target] : fields) {
            const YAML::Node n = price[kind];
            if (is_null(n)) continue;
            if (auto d = get_price(n, at + "." + kind, rep)) *target = *d;
        }
        if (rep.errors.size() == errors_before) out.emplace(*name, mp);
    }
}

std::optional<std::string> read_file(const std::filesystem::path& p, std::string& error) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        error = "cannot be read";
        return std::nullopt;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

std::string config_issue::to_string() const {
    std::string s = file;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    if (!field.empty()) s += field + ": ";
    return s + message;
}

std::string_view to_string(log_level l) {
    switch (l) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
    }
    return "info";
}

std::optional<log_level> log_level_from_string(std::string_view s) {
    for (auto l : {log_level::debug, log_level::info, log_level::warn, log_level::error})
        if (to_string(l) == s) return l;
    return std::nullopt;
}

std::string_view to_string(auth_carrier a) {
    switch (a) {
    case auth_carrier::automatic: return "automatic";
    case auth_carrier::x_api_key: return "x-api-key";
    case auth_carrier::bearer: return "bearer";
    case auth_carrier::x_goog_api_key: return "x-goog-api-key";
    }
    return "automatic";
}

std::optional<auth_carrier> auth_carrier_from_string(std::string_view s) {
    for (auto a : {auth_carrier::x_api_key, auth_carrier::bearer, auth_carrier::x_goog_api_key})
        if (to_string(a) == s) return a;
    return std::nullopt;
}

std::optional<base_url> normalize_base_url(std::string& url, std::string& error) {
    if (url.find("://") == std::string::npos) url = "https://" + url;
    return parse_base_url(url, error);
}

global_config parse_global_yaml(std::string_view text, const std::string& file, std::vector<config_issue>& errors) {
    global_config g;
    const reporter rep{file, errors};
    auto root = parse_root(text, file, errors);
    if (!root) return g;
    reject_unknown(*root,
                   {"listen_addr",
                    "port",
                    "log_level",
                    "reactivate_after",
                    "upstream_idle_timeout",
                    "response_header_timeout",
                    "max_request_body_bytes",
                    "request_body_budget_bytes",
                    "log_dir",
                    "log_retention_days",
                    "log_stdout",
                    "ignore_count_tokens_failover",
                    "allowed_hosts",
                    "allowed_origins",
                    "access_token",
                    "max_connections",
                    "stream_first_byte_timeout",
                    "retries_per_provider",
                    "max_inline_wait",
                    "failback",
                    "usage_retention_days",
                    "prices"},
                   "", rep);
    for (const auto& kv : *root) {
        const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
        const YAML::Node& v = kv.second;
        if (key == "listen_addr") {
            if (auto s = get_string(v, key, rep)) {
                if (s->empty())
                    rep.error(v, key, "must not be empty (use 127.0.0.1 for this machine only)");
                else
                    g.listen_addr = *s;
            }
        } else if (key == "port") {
            if (auto p = get_int<long long>(v, key, rep)) {
                if (*p < 1 || *p > 65535)
                    rep.error(v, key, "must be between 1 and 65535, got " + std::to_string(*p));
                else
                    g.port = static_cast<std::uint16_t>(*p);
            }
        } else if (key == "log_level") {
            if (auto s = get_string(v, key, rep)) {
                if (auto l = log_level_from_string(*s))
                    g.level = *l;
                else
                    rep.error(v, key, "must be one of debug, info, warn, error (got \"" + *s + "\")");
            }
        } else if (key == "reactivate_after") {
            if (auto d = get_duration(v, key, rep)) g.reactivate_after = *d;
        } else if (key == "upstream_idle_timeout") {
            if (auto d = get_duration(v, key, rep)) g.upstream_idle_timeout = *d;
        } else if (key == "response_header_timeout") {
            if (auto d = get_duration(v, key, rep)) {
                if (*d == duration::zero())
                    rep.error(v, key, "must be greater than 0 (waiting for an upstream's headers is always bounded)");
                else
                    g.response_header_timeout = *d;
            }
        } else if (key == "stream_first_byte_timeout") {
            if (auto d = get_duration(v, key, rep)) g.stream_first_byte_timeout = *d;
        } else if (key == "retries_per_provider") {
            if (auto n = get_int<long long>(v, key, rep)) {
                if (*n < 0 || *n > max_retries_per_provider)
                    rep.error(v, key,
                              "must be between 0 and " + std::to_string(max_retries_per_provider) +
                                  " (0 = move to the next provider at once), got " + std::to_string(*n));
                else
                    g.retries_per_provider = static_cast<unsigned>(*n);
            }
        } else if (key == "max_inline_wait") {
            if (auto d = get_duration(v, key, rep)) {
                if (*d > max_inline_wait_limit)
                    rep.error(v, key,
                              "must be at most " + format_duration(max_inline_wait_limit) +
                                  " (0 disables inline waits), got " + format_duration(*d));
                else
                    g.max_inline_wait = *d;
            }
        } else if (key == "failback") {
            if (auto b = get_bool(v, key, rep)) g.failback = *b;
        } else if (key == "max_request_body_bytes" || key == "request_body_budget_bytes") {
            if (auto n = get_int<long long>(v, key, rep)) {
                if (*n < 1)
                    rep.error(v, key, "must be at least 1, got " + std::to_string(*n));
                else
                    (key == "max_request_body_bytes" ? g.max_request_body_bytes : g.request_body_budget_bytes) =
                        static_cast<std::uint64_t>(*n);
            }
        } else if (key == "max_connections") {
            if (auto n = get_int<long long>(v, key, rep)) {
                if (*n < 1 || static_cast<unsigned long long>(*n) > max_connections_limit)
                    rep.error(v, key,
                              "must be between 1 and " + std::to_string(max_connections_limit) + ", got " +
                                  std::to_string(*n));
                else
                    g.max_connections = static_cast<std::uint64_t>(*n);
            }
        } else if (key == "log_dir") {
            if (is_null(v)) continue;
            if (auto s = get_string(v, key, rep)) g.log_dir = *s;
        } else if (key == "log_retention_days") {
            if (auto n = get_int<long long>(v, key, rep)) {
                if (*n < 0 || *n > 100000)
                    rep.error(v, key, "must be 0 (keep all) or a number of days, got " + std::to_string(*n));
                else
                    g.log_retention_days = static_cast<int>(*n);
            }
        } else if (key == "usage_retention_days") {
            if (auto n = get_int<long long>(v, key, rep)) {
                if (*n < 0 || *n > 100000)
                    rep.error(v, key, "must be 0 (keep forever) or a number of days, got " + std::to_string(*n));
                else
                    g.usage_retention_days = static_cast<int>(*n);
            }
        } else if (key == "prices") {
            parse_prices(v, rep, g.prices);
        } else if (key == "log_stdout") {
            if (auto b = get_bool(v, key, rep)) g.log_stdout = *b;
        } else if (key == "ignore_count_tokens_failover") {
            if (auto b = get_bool(v, key, rep)) g.ignore_count_tokens_failover = *b;
        } else if (key == "allowed_hosts" || key == "allowed_origins") {
            parse_guard_list(v, key, rep, key == "allowed_hosts" ? g.allowed_hosts : g.allowed_origins);
        } else if (key == "access_token") {
            if (auto s = get_string(v, key, rep)) {
                if (s->empty())
                    rep.error(v, key, "must not be empty (remove the line to accept requests without a token)");
                else if (!key_is_header_safe(*s))
                    rep.error(v, key, "contains spaces or control characters; check for a stray newline or quote");
                else
                    g.access_token = *s;
            }
        }
    }
    if (g.request_body_budget_bytes < g.max_request_body_bytes &&
        root->operator[]("request_body_budget_bytes").IsDefined())
        rep.error((*root)["request_body_budget_bytes"], "request_body_budget_bytes",
                  "must be at least max_request_body_bytes (" + std::to_string(g.max_request_body_bytes) + ")");
    else if (g.request_body_budget_bytes < g.max_request_body_bytes)
        g.request_body_budget_bytes = g.max_request_body_bytes;
    return g;
}

profile_config parse_profile_yaml(profile p, std::string_view text, const std::string& file,
                                  std::vector<config_issue>& errors, std::vector<config_issue>* warnings) {
    profile_config pc;
    pc.id = p;
    const reporter rep{file, errors};
    auto root = parse_root(text, file, errors);
    if (!root) return pc;
    reject_unknown(*root, {"providers"}, "", rep);
    const YAML::Node list = (*root)["providers"];
    if (is_null(list)) return pc;
    if (!list.IsSequence()) {
        rep.error(list, "providers", "must be a list of providers, got " + describe(list));
        return pc;
    }
    std::vector<provider_config> all;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const YAML::Node item = list[i];
        const std::string at = "providers[" + std::to_string(i) + "]";
        if (!item.IsMap()) {
            rep.error(item, at, "must be a mapping with name, base_url and api_key, got " + describe(item));
            continue;
        }
        const std::size_t errors_before = errors.size();
        reject_unknown(item, {"name", "base_url", "api_key", "api_keys", "priority", "enabled", "auth_header", "model"},
                       at + ".", rep);
        provider_config pr;
        for (const char* required : {"name", "base_url"}) {
            if (is_null(item[required])) rep.error(item, at + "." + required, "is required");
        }
        if (is_null(item["api_key"]) && is_null(item["api_keys"]))
            rep.error(item, at + ".api_key", "is required (or api_keys: [KEY1, KEY2, ...] for several keys)");
        if (auto n = item["name"]; !is_null(n)) {
            if (auto s = get_string(n, at + ".name", rep)) {
                if (s->empty())
                    rep.error(n, at + ".name", "must not be empty");
                else if (!names.insert(*s).second)
                    rep.error(n, at + ".name",
                              "\"" + *s + "\" is used by another provider in this file; names must be unique");
                pr.name = *s;
            }
        }
        // The worker parses base_url with the same validator: what passes here, it can use.
        std::optional<base_url> url;
        const auto of_provider = pr.name.empty() ? std::string() : " (provider \"" + pr.name + "\")";
        if (auto n = item["base_url"]; !is_null(n)) {
            if (auto s = get_string(n, at + ".base_url", rep)) {
                pr.base_url = *s;
                std::string why;
                url = normalize_base_url(pr.base_url, why);
                if (!url) rep.error(n, at + ".base_url", why + of_provider);
            }
        }
        parse_keys(item, at, rep, pr.api_keys);
        if (auto n = item["priority"]; !is_null(n)) {
            if (auto v = get_int<int>(n, at + ".priority", rep)) pr.priority = *v;
        }
        if (auto n = item["enabled"]; !is_null(n)) {
            if (auto v = get_bool(n, at + ".enabled", rep)) pr.enabled = *v;
        }
        if (auto n = item["auth_header"]; !is_null(n)) {
            if (auto s = get_string(n, at + ".auth_header", rep)) {
                if (auto a = auth_carrier_from_string(*s))
                    pr.auth_header = *a;
                else
                    rep.error(n, at + ".auth_header",
                              "must be one of x-api-key, bearer, x-goog-api-key (got \"" + *s + "\")");
            }
        }
        if (auto n = item["model"]; !is_null(n)) {
            if (auto s = get_string(n, at + ".model", rep)) {
                if (auto why = model_problem(p, *s); !why.empty())
                    rep.error(n, at + ".model", why);
                else
                    pr.model = *s;
            }
        }
        if (errors.size() == errors_before && warnings && pr.enabled && url && !url->tls && !url->loopback) {
            // Plain http is fine to a relay on this machine; beyond it anyone on the path reads the key.
            warnings->push_back({file, item["base_url"].Mark().line + 1, at + ".base_url",
                                 pr.base_url +
                                     " sends the API key and every prompt unencrypted to a host that is not this "
                                     "machine; use https://" +
                                     of_provider});
        }
        if (errors.size() == errors_before) all.push_back(std::move(pr));
    }
    for (auto& pr : all) (pr.enabled ? pc.providers : pc.disabled).push_back(pr);
    std::stable_sort(pc.providers.begin(), pc.providers.end(),
                     [](const provider_config& a, const provider_config& b) { return a.priority < b.priority; });
    return pc;
}

std::filesystem::path resolve_config_dir(const std::optional<std::string>& flag) {
    if (flag && !flag->empty()) return *flag;
    if (const char* env = std::getenv("CLIPAL_CONFIG_DIR"); env && *env) return env;
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home && *home ? home : ".") / ".clipal";
}

config_load_result load_config(const std::filesystem::path& dir, const config_overrides& overrides) {
    config_load_result out;
    config cfg;
    cfg.dir = dir.string();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        out.errors.push_back(
            {dir.string(), 0, "", "config directory does not exist (create it, or pass --config-dir)"});
        return out;
    }
    auto load_one = [&](std::string_view name) -> std::optional<std::string> {
        const auto path = dir / name;
        if (!std::filesystem::exists(path, ec)) return std::nullopt;
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
            out.warnings.push_back(
                {path.string(), 0, "",
                 "is readable by group or others and may hold API keys; run: chmod 600 " + path.string()});
        std::string why;
        auto text = read_file(path, why);
        if (!text) out.errors.push_back({path.string(), 0, "", why});
        return text;
    };
    if (auto text = load_one("config.yaml"))
        cfg.global = parse_global_yaml(*text, (dir / "config.yaml").string(), out.errors);
    for (const auto& p : all_profiles)
        if (auto text = load_one(p.file))
            cfg.of(p.id) = parse_profile_yaml(p.id, *text, (dir / p.file).string(), out.errors, &out.warnings);

    if (overrides.listen_addr) {
        if (overrides.listen_addr->empty())
            out.errors.push_back({"--listen-addr", 0, "", "must not be empty"});
        else
            cfg.global.listen_addr = *overrides.listen_addr;
    }
    if (const auto& t = cfg.global.access_token; !t.empty() && t.size() < 16)
        out.warnings.push_back(
            {(dir / "config.yaml").string(), 0, "access_token",
             "is only " + std::to_string(t.size()) +
                 " characters; a short token can be guessed (openssl rand -hex 24 makes a good one)"});
    if (overrides.port) cfg.global.port = *overrides.port;
    if (overrides.level) cfg.global.level = *overrides.level;
    // A relative log_dir is taken relative to the config directory, not to wherever clipal was started.
    if (cfg.global.log_dir.empty())
        cfg.global.log_dir = (dir / "logs").string();
    else if (std::filesystem::path(cfg.global.log_dir).is_relative())
        cfg.global.log_dir = (dir / cfg.global.log_dir).string();

    if (out.errors.empty()) out.cfg = std::move(cfg);
    return out;
}

} // namespace clipal
