// `clipal usage`: sums from usage.db (SQL GROUP BY group, model), costs from config.yaml's
// prices (per model, so a group's cost is summed over its models), then a table or JSON.
#include "app/usage_command.hpp"

#include "shared/config_loader.hpp"
#include "shared/duration.hpp"
#include "shared/exit_codes.hpp"
#include "shared/text.hpp"
#include "shared/time_format.hpp"
#include "supervisor/usage_store.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <vector>

namespace clipal::app {

namespace {

using supervisor::usage_grouping;
using prices_map = std::map<std::string, model_price, std::less<>>;

struct group_sum {
    std::string group;
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
    std::uint64_t input = 0;
    std::uint64_t output = 0;
    std::uint64_t cache_read = 0;
    std::uint64_t cache_write = 0;
    double cost = 0;
    bool priced = false;                   // some of its models have a price
    std::set<std::string> unpriced_models; // models with tokens but no price ("" = unknown)

    void add(const group_sum& o) {
        requests += o.requests;
        failures += o.failures;
        input += o.input;
        output += o.output;
        cache_read += o.cache_read;
        cache_write += o.cache_write;
        cost += o.cost;
        priced = priced || o.priced;
        unpriced_models.insert(o.unpriced_models.begin(), o.unpriced_models.end());
    }
};

// Prices from config.yaml, if it is there and valid; otherwise none and, for an invalid
// file, a warning (the usage is still worth showing).
prices_map load_prices(const std::filesystem::path& config_dir, std::ostream& err) {
    const auto file = config_dir / "config.yaml";
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return {};
    std::ifstream in(file, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) {
        err << "clipal usage: cannot read " << file.string() << "; costs are not shown\n";
        return {};
    }
    std::vector<config_issue> errors;
    auto g = parse_global_yaml(text.str(), file.string(), errors);
    if (!errors.empty()) {
        err << "clipal usage: costs are not shown: " << errors.front().to_string()
            << (errors.size() > 1 ? fmt::format(" (and {} more; see clipal check)", errors.size() - 1) : "") << "\n";
        return {};
    }
    return std::move(g.prices);
}

std::vector<group_sum> summarize(const std::vector<supervisor::usage_totals>& rows, const prices_map& prices,
                                 usage_grouping by) {
    std::vector<group_sum> groups;
    std::map<std::string, std::size_t> index;
    for (const auto& r : rows) {
        auto [it, fresh] = index.try_emplace(r.group, groups.size());
        if (fresh) {
            groups.emplace_back();
            groups.back().group = r.group;
        }
        auto& g = groups[it->second];
        group_sum one;
        one.requests = r.requests;
        one.failures = r.failures;
        one.input = r.input_tokens;
        one.output = r.output_tokens;
        one.cache_read = r.cache_read_tokens;
        one.cache_write = r.cache_write_tokens;
        if (const auto p = prices.find(r.model); p != prices.end() && !r.model.empty()) {
            one.priced = true;
            one.cost =
                (static_cast<double>(one.input) * p->second.input + static_cast<double>(one.output) * p->second.output +
                 static_cast<double>(one.cache_read) * p->second.cache_read +
                 static_cast<double>(one.cache_write) * p->second.cache_write) /
                1e6;
        } else if (one.input + one.output + one.cache_read + one.cache_write > 0) {
            one.unpriced_models.insert(r.model);
        }
        g.add(one);
    }
    // Days in calendar order (as read); everything else busiest first.
    if (by != usage_grouping::day)
        std::stable_sort(groups.begin(), groups.end(), [](const group_sum& a, const group_sum& b) {
            return a.requests != b.requests ? a.requests > b.requests : a.group < b.group;
        });
    return groups;
}

// Control characters (from a client-chosen model name, say) never reach the terminal.
std::string printable(std::string_view s) {
    std::string out;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        out += u < 0x20 || u == 0x7f ? '?' : c;
    }
    return out;
}

std::string label(std::string_view group) { return group.empty() ? "(unknown)" : printable(group); }

// "1,234,567"
std::string count(std::uint64_t n) {
    std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

std::string cost_text(const group_sum& g) {
    if (!g.priced) return "-";
    return fmt::format("{:.4f}", g.cost) + (g.unpriced_models.empty() ? "" : "*");
}

std::size_t width(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

// Left-aligned first column, right-aligned numbers.
void render_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        if (widths.size() < row.size()) widths.resize(row.size(), 0);
        for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], width(row[i]));
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            const std::string pad(widths[i] - width(row[i]), ' ');
            line += i == 0 ? row[i] + pad : "  " + pad + row[i];
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << '\n';
    }
}

std::string local_minute(std::int64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::localtime_r(&t, &tm);
    return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min);
}

std::string heading(usage_grouping by) {
    switch (by) {
    case usage_grouping::provider: return "PROVIDER";
    case usage_grouping::model: return "MODEL";
    case usage_grouping::profile: return "PROFILE";
    case usage_grouping::day: return "DAY";
    }
    return "GROUP";
}

