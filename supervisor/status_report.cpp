// Rendering of the status JSON as text. Every accessor here is non-throwing: the input
// comes over a socket and a newer or broken supervisor must not crash `clipal status`.
#include "supervisor/status_report.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>
#include <vector>

namespace clipal::supervisor {

namespace {

namespace json = boost::json;

const json::value* field(const json::value* v, std::string_view key) {
    if (v == nullptr) return nullptr;
    const auto* obj = v->if_object();
    if (obj == nullptr) return nullptr;
    return obj->if_contains(key);
}

// Strings as they may be printed: control characters (escape sequences from a hostile
// provider name, say) become '?'; newlines only where the caller allows them.
std::string printable(std::string_view s, bool keep_newlines = false) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '\n' && keep_newlines)
            out += c;
        else if (u < 0x20 || u == 0x7f)
            out += '?';
        else
            out += c;
    }
    return out;
}

std::optional<std::string> text(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (const auto* s = v->if_string()) return printable(*s);
    return std::nullopt;
}

std::string text_or_dash(const json::value* v) {
    auto s = text(v);
    return s && !s->empty() ? *s : "-";
}

std::optional<double> number(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (const auto* i = v->if_int64()) return static_cast<double>(*i);
    if (const auto* u = v->if_uint64()) return static_cast<double>(*u);
    if (const auto* d = v->if_double()) return *d;
    return std::nullopt;
}

// Counters and pids: integers print as such, anything else as "-".
std::string count_or_dash(const json::value* v) {
    if (v == nullptr) return "-";
    if (const auto* i = v->if_int64()) return std::to_string(*i);
    if (const auto* u = v->if_uint64()) return std::to_string(*u);
    if (const auto* d = v->if_double();
        d != nullptr && std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 1e15)
        return std::to_string(static_cast<long long>(*d));
    return "-";
}

std::string uptime_or_dash(const json::value* v) {
    const auto n = number(v);
    return n ? format_uptime(*n) : "-";
}

// "2026-11-26T12:00:00Z", optionally with fractional seconds and/or "+00:00".
std::optional<clock::time_point> parse_utc(std::string_view s) {
    if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        return std::nullopt;
    auto num = [&](std::size_t pos, std::size_t len) -> std::optional<int> {
        int v = 0;
        const auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, v);
        if (ec != std::errc{} || end != s.data() + pos + len) return std::nullopt;
        return v;
    };
    const auto year = num(0, 4), month = num(5, 2), day = num(8, 2), hour = num(11, 2), minute = num(14, 2),
               second = num(17, 2);
    if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
    if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
        *second > 60)
        return std::nullopt;
    auto rest = s.substr(19);
    if (!rest.empty() && rest.front() == '.') {
        rest.remove_prefix(1);
        while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') rest.remove_prefix(1);
    }
    if (rest != "Z" && rest != "+00:00" && !rest.empty()) return std::nullopt;
    std::tm tm{};
    tm.tm_year = *year - 1900;
    tm.tm_mon = *month - 1;
    tm.tm_mday = *day;
    tm.tm_hour = *hour;
    tm.tm_min = *minute;
    tm.tm_sec = *second;
    const std::time_t t = ::timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return std::chrono::system_clock::from_time_t(t);
}

std::tm local(clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    return tm;
}

// "14:03:00" on the day of `now`, else "2026-11-27 14:03:00"; the raw text if unparsable.
std::string time_or_dash(const json::value* v, clock::time_point now) {
    const auto s = text(v);
    if (!s || s->empty()) return "-";
    const auto t = parse_utc(*s);
    if (!t) return *s;
    const std::tm at = local(*t);
    const std::tm today = local(now);
    if (at.tm_year == today.tm_year && at.tm_yday == today.tm_yday)
        return fmt::format("{:02}:{:02}:{:02}", at.tm_hour, at.tm_min, at.tm_sec);
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", at.tm_year + 1900, at.tm_mon + 1, at.tm_mday, at.tm_hour,
                       at.tm_min, at.tm_sec);
}

