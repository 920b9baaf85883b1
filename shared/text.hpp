// Small text helpers for header values and error messages, shared so each has one home.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

namespace clipal {

// `s` (UTF-8, kept as it is) as a double-quoted literal that is both a JSON string and a TOML
// basic string: quote, backslash, \b \f \n \r \t escaped, other control characters and DEL as
// \u00XX.
inline std::string quoted_literal(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() + 2);
    out += '"';
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: {
            const auto u = static_cast<unsigned char>(c);
            if (u < 0x20 || u == 0x7f) {
                out += "\\u00";
                out += hex[u >> 4];
                out += hex[u & 0xF];
            } else {
                out += c;
            }
        }
        }
    }
    out += '"';
    return out;
}

// Strips optional white space (SP and HTAB, RFC 9110 §5.6.3) from both ends.
constexpr std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// True when s is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF), the only text a JSON string, and so the worker's config, can carry.
constexpr bool is_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        if (c < 0xC2 || c > 0xF4) return false;
        const std::size_t n = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3; // continuation bytes
        unsigned char lo = 0x80, hi = 0xBF;                    // the second byte's range
        if (c == 0xE0) lo = 0xA0;                              // overlong
        if (c == 0xED) hi = 0x9F;                              // UTF-16 surrogates
        if (c == 0xF0) lo = 0x90;                              // overlong
        if (c == 0xF4) hi = 0x8F;                              // above U+10FFFF
        if (s.size() - i <= n) return false;
        for (std::size_t k = 1; k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return false;
        }
        i += n + 1;
    }
    return true;
}

// Length of the well-formed UTF-8 sequence (as is_utf8 judges) starting at s[i], or 0
// when the bytes there are not one.
constexpr std::size_t utf8_sequence_at(std::string_view s, std::size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) return 1;
    if (c < 0xC2 || c > 0xF4) return 0;
    const std::size_t n = c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    return s.size() - i > n && is_utf8(s.substr(i, n + 1)) ? n + 1 : 0;
}

// Well-formed UTF-8 of at most `limit` bytes: bytes that are not UTF-8 become U+FFFD, and
// the text is cut at a character boundary. For text a client chose (a model name) that goes
// where only bounded UTF-8 may (a JSON string, a worker report's row).
inline std::string clean_utf8(std::string_view s, std::size_t limit) {
    constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(s.size() < limit ? s.size() : limit);
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_at(s, i);
        const std::string_view piece = n ? s.substr(i, n) : replacement;
        if (out.size() + piece.size() > limit) break;
        out.append(piece);
        i += n ? n : 1;
    }
    return out;
}

// The words for an errno value ("No such file or directory"), for error messages.
inline std::string errno_text(int e) { return std::generic_category().message(e); }

// ASCII case folding for protocol tokens (header names, codings, hosts, schemes); locale-free.
constexpr char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = ascii_lower(c);
    return out;
}

constexpr bool ascii_iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

} // namespace clipal
