// Parsers for upstream back-off hints. HTTP dates follow RFC 9110 §5.6.7: senders use
// IMF-fixdate, recipients also accept the obsolete RFC 850 and asctime forms.
#include "shared/retry_hint.hpp"

#include "shared/text.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace clipal {
namespace {

using namespace std::chrono;

// Beyond ~31 years a hint means "very long"; saturating keeps nanoseconds from overflowing.
constexpr std::uint64_t max_hint_seconds = 1'000'000'000;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Decimal digits with saturation; nullopt when s is empty or not all digits.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        v = std::min<std::uint64_t>(v * 10 + static_cast<std::uint64_t>(c - '0'), max_hint_seconds);
    }
    return v;
}

// A left-to-right reader over one date string; each step fails without consuming on mismatch.
class cursor {
public:
    explicit cursor(std::string_view s) : s_(s) {}

    bool lit(std::string_view l) {
        if (s_.substr(0, l.size()) != l) return false;
        s_.remove_prefix(l.size());
        return true;
    }
    bool word(std::size_t min_len) {
        std::size_t n = 0;
        while (n < s_.size() && is_alpha(s_[n])) ++n;
        if (n < min_len) return false;
        s_.remove_prefix(n);
        return true;
    }
    std::optional<int> digits(std::size_t n) {
        if (s_.size() < n) return std::nullopt;
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            if (!is_digit(s_[i])) return std::nullopt;
            v = v * 10 + (s_[i] - '0');
        }
        s_.remove_prefix(n);
        return v;
    }
    std::optional<unsigned> month() {
        static constexpr std::array<std::string_view, 12> names{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        for (std::size_t i = 0; i < names.size(); ++i)
            if (lit(names[i])) return static_cast<unsigned>(i + 1);
        return std::nullopt;
    }
    bool done() const { return s_.empty(); }

private:
    std::string_view s_;
};

struct hms {
    int h, m, s;
};

std::optional<hms> time_of_day(cursor& c) {
    auto h = c.digits(2);
    if (!h || !c.lit(":")) return std::nullopt;
    auto m = c.digits(2);
    if (!m || !c.lit(":")) return std::nullopt;
    auto s = c.digits(2);
    if (!s) return std::nullopt;
    return hms{*h, *m, *s};
}

// In seconds: a four-digit year can lie beyond the ±292 years that nanoseconds reach.
std::optional<sys_seconds> to_time_point(int y, unsigned mon, int d, const hms& t) {
    if (d < 1 || t.h > 23 || t.m > 59 || t.s > 60) return std::nullopt;
    const year_month_day ymd{year{y}, month{mon}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    return sys_days{ymd} + hours{t.h} + minutes{t.m} + seconds{t.s};
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<sys_seconds> parse_imf_fixdate(std::string_view s) {
    cursor c(s);
    if (!c.word(3) || !c.lit(", ")) return std::nullopt;
    auto d = c.digits(2);
    if (!d || !c.lit(" ")) return std::nullopt;
    auto mon = c.month();
    if (!mon || !c.lit(" ")) return std::nullopt;
    auto y = c.digits(4);
    if (!y || !c.lit(" ")) return std::nullopt;
    auto t = time_of_day(c);
    if (!t || !c.lit(" GMT") || !c.done()) return std::nullopt;
    return to_time_point(*y, *mon, *d, *t);
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years below 70 are taken as 20xx.
std::optional<sys_seconds> parse_rfc850(std::string_view s) {
    cursor c(s);
    if (!c.word(6) || !c.lit(", ")) return std::nullopt;
    auto d = c.digits(2);
    if (!d || !c.lit("-")) return std::nullopt;
    auto mon = c.month();
    if (!mon || !c.lit("-")) return std::nullopt;
    auto yy = c.digits(2);
    if (!yy || !c.lit(" ")) return std::nullopt;
    auto t = time_of_day(c);
    if (!t || !c.lit(" GMT") || !c.done()) return std::nullopt;
    return to_time_point(*yy < 70 ? 2000 + *yy : 1900 + *yy, *mon, *d, *t);
}

// "Sun Nov  6 08:49:37 1994"
std::optional<sys_seconds> parse_asctime(std::string_view s) {
    cursor c(s);
    if (!c.word(3) || !c.lit(" ")) return std::nullopt;
    auto mon = c.month();
    if (!mon || !c.lit(" ")) return std::nullopt;
    std::optional<int> d = c.lit(" ") ? c.digits(1) : c.digits(2);
    if (!d || !c.lit(" ")) return std::nullopt;
    auto t = time_of_day(c);
    if (!t || !c.lit(" ")) return std::nullopt;
    auto y = c.digits(4);
    if (!y || !c.done()) return std::nullopt;
    return to_time_point(*y, *mon, *d, *t);
}

std::optional<sys_seconds> parse_http_date(std::string_view s) {
    if (auto t = parse_imf_fixdate(s)) return t;
    if (auto t = parse_rfc850(s)) return t;
    return parse_asctime(s);
}

// "1", "0.5", ".5", "12.": seconds with up to nanosecond precision (extra digits ignored).
std::optional<duration> parse_plain_seconds(std::string_view s) {
    const auto dot = s.find('.');
    const std::string_view whole = s.substr(0, dot);
    const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    if (whole.empty() && frac.empty()) return std::nullopt;
    std::uint64_t secs = 0;
    if (!whole.empty()) {
        auto w = parse_digits(whole);
        if (!w) return std::nullopt;
        secs = *w;
    }
    std::int64_t nanos = 0;
    std::int64_t scale = 100'000'000;
    for (char c : frac) {
        if (!is_digit(c)) return std::nullopt;
        nanos += (c - '0') * scale;
        scale /= 10;
    }
    return duration{seconds{secs}} + nanoseconds{nanos};
}

} // namespace

std::optional<duration> parse_retry_after(std::string_view value, clock::time_point now) {
    value = trim_ows(value);
    if (auto secs = parse_digits(value)) return duration{seconds{*secs}};
    auto when = parse_http_date(value);
    if (!when) return std::nullopt;
    // Compared in seconds, saturated like delta-seconds, before nanoseconds can overflow.
    const auto now_s = floor<seconds>(now);
    const auto ahead = std::min<std::int64_t>((*when - now_s).count(), max_hint_seconds);
    if (ahead <= 0) return duration::zero();
    return duration{seconds{ahead}} - (now - now_s);
}

std::optional<duration> parse_rate_limit_reset(std::string_view value) {
    value = trim_ows(value);
    if (value.empty()) return std::nullopt;
    if (auto d = parse_duration(value).value) return d;
    return parse_plain_seconds(value);
}

std::optional<duration> cooldown_hint(std::string_view retry_after, std::string_view reset_requests,
                                      std::string_view reset_tokens, clock::time_point now) {
    std::optional<duration> best;
    auto consider = [&best](std::optional<duration> d) {
        if (d && (!best || *d > *best)) best = d;
    };
    if (!trim_ows(retry_after).empty()) consider(parse_retry_after(retry_after, now));
    consider(parse_rate_limit_reset(reset_requests));
    consider(parse_rate_limit_reset(reset_tokens));
    if (best) best = std::min(*best, max_cooldown);
    return best;
}

} // namespace clipal
