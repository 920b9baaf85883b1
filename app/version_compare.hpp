// Semantic version parsing and precedence (semver.org 2.0 §11) for `clipal update`:
// release tags like "v1.2.10" against the running version. Pure: no I/O.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::app {

struct semver {
    std::uint64_t major = 0;
    std::uint64_t minor = 0;
    std::uint64_t patch = 0;
    std::vector<std::string> prerelease; // dot-separated identifiers after '-'; empty for a release
    std::string build;                   // after '+'; ignored by comparisons

    // Precedence: numbers numerically, then a pre-release sorts before its release
    // (1.3.0-rc.1 < 1.3.0), identifiers compared left to right (numeric ones numerically
    // and below alphanumeric ones, a shorter list first when all else is equal).
    std::strong_ordering operator<=>(const semver& other) const;
    bool operator==(const semver& other) const { return (*this <=> other) == 0; }

    bool is_prerelease() const { return !prerelease.empty(); }
    // "1.2.3-rc.1+build" (no leading 'v').
    std::string to_string() const;
};

// Parses "1.2.3", "v1.2.3", "1.2.3-rc.1", "1.2.3+meta". Leading zeros in numbers, empty
// identifiers and characters outside [0-9A-Za-z-] are refused (nullopt), as semver says.
std::optional<semver> parse_semver(std::string_view text);

} // namespace clipal::app