// Display width in terminal columns, approximated by UTF-8 code points.
std::size_t width(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

void render_table(std::string& out, const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        if (widths.size() < row.size()) widths.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
    }
    for (const auto& row : rows) {
        std::string line(indent);
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) line.append(widths[i] - width(row[i]) + 2, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out += line;
        out += '\n';
    }
}

// Continuation lines of a multi-line message line up under its first line.
std::string indented(std::string_view message, std::string_view indent) {
    std::string out;
    for (const char c : printable(message, true)) {
        out += c;
        if (c == '\n') out += indent;
    }
    return out;
}

std::string last_exit_text(const json::value* v) {
    if (v == nullptr || v->is_null()) return "-";
    if (const auto s = text(v)) return s->empty() ? "-" : *s;
    if (v->is_object()) {
        if (const auto sig = text(field(v, "signal")); sig && !sig->empty()) return "signal " + *sig;
        if (const auto code = count_or_dash(field(v, "code")); code != "-") return "exit " + code;
    }
    return "-";
}

std::string provider_state(const json::value& p, clock::time_point now) {
    std::string state = text_or_dash(field(&p, "state"));
    if (const auto until = field(&p, "until"); until != nullptr && !until->is_null())
        state += " until " + time_or_dash(until, now);
    if (const auto reason = text(field(&p, "reason")); reason && !reason->empty()) state += " (" + *reason + ")";
    return state;
}

// "closed", "half-open" (tried first by the next request), "open, next try 12:00:03".
std::string breaker_text(const json::value& p, clock::time_point now) {
    const auto breaker = text(field(&p, "breaker"));
    if (!breaker) return "-";
    std::string out = *breaker;
    if (const auto* at = field(&p, "next_try"); at != nullptr && at->is_string())
        out += ", next try " + time_or_dash(at, now);
    return out;
}

// One line per key of a provider with several, or with one that is out: fingerprints only.
std::string keys_text(const json::value& p, clock::time_point now) {
    const auto* keys = field(&p, "keys");
    const auto* list = keys != nullptr ? keys->if_array() : nullptr;
    if (list == nullptr || list->empty()) return {};
    const bool one_active = list->size() == 1 && text(field(&list->front(), "state")).value_or("active") == "active";
    if (one_active) return {};
    std::string out;
    for (const auto& k : *list) {
        const auto* in_use = field(&k, "in_use");
        const bool used = in_use != nullptr && in_use->is_bool() && in_use->get_bool();
        out += fmt::format("    {} key {}: {}{}\n", text_or_dash(field(&p, "name")),
                           text_or_dash(field(&k, "fingerprint")), provider_state(k, now), used ? " (in use)" : "");
    }
    return out;
}

void render_header(std::string& out, const json::value& status, clock::time_point now) {
    out += fmt::format("clipal {} (pid {}), up {}\n", text_or_dash(field(&status, "version")),
                       count_or_dash(field(&status, "pid")), uptime_or_dash(field(&status, "uptime_seconds")));
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"listen", text_or_dash(field(&status, "listen"))});
    rows.push_back({"config dir", text_or_dash(field(&status, "config_dir"))});
    const auto* reload = field(&status, "last_reload");
    std::string reload_text = "-";
    if (reload != nullptr && reload->is_object()) {
        const auto* ok = field(reload, "ok");
        const auto at = time_or_dash(field(reload, "time"), now);
        if (ok != nullptr && ok->is_bool() && ok->get_bool())
            reload_text = "ok at " + at;
        else if (ok != nullptr && ok->is_bool()) {
            const auto* error = field(reload, "error");
            const auto* es = error != nullptr ? error->if_string() : nullptr;
            reload_text = "FAILED at " + at + ": " +
                          (es != nullptr && !es->empty() ? indented(*es, "                 ") : std::string("-"));
        }
    }
    rows.push_back({"last reload", reload_text});
    render_table(out, rows, "  ");
}

