#include "supervisor/recent_activity.hpp"

#include "shared/time_format.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <bit>
#include <ctime>
#include <limits>

namespace clipal::supervisor {

namespace {

namespace json = boost::json;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    const std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

std::int64_t unix_ms(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return b > std::numeric_limits<std::uint64_t>::max() - a ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

// Local midnight of the day holding `t` (unix seconds), and of the day after.
std::pair<std::time_t, std::time_t> local_day(std::time_t t) {
    std::tm at{};
    ::localtime_r(&t, &at);
    auto midnight = [&](int day_offset) {
        std::tm m{};
        m.tm_year = at.tm_year;
        m.tm_mon = at.tm_mon;
        m.tm_mday = at.tm_mday + day_offset;
        m.tm_isdst = -1; // let mktime decide, across DST changes too
        return std::mktime(&m);
    };
    return {midnight(0), midnight(1)};
}

} // namespace

bool is_live_failure(int status) {
    if (status < 100 || status > 599) return true;
    return status == 401 || status == 402 || status == 403 || status == 429 || status >= 500;
}

std::size_t recent_activity::ttfb_bin(std::uint32_t ms) {
    if (ms < 16) return ms;
    const int e = std::bit_width(ms) - 1; // >= 4
    if (e >= 18) return ttfb_bins - 1;
    const std::uint32_t sub = (ms >> (e - 3)) & 7u;
    return 16 + static_cast<std::size_t>(e - 4) * 8 + sub;
}

std::uint32_t recent_activity::ttfb_bin_value(std::size_t bin) {
    if (bin < 16) return static_cast<std::uint32_t>(bin);
    bin = std::min(bin, ttfb_bins - 1);
    const auto e = static_cast<int>(4 + (bin - 16) / 8);
    const auto sub = static_cast<std::uint32_t>((bin - 16) % 8);
    const std::uint32_t width = 1u << (e - 3);
    return (1u << e) + sub * width + width / 2;
}

recent_activity::recent_activity(const clock& clk) : clock_(clk) {}
recent_activity::~recent_activity() = default;

std::int64_t recent_activity::day_start(std::int64_t ms) const {
    if (ms >= cached_day_start_ && ms < cached_day_end_) return cached_day_start_;
    const auto [start, end] = local_day(static_cast<std::time_t>(floor_div(ms, 1000)));
    const std::int64_t start_ms = static_cast<std::int64_t>(start) * 1000;
    const std::int64_t end_ms = static_cast<std::int64_t>(end) * 1000;
    if (start == static_cast<std::time_t>(-1) || end == static_cast<std::time_t>(-1) || !(start_ms <= ms) ||
        !(ms < end_ms))
        return floor_div(ms, 86'400'000) * 86'400'000; // mktime failed: fall back to the UTC day
    cached_day_start_ = start_ms;
    cached_day_end_ = end_ms;
    return start_ms;
}

recent_activity::provider_map::value_type& recent_activity::provider(profile p, std::string_view name,
                                                                     std::int64_t now_ms) {
    auto& providers = profiles_[static_cast<std::size_t>(p)].providers;
    if (const auto it = providers.find(name); it != providers.end()) return *it;
    if (providers.size() >= max_providers_per_profile) {
        const auto quietest = std::min_element(providers.begin(), providers.end(), [](const auto& a, const auto& b) {
            return a.second->last_ms < b.second->last_ms;
        });
        providers.erase(quietest);
    }
    auto entry = std::make_unique<provider_activity>();
    entry->last_ms = now_ms;
    return *providers.emplace(std::string(name), std::move(entry)).first;
}

void recent_activity::add(profile p, const usage_row_view& row) {
    provider_cache cache;
    add_row(p, row, unix_ms(clock_.now()), cache);
}

void recent_activity::add_row(profile p, const usage_row_view& row, std::int64_t now_ms, provider_cache& cache) {
    if (row.provider.empty()) return;
    const std::int64_t t = std::min(row.time_ms, now_ms);
    const std::int64_t second = floor_div(t, 1000);
    const std::int64_t now_s = floor_div(now_ms, 1000);
    const bool in_window = second > now_s - window_seconds;
    const std::int64_t today = day_start(now_ms);
    const bool is_today = t >= today;
    if (!in_window && !is_today) return; // too old to show anywhere

    if (cache.activity == nullptr || cache.name != row.provider) {
        auto& entry = provider(p, row.provider, now_ms);
        cache = {entry.first, entry.second.get()};
    }
    auto* a = cache.activity;
    a->last_ms = std::max(a->last_ms, t);
    if (in_window) {
        auto& b = a->window[static_cast<std::size_t>(((second % window_seconds) + window_seconds) % window_seconds)];
        if (b.second != second) b = second_bucket{second};
        ++b.requests;
        if (is_live_failure(row.status)) ++b.failures;
        if (row.ttfb_ms) {
            ++b.ttfb_count;
            ++b.ttfb[ttfb_bin(*row.ttfb_ms)];
        }
    }
    if (is_today) {
        if (a->tokens_day != today) {
            a->tokens_day = today;
            a->tokens.fill(0);
        }
        const std::optional<std::uint64_t>* counts[token_kind_count] = {&row.input_tokens, &row.output_tokens,
                                                                        &row.cache_read_tokens,
                                                                        &row.cache_write_tokens};
        for (std::size_t k = 0; k < token_kind_count; ++k)
            if (*counts[k]) a->tokens[k] = saturating_add(a->tokens[k], **counts[k]);
    }
}

void recent_activity::set_last_switch(profile p, const provider_switch& s) {
    auto& last = profiles_[static_cast<std::size_t>(p)].last_switch;
    if (last && s.time_ms < last->time_ms) return;
    last = s;
}

void recent_activity::add_report(profile p, const metrics_report& r, std::span<const usage_row_view> rows) {
    const std::int64_t now_ms = unix_ms(clock_.now());
    provider_cache cache;
    for (const auto& row : rows) add_row(p, row, now_ms, cache);
    if (r.last_switch) set_last_switch(p, *r.last_switch);
    // A request that left a provider for another one has its row under the one that answered:
    // the provider it left counts it here, as a request and a failure, when the report comes.
    const std::int64_t now_s = floor_div(now_ms, 1000);
    for (const auto& pm : r.providers) {
        if (pm.name.empty()) continue;
        std::uint64_t left = 0;
        for (const auto n : pm.counters.failovers) left += n;
        if (left == 0) continue;
        auto* a = provider(p, pm.name, now_ms).second.get();
        auto& b = a->window[static_cast<std::size_t>(((now_s % window_seconds) + window_seconds) % window_seconds)];
        if (b.second != now_s) b = second_bucket{now_s};
        const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, 1u << 20));
        b.requests += n;
        b.failures += n;
    }
}

