// Byte searches for JSON keys (see json_key_scan.hpp).
#include "worker/json_key_scan.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <cstring>

namespace clipal::worker {
namespace {

constexpr std::size_t npos = std::string_view::npos;

#if defined(__SSE2__)
// Of the 16 positions from p, those (one bit each) where `first` is and `probe` is `span` bytes on.
unsigned candidates_at(const char* p, std::size_t span, __m128i first, __m128i probe) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + span));
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, probe))));
}

// The first candidate (see candidates_at) from `at` that is the needle, or npos.
[[gnu::noinline]] std::size_t first_match(std::string_view hay, std::string_view needle, std::size_t at,
                                          unsigned candidates) {
    for (; candidates != 0; candidates &= candidates - 1) {
        const std::size_t i = at + static_cast<std::size_t>(std::countr_zero(candidates));
        if (hay.substr(i, needle.size()) == needle) return i;
    }
    return npos;
}
#endif

} // namespace

std::size_t find_bytes(std::string_view hay, std::string_view needle, std::size_t from,
                       [[maybe_unused]] std::size_t probe) {
    if (from >= hay.size() || needle.size() > hay.size() - from) return npos;
#if defined(__SSE2__)
    // Every SSE line is searched, and memmem's general algorithm costs several instructions
    // per byte on lines this short. Sixteen positions at a time instead: a candidate has the
    // needle's first byte there and its probe byte where the needle has it (W. Muła's
    // "SIMD-friendly algorithms for substring searching").
    const std::size_t span = std::min(probe, needle.size() - 1);
    if (hay.size() - from >= needle.size() + 15) {
        const __m128i first = _mm_set1_epi8(needle.front()), second = _mm_set1_epi8(needle[span]);
        const std::size_t final_block = hay.size() - needle.size() - 15;
        std::size_t i = from;
        for (; i < final_block; i += 16) {
            if (const unsigned c = candidates_at(hay.data() + i, span, first, second); c != 0)
                if (const std::size_t hit = first_match(hay, needle, i, c); hit != npos) return hit;
        }
        // The last block overlaps positions already searched.
        const unsigned c = candidates_at(hay.data() + final_block, span, first, second) & (~0U << (i - final_block));
        return c == 0 ? npos : first_match(hay, needle, final_block, c);
    }
    for (std::size_t i = from; hay.size() - i >= needle.size(); ++i)
        if (hay[i] == needle.front() && hay.substr(i, needle.size()) == needle) return i;
    return npos;
#else
    const void* hit = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
    return hit == nullptr ? npos : static_cast<std::size_t>(static_cast<const char*>(hit) - hay.data());
#endif
}

std::size_t rfind_bytes(std::string_view hay, std::string_view needle, std::size_t end) {
    end = std::min(end, hay.size());
    while (end > 0) {
        const void* hit = ::memrchr(hay.data(), needle.front(), end);
        if (hit == nullptr) return npos;
        const auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - hay.data());
        if (hay.substr(at, needle.size()) == needle) return at;
        end = at;
    }
    return npos;
}

std::optional<key_hit> key_at(std::string_view t, std::size_t pos, std::string_view stem, std::string_view suffix) {
    std::size_t i = pos + stem.size();
    bool long_form = false;
    if (t.substr(i, suffix.size()) == suffix) {
        i += suffix.size();
        long_form = true;
    }
    if (i >= t.size() || t[i] != '"') return std::nullopt;
    ++i;
    while (i < t.size() && is_json_ws(t[i])) ++i;
    if (i >= t.size() || t[i] != ':') return std::nullopt;
    ++i;
    while (i < t.size() && is_json_ws(t[i])) ++i;
    if (i >= t.size()) return std::nullopt;
    return key_hit{i, long_form};
}

bool has_usage_object(std::string_view t) {
    // 'g': `"` followed 4 bytes on by a 'g' is rarer in JSON than by an 'e'.
    for (std::size_t at = find_bytes(t, usage_stem, 0, 4); at != npos; at = find_bytes(t, usage_stem, at + 1, 4)) {
        const auto k = key_at(t, at, usage_stem, usage_suffix);
        if (k && t[k->value] == '{') return true;
    }
    return false;
}

bool has_model_string(std::string_view t) {
    for (std::size_t at = find_bytes(t, model_stem); at != npos; at = find_bytes(t, model_stem, at + 1)) {
        const auto k = key_at(t, at, model_stem, model_suffix);
        if (k && t[k->value] == '"') return true;
    }
    return false;
}

} // namespace clipal::worker