void print_table(std::ostream& out, const std::vector<group_sum>& groups, const group_sum& total, bool show_cost,
                 usage_grouping by, const std::string& window, std::int64_t since_ms, const std::filesystem::path& db) {
    out << "usage since " << local_minute(since_ms) << " (last " << window << ") by " << to_string(by) << ", from "
        << db.string() << "\n";
    if (groups.empty()) {
        out << "no requests in this period\n";
        return;
    }
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> head{heading(by), "REQUESTS", "FAILURES", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE"};
    if (show_cost) head.push_back("COST");
    rows.push_back(head);
    auto line = [&](const std::string& name, const group_sum& g) {
        std::vector<std::string> r{name,
                                   count(g.requests),
                                   count(g.failures),
                                   count(g.input),
                                   count(g.output),
                                   count(g.cache_read),
                                   count(g.cache_write)};
        if (show_cost) r.push_back(cost_text(g));
        rows.push_back(std::move(r));
    };
    for (const auto& g : groups) line(label(g.group), g);
    line("TOTAL", total);
    out << "\n";
    render_table(out, rows);
    if (show_cost && !total.unpriced_models.empty()) {
        std::string names;
        for (const auto& m : total.unpriced_models) names += (names.empty() ? "" : ", ") + label(m);
        out << "\n* without the tokens of models that have no price in config.yaml: " << names << "\n";
    }
}

// JSON strings must be UTF-8: a byte that is not valid UTF-8 becomes '?'.
std::string json_string(std::string_view s) {
    std::string text(s);
    if (!is_utf8(text))
        for (auto& c : text)
            if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    return boost::json::serialize(boost::json::string_view(text));
}

// Cost in the JSON: a plain decimal rounded to 1e-9 of the currency ("1.2345"), or null.
std::string json_cost(const group_sum& g) {
    if (!g.priced) return "null";
    std::string s = fmt::format("{:.9f}", g.cost);
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
}

std::string json_sums(const group_sum& g) {
    std::string models;
    for (const auto& m : g.unpriced_models) models += (models.empty() ? "" : ",") + json_string(m);
    return fmt::format("\"requests\":{},\"failures\":{},\"input_tokens\":{},\"output_tokens\":{},"
                       "\"cache_read_tokens\":{},\"cache_write_tokens\":{},\"cost\":{},\"unpriced_models\":[{}]",
                       g.requests, g.failures, g.input, g.output, g.cache_read, g.cache_write, json_cost(g), models);
}

void print_json(std::ostream& out, const std::vector<group_sum>& groups, const group_sum& total, usage_grouping by,
                const std::string& window, std::int64_t since_ms, std::int64_t now_ms,
                const std::filesystem::path& db) {
    using std::chrono::milliseconds;
    const auto at = [](std::int64_t ms) { return iso_utc(clock::time_point(milliseconds(ms))); };
    out << "{\"database\":" << json_string(db.string()) << ",\"since\":" << json_string(window)
        << ",\"from\":" << json_string(at(since_ms)) << ",\"to\":" << json_string(at(now_ms))
        << ",\"by\":" << json_string(to_string(by)) << ",\"groups\":[";
    for (std::size_t i = 0; i < groups.size(); ++i)
        out << (i ? "," : "") << "{\"group\":" << json_string(groups[i].group) << "," << json_sums(groups[i]) << "}";
    out << "],\"total\":{" << json_sums(total) << "}}\n";
}

} // namespace

std::optional<std::chrono::milliseconds> parse_since(std::string_view text, std::string& error) {
    using std::chrono::milliseconds;
    const auto refuse = [&](std::string why) -> std::optional<milliseconds> {
        error = "--since must be a time span such as 24h, 7d, 30d or 90m" + why + ", got \"" + std::string(text) + "\"";
        return std::nullopt;
    };
    if (text.size() > 1 && text.back() == 'd') {
        // Go durations have no days; whole days are what people ask for.
        const auto digits = text.substr(0, text.size() - 1);
        long long days = 0;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), days);
        if (ec != std::errc{} || end != digits.data() + digits.size() || days <= 0 || days > 100000)
            return refuse(" (days as a whole number from 1)");
        return milliseconds(days * 86'400'000);
    }
    const auto d = parse_duration(text);
    if (!d.value) return refuse("");
    const auto ms = std::chrono::duration_cast<milliseconds>(*d.value);
    if (ms <= milliseconds::zero()) return refuse(" (more than 0)");
    return ms;
}

int run_usage(const usage_options& o, std::ostream& out, std::ostream& err) {
    std::string error;
    const auto since = parse_since(o.since, error);
    if (!since) {
        err << "clipal usage: " << error << " (try clipal --help)\n";
        return exit_usage;
    }
    const auto by = supervisor::usage_grouping_from_string(o.by);
    if (!by) {
        err << "clipal usage: --by must be provider, model, profile or day, got \"" << o.by
            << "\" (try clipal --help)\n";
        return exit_usage;
    }
    const std::int64_t now_ms =
        o.now_ms
            ? *o.now_ms
            : std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    const std::int64_t since_ms = now_ms - since->count();
    const auto db = supervisor::usage_db_path(o.config_dir);

    auto opened = supervisor::usage_reader::open(db);
    std::vector<supervisor::usage_totals> rows;
    if (opened.no_data) {
        if (!o.json) {
            out << "no usage recorded yet in " << db.string() << "\n";
            return exit_ok;
        }
        err << "clipal usage: no usage recorded yet in " << db.string() << "\n";
    } else if (!opened.reader) {
        err << "clipal usage: " << opened.error << "\n";
        return exit_usage_unreadable;
    } else {
        auto read = opened.reader->totals(since_ms, *by, error);
        if (!read) {
            err << "clipal usage: " << error << "\n";
            return exit_usage_unreadable;
        }
        rows = std::move(*read);
    }

    const auto prices = load_prices(o.config_dir, err);
    const auto groups = summarize(rows, prices, *by);
    group_sum total;
    for (const auto& g : groups) total.add(g);
    if (o.json)
        print_json(out, groups, total, *by, o.since, since_ms, now_ms, db);
    else
        print_table(out, groups, total, !prices.empty(), *by, o.since, since_ms, db);
    return exit_ok;
}

} // namespace clipal::app