// Tokens: exact below 10,000, then "12.3k", "456k", "1.23M", "45.6M", "7.89G"...
std::string compact_count(std::uint64_t n) {
    if (n < 10'000) return std::to_string(n);
    static constexpr std::array<std::string_view, 6> units{"k", "M", "G", "T", "P", "E"};
    double v = static_cast<double>(n);
    std::size_t u = 0;
    v /= 1000;
    while (v >= 999.5 && u + 1 < units.size()) {
        v /= 1000;
        ++u;
    }
    if (v < 9.995) return fmt::format("{:.2f}{}", v, units[u]);
    if (v < 99.95) return fmt::format("{:.1f}{}", v, units[u]);
    return fmt::format("{:.0f}{}", v, units[u]);
}

// A non-negative integer count; none for anything else.
std::optional<std::uint64_t> unsigned_count(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (const auto* i = v->if_int64(); i != nullptr && *i >= 0) return static_cast<std::uint64_t>(*i);
    if (const auto* u = v->if_uint64()) return *u;
    if (const auto* d = v->if_double();
        d != nullptr && std::isfinite(*d) && *d >= 0 && std::floor(*d) == *d && *d < 1.8e19)
        return static_cast<std::uint64_t>(*d);
    return std::nullopt;
}

// "850ms", "1.2s", "42.0s", "123s"; "-" when unknown.
std::string ttfb_text(const json::value* v) {
    if (v == nullptr || v->is_null()) return "-";
    const auto ms = unsigned_count(v);
    if (!ms) return "-";
    if (*ms < 1000) return fmt::format("{}ms", *ms);
    if (*ms < 99'950) return fmt::format("{:.1f}s", static_cast<double>(*ms) / 1000);
    return fmt::format("{}s", (*ms + 500) / 1000);
}

// The activity columns of one provider: REQ/1M FAIL/1M P50 TTFB IN OUT CACHE R CACHE W.
// `activity` null (an older supervisor): dashes; present but without this provider: it had
// no traffic since the supervisor started.
std::vector<std::string> activity_columns(const json::value* activity, std::string_view provider) {
    if (activity == nullptr || !activity->is_object()) return std::vector<std::string>(7, "-");
    const json::value* a = nullptr;
    if (const auto* providers = field(activity, "providers"); providers != nullptr && providers->is_object())
        a = providers->as_object().if_contains(provider);
    if (a == nullptr) return {"0", "0", "-", "0", "0", "0", "0"};
    const auto tokens = [&](std::string_view kind) {
        const auto n = unsigned_count(field(field(a, "tokens_today"), kind));
        return n ? compact_count(*n) : std::string("-");
    };
    return {count_or_dash(field(a, "requests_1m")),
            count_or_dash(field(a, "failures_1m")),
            ttfb_text(field(a, "p50_ttfb_ms")),
            tokens("input"),
            tokens("output"),
            tokens("cache_read"),
            tokens("cache_write")};
}

// "last switch 12:59:58: a -> b (auth)", "last switch: none"; empty without activity.
std::string last_switch_text(const json::value* activity, clock::time_point now) {
    if (activity == nullptr || !activity->is_object()) return {};
    const auto* s = field(activity, "last_switch");
    if (s == nullptr || !s->is_object()) return "  last switch: none\n";
    const auto from = text(field(s, "from"));
    std::string out = "  last switch " + time_or_dash(field(s, "time"), now) + ": " +
                      (from && !from->empty() ? *from : std::string("(none)")) + " -> " + text_or_dash(field(s, "to"));
    if (const auto reason = text(field(s, "reason")); reason && !reason->empty()) out += " (" + *reason + ")";
    return out + "\n";
}

void render_workers(std::string& out, const json::array& workers, clock::time_point now, bool watch) {
    std::vector<std::vector<std::string>> rows{{"PROFILE", "STATE", "PID", "RESTARTS", "UPTIME", "LAST EXIT"}};
    for (const auto& w : workers) {
        const bool running = text(field(&w, "state")).value_or("") != "stopped";
        rows.push_back({text_or_dash(field(&w, "profile")), text_or_dash(field(&w, "state")),
                        running ? count_or_dash(field(&w, "pid")) : "-", count_or_dash(field(&w, "restarts")),
                        running ? uptime_or_dash(field(&w, "uptime_seconds")) : "-",
                        last_exit_text(field(&w, "last_exit"))});
    }
    render_table(out, rows, "");

    for (const auto& w : workers) {
        out += '\n';
        out += text_or_dash(field(&w, "profile"));
        if (const auto prefix = text(field(&w, "prefix")); prefix && !prefix->empty()) out += " (" + *prefix + ")";
        out += '\n';
        if (const auto err = text(field(&w, "error")); err && !err->empty()) {
            const auto* raw = field(&w, "error");
            out += "  error: " + indented(raw->get_string(), "         ") + "\n";
        }
        if (const auto* at = field(&w, "restart_at"); at != nullptr && at->is_string()) {
            if (text(field(&w, "state")).value_or("") == "failed")
                out += "  parked after repeated crashes; tries again at " + time_or_dash(at, now) +
                       " (`clipal reload` tries now)\n";
            else
                out += "  restarts at " + time_or_dash(at, now) + "\n";
        }
        const auto* activity = watch ? field(&w, "activity") : nullptr;
        if (watch) out += last_switch_text(activity, now);
        const auto* providers = field(&w, "providers");
        const auto* list = providers != nullptr ? providers->if_array() : nullptr;
        if (list == nullptr || list->empty()) {
            out += "  no providers\n";
            continue;
        }
        std::vector<std::vector<std::string>> rows_p;
        if (watch)
            rows_p.push_back({" ", "PROVIDER", "STATE", "BREAKER", "REQ/1M", "FAIL/1M", "P50 TTFB", "IN", "OUT",
                              "CACHE R", "CACHE W"});
        else
            rows_p.push_back({" ", "PROVIDER", "STATE", "BREAKER", "REQUESTS", "FAILURES"});
        std::string key_lines;
        for (const auto& p : *list) {
            const auto* current = field(&p, "current");
            const bool is_current = current != nullptr && current->is_bool() && current->get_bool();
            std::string name = text_or_dash(field(&p, "name"));
            if (const auto model = text(field(&p, "model")); model && !model->empty())
                name += " (model " + *model + ")";
            std::vector<std::string> row{is_current ? "*" : " ", name, provider_state(p, now), breaker_text(p, now)};
            if (watch) {
                const auto* raw_name = field(&p, "name");
                const auto* name_string = raw_name != nullptr ? raw_name->if_string() : nullptr;
                for (auto& c : activity_columns(activity, name_string != nullptr ? std::string_view(*name_string)
                                                                                 : std::string_view()))
                    row.push_back(std::move(c));
            } else {
                row.push_back(count_or_dash(field(&p, "requests")));
                row.push_back(count_or_dash(field(&p, "failures")));
            }
            rows_p.push_back(std::move(row));
            key_lines += keys_text(p, now);
        }
        render_table(out, rows_p, "  ");
        out += key_lines;
    }
}

} // namespace

std::string format_uptime(double seconds) {
    if (!(seconds >= 0) || seconds > 1e12) return "-";
    const auto s = static_cast<long long>(seconds);
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
    if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
    return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

namespace {

std::string render(const boost::json::value& status, clock::time_point now, bool watch) {
    std::string out;
    render_header(out, status, now);
    out += '\n';
    const auto* workers = field(&status, "workers");
    const auto* list = workers != nullptr ? workers->if_array() : nullptr;
    if (list == nullptr || list->empty()) {
        out += "no workers\n";
        return out;
    }
    render_workers(out, *list, now, watch);
    if (!watch) return out;
    bool any_activity = false;
    for (const auto& w : *list) {
        const auto* a = field(&w, "activity");
        any_activity = any_activity || (a != nullptr && a->is_object());
    }
    out += "\nREQ/1M, FAIL/1M, P50 TTFB: the last 60 s; IN, OUT, CACHE R(ead), CACHE W(rite): tokens since midnight\n";
    if (!any_activity)
        out += "(the running clipal " + text_or_dash(field(&status, "version")) +
               " reports no recent activity: it predates `status --watch`)\n";
    return out;
}

} // namespace

std::string format_status(const boost::json::value& status, clock::time_point now) {
    return render(status, now, false);
}

std::string format_watch(const boost::json::value& status, clock::time_point now) { return render(status, now, true); }

} // namespace clipal::supervisor
