// Small text helpers for header values and error messages, shared so each has one home.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace clipal {

// Strips optional white space (SP and HTAB, RFC 9110 §5.6.3) from both ends.
constexpr std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The words for an errno value ("No such file or directory"), for error messages.
inline std::string errno_text(int e) { return std::generic_category().message(e); }

} // namespace clipal
