#include "shared/duration.hpp"

#include <cstdint>
#include <limits>

namespace clipal {
namespace {

struct unit {
    std::string_view name;
    std::int64_t nanos;
};

constexpr unit units[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000}, // U+00B5 micro sign
    {"\xCE\xBCs", 1'000}, // U+03BC Greek mu
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
};

duration_parse_result fail(std::string why) { return {std::nullopt, std::move(why)}; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

} // namespace

duration_parse_result parse_duration(std::string_view text) {
    const std::string_view original = text;
    if (text.empty()) return fail("empty duration");
    if (text.front() == '-') return fail("negative durations are not allowed");
    if (text.front() == '+') text.remove_prefix(1);
    if (text == "0") return {duration::zero(), {}};
    if (text.empty()) return fail("invalid duration \"" + std::string(original) + "\"");

    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    std::int64_t total = 0;
    while (!text.empty()) {
        // Whole part.
        std::int64_t whole = 0;
        bool any_digits = false;
        while (!text.empty() && is_digit(text.front())) {
            if (whole > (max - 9) / 10) return fail("duration \"" + std::string(original) + "\" is too large");
            whole = whole * 10 + (text.front() - '0');
            text.remove_prefix(1);
            any_digits = true;
        }
        // Fraction, kept as digits/scale to avoid floating point.
        std::int64_t frac = 0, scale = 1;
        if (!text.empty() && text.front() == '.') {
            text.remove_prefix(1);
            while (!text.empty() && is_digit(text.front())) {
                if (scale < 1'000'000'000'000'000LL) {
                    frac = frac * 10 + (text.front() - '0');
                    scale *= 10;
                }
                text.remove_prefix(1);
                any_digits = true;
            }
        }
        if (!any_digits)
            return fail("invalid duration \"" + std::string(original) + "\" (expected e.g. 90s, 1h30m, 250ms)");

        const unit* u = nullptr;
        for (const auto& cand : units) {
            if (text.starts_with(cand.name) && (u == nullptr || cand.name.size() > u->name.size())) u = &cand;
        }
        if (u == nullptr) {
            if (text.empty())
                return fail("missing unit in duration \"" + std::string(original) + "\" (e.g. 30s, 5m, 1h)");
            return fail("unknown unit in duration \"" + std::string(original) + "\" (use ns, us, ms, s, m, h)");
        }
        text.remove_prefix(u->name.size());

        if (whole > max / u->nanos) return fail("duration \"" + std::string(original) + "\" is too large");
        std::int64_t part = whole * u->nanos;
        // Fraction contribution: frac/scale * nanos, at most one unit, checked before it is
        // added ("9223372036.9s" overflowed here).
        const auto frac_part = static_cast<std::int64_t>(
            static_cast<long double>(frac) * static_cast<long double>(u->nanos) / static_cast<long double>(scale));
        if (frac_part > max - part) return fail("duration \"" + std::string(original) + "\" is too large");
        part += frac_part;
        if (total > max - part) return fail("duration \"" + std::string(original) + "\" is too large");
        total += part;
    }
    return {duration(total), {}};
}

std::string format_duration(duration d) {
    using namespace std::chrono;
    if (d == duration::zero()) return "0s";
    std::string out;
    if (d < duration::zero()) {
        out = "-";
        d = -d;
    }
    if (d < seconds(1)) {
        const auto n = d.count();
        if (n < 1'000) return out + std::to_string(n) + "ns";
        auto trim = [](std::int64_t v, std::int64_t div, const char* suffix) {
            std::string s = std::to_string(v / div);
            std::int64_t rem = v % div;
            if (rem != 0) {
                std::string f = std::to_string(rem);
                f.insert(0, std::to_string(div).size() - 1 - f.size(), '0');
                while (!f.empty() && f.back() == '0') f.pop_back();
                s += "." + f;
            }
            return s + suffix;
        };
        if (n < 1'000'000) return out + trim(n, 1'000, "us");
        return out + trim(n, 1'000'000, "ms");
    }
    const auto h = duration_cast<hours>(d);
    d -= h;
    const auto m = duration_cast<minutes>(d);
    d -= m;
    const auto ns = d.count();
    std::string secs = std::to_string(ns / 1'000'000'000);
    if (const auto rem = ns % 1'000'000'000; rem != 0) {
        std::string f = std::to_string(rem);
        f.insert(0, 9 - f.size(), '0');
        while (!f.empty() && f.back() == '0') f.pop_back();
        secs += "." + f;
    }
    if (h.count() > 0) out += std::to_string(h.count()) + "h";
    if (h.count() > 0 || m.count() > 0) out += std::to_string(m.count()) + "m";
    return out + secs + "s";
}

} // namespace clipal
