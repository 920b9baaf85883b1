// semver parsing and ordering, kept strict so that a malformed tag is reported rather
// than silently ordered.
#include "app/version_compare.hpp"

#include <algorithm>
#include <charconv>

namespace clipal::app {

namespace {

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool identifier_chars(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    });
}

std::optional<std::uint64_t> number(std::string_view s) {
    if (!all_digits(s) || (s.size() > 1 && s.front() == '0')) return std::nullopt;
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto i = s.find(sep);
        parts.push_back(s.substr(0, i));
        if (i == std::string_view::npos) return parts;
        s.remove_prefix(i + 1);
    }
}

std::strong_ordering compare_identifier(const std::string& a, const std::string& b) {
    const bool an = all_digits(a);
    const bool bn = all_digits(b);
    if (an && bn) {
        // Equal-length digit strings order like their numbers, without overflow.
        if (a.size() != b.size()) return a.size() <=> b.size();
        return a.compare(b) <=> 0;
    }
    if (an != bn) return an ? std::strong_ordering::less : std::strong_ordering::greater;
    return a.compare(b) <=> 0;
}

} // namespace

std::strong_ordering semver::operator<=>(const semver& other) const {
    if (auto c = major <=> other.major; c != 0) return c;
    if (auto c = minor <=> other.minor; c != 0) return c;
    if (auto c = patch <=> other.patch; c != 0) return c;
    // A release outranks its own pre-releases.
    if (prerelease.empty() != other.prerelease.empty())
        return prerelease.empty() ? std::strong_ordering::greater : std::strong_ordering::less;
    const auto n = std::min(prerelease.size(), other.prerelease.size());
    for (std::size_t i = 0; i < n; ++i)
        if (auto c = compare_identifier(prerelease[i], other.prerelease[i]); c != 0) return c;
    return prerelease.size() <=> other.prerelease.size();
}

std::string semver::to_string() const {
    std::string s = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    for (std::size_t i = 0; i < prerelease.size(); ++i) s += (i == 0 ? "-" : ".") + prerelease[i];
    if (!build.empty()) s += "+" + build;
    return s;
}

std::optional<semver> parse_semver(std::string_view text) {
    if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) text.remove_prefix(1);
    semver v;
    if (const auto plus = text.find('+'); plus != std::string_view::npos) {
        const auto build = text.substr(plus + 1);
        for (const auto part : split(build, '.'))
            if (!identifier_chars(part)) return std::nullopt;
        v.build = std::string(build);
        text = text.substr(0, plus);
    }
    if (const auto dash = text.find('-'); dash != std::string_view::npos) {
        for (const auto part : split(text.substr(dash + 1), '.')) {
            if (!identifier_chars(part) || (all_digits(part) && !number(part))) return std::nullopt;
            v.prerelease.emplace_back(part);
        }
        text = text.substr(0, dash);
    }
    const auto core = split(text, '.');
    if (core.size() != 3) return std::nullopt;
    const auto major = number(core[0]);
    const auto minor = number(core[1]);
    const auto patch = number(core[2]);
    if (!major || !minor || !patch) return std::nullopt;
    v.major = *major;
    v.minor = *minor;
    v.patch = *patch;
    return v;
}

} // namespace clipal::app