std::size_t recent_activity::provider_count(profile p) const {
    return profiles_[static_cast<std::size_t>(p)].providers.size();
}

boost::json::object recent_activity::to_json(profile p) const {
    const auto& pa = profiles_[static_cast<std::size_t>(p)];
    const std::int64_t now_ms = unix_ms(clock_.now());
    const std::int64_t now_s = floor_div(now_ms, 1000);
    const std::int64_t today = day_start(now_ms);

    json::object providers;
    for (const auto& [name, a] : pa.providers) {
        std::uint64_t requests = 0, failures = 0, ttfb_count = 0;
        std::array<std::uint64_t, ttfb_bins> ttfb{};
        for (const auto& b : a->window) {
            if (b.second <= now_s - window_seconds || b.second > now_s) continue;
            requests += b.requests;
            failures += b.failures;
            if (b.ttfb_count == 0) continue;
            ttfb_count += b.ttfb_count;
            for (std::size_t i = 0; i < ttfb_bins; ++i) ttfb[i] += b.ttfb[i];
        }
        json::value p50 = nullptr;
        if (ttfb_count > 0) {
            const std::uint64_t rank = (ttfb_count + 1) / 2; // the lower median
            std::uint64_t seen = 0;
            for (std::size_t i = 0; i < ttfb_bins; ++i) {
                seen += ttfb[i];
                if (seen >= rank) {
                    p50 = ttfb_bin_value(i);
                    break;
                }
            }
        }
        const bool today_counts = a->tokens_day == today;
        json::object tokens;
        for (std::size_t k = 0; k < token_kind_count; ++k)
            tokens[to_string(static_cast<token_kind>(k))] = today_counts ? a->tokens[k] : std::uint64_t{0};
        json::object entry;
        entry["requests_1m"] = requests;
        entry["failures_1m"] = failures;
        entry["p50_ttfb_ms"] = std::move(p50);
        entry["tokens_today"] = std::move(tokens);
        providers[name] = std::move(entry);
    }

    json::object out;
    out["providers"] = std::move(providers);
    if (pa.last_switch) {
        const auto& s = *pa.last_switch;
        out["last_switch"] = json::object{
            // Clamped to what a time_point holds (nanoseconds from 1970 up to 2262).
            {"time", iso_utc(clock::time_point{std::chrono::milliseconds(
                         std::clamp<std::int64_t>(s.time_ms, 0, std::int64_t{9'000'000'000'000}))})},
            {"from", s.from},
            {"to", s.to},
            {"reason", s.reason},
        };
    } else {
        out["last_switch"] = nullptr;
    }
    return out;
}

} // namespace clipal::supervisor
