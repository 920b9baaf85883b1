// Fuzz target for the small value parsers: Go durations (config), Retry-After (seconds or
// HTTP date) and X-RateLimit-Reset-* (upstream answers). Besides "no crash, no sanitizer
// report" it checks that durations are never negative, format_duration's text parses back
// to the same value, and hints stay within max_cooldown.
#include "shared/duration.hpp"
#include "shared/retry_hint.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_hints invariant broken: %s\n", what);
    std::abort();
}

// 2026-11-01, so that HTTP dates on both sides of "now" occur.
const clipal::clock::time_point now{std::chrono::sys_days{std::chrono::year{2026} / 11 / 1}};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clipal;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const auto d = parse_duration(text);
    check(d.value.has_value() == d.error.empty(), "a duration or an error");
    if (d.value) {
        check(*d.value >= duration::zero(), "a duration is not negative");
        const auto again = parse_duration(format_duration(*d.value));
        check(again.value == d.value, "format_duration parses back to the same value");
    }

    const auto after = parse_retry_after(text, now);
    check(!after || *after >= duration::zero(), "Retry-After is not negative");
    const auto reset = parse_rate_limit_reset(text);
    check(!reset || *reset >= duration::zero(), "a rate-limit reset is not negative");
    const auto hint = cooldown_hint(text, text, text, now);
    check(!hint || (*hint >= duration::zero() && *hint <= max_cooldown), "a hint is within the cap");
    check(hint.has_value() == (after.has_value() || reset.has_value()), "a hint when one header parses");
    return 0;
}
