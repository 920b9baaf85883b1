// Fuzz target for the classification of an upstream's answer (failure_classifier, gzip,
// retry_hint): whatever status, hint headers and body (JSON, gzip, garbage) an upstream
// sends. The input is text lines: status, Retry-After, X-RateLimit-Reset-Requests,
// X-RateLimit-Reset-Tokens, Content-Encoding, then the body's raw bytes.
#include "shared/failure_classifier.hpp"
#include "shared/gzip.hpp"
#include "shared/retry_hint.hpp"

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_error_body invariant broken: %s\n", what);
    std::abort();
}

std::string_view next_line(std::string_view& in) {
    const auto eol = in.find('\n');
    const auto line = in.substr(0, eol);
    in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
    return line;
}

// The classifier's own test: the header names gzip or deflate, in any case.
bool says_compressed(const clipal::upstream_answer& a) {
    std::string enc(a.content_encoding);
    for (auto& c : enc) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return enc.find("gzip") != std::string::npos || enc.find("deflate") != std::string::npos;
}

bool same(const clipal::verdict& a, const clipal::verdict& b) {
    return a.act == b.act && a.reason == b.reason && a.cooldown == b.cooldown;
}

// 2026-11-01, so that HTTP dates on both sides of "now" occur.
const clipal::clock::time_point now{std::chrono::sys_days{std::chrono::year{2026} / 11 / 1}};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clipal;
    std::string_view in(reinterpret_cast<const char*>(data), size);
    upstream_answer a;
    const auto status = next_line(in);
    std::from_chars(status.data(), status.data() + status.size(), a.status);
    a.retry_after = next_line(in);
    a.reset_requests = next_line(in);
    a.reset_tokens = next_line(in);
    a.content_encoding = next_line(in);
    a.body = in.substr(0, classify_body_limit);

    const verdict v = classify(a, now);
    check((v.act == action::pass_through) != v.reason.has_value(), "a failure has a reason, a pass-through none");
    check(!v.cooldown || (*v.cooldown >= duration::zero() && *v.cooldown <= max_cooldown), "cooldown in range");
    if (!needs_body(a.status)) {
        upstream_answer head_only = a;
        head_only.body = {};
        check(same(classify(head_only, now), v), "a status that needs no body is classified on the head alone");
    }

    // A compressed body means what its decompressed text means.
    if (const auto plain = gunzip(a.body, 1024 * 1024);
        plain && !plain->starts_with("\x1f\x8b") && (a.body.starts_with("\x1f\x8b") || says_compressed(a))) {
        upstream_answer decoded = a;
        decoded.content_encoding = {};
        decoded.body = *plain;
        check(same(classify(decoded, now), v), "a gzip body classifies like its text");
    }
    if (const auto small = gunzip(a.body, 100)) check(small->size() <= 100, "gunzip keeps to its limit");

    const auto hint = cooldown_hint(a.retry_after, a.reset_requests, a.reset_tokens, now);
    check(!hint || (*hint >= duration::zero() && *hint <= max_cooldown), "a hint is within the cap");
    return 0;
}
