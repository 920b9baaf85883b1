// The SPEC §4 classification table, the 429 body rules that tell a dead key or an
// exhausted quota (deactivate) from a passing rate limit (cool down and move on), and the
// 400 bodies that say the request is too long for the model (try a larger one).
#include "shared/failure_classifier.hpp"

#include "shared/gzip.hpp"
#include "shared/retry_hint.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <string>

namespace clipal {
namespace {

// A gzip bomb in an error body must not cost more than this.
constexpr std::size_t max_decoded_body = 1024 * 1024;

struct error_fields {
    std::string code, type, message, status; // lower-cased; empty when absent or not a string
};

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
    return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

template <std::size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
    return !s.empty() && std::find(set.begin(), set.end(), s) != set.end();
}

std::string string_field(const boost::json::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v && v->is_string() ? lower(v->get_string()) : std::string{};
}

// Decodes the body when it is compressed; the raw bytes otherwise, or nullopt if undecodable.
std::optional<std::string> decoded_body(const upstream_answer& a) {
    const std::string enc = lower(a.content_encoding);
    const bool magic = a.body.size() >= 2 && a.body[0] == '\x1f' && a.body[1] == '\x8b';
    if (contains(enc, "gzip") || contains(enc, "deflate") || magic) return gunzip(a.body, max_decoded_body);
    return std::string(a.body);
}

// Reads the OpenAI ({"error":{...}}), Anthropic ({"type":"error","error":{...}}), Gemini
// ({"error":{"code","message","status"}}, or that in a one-element array, as
// streamGenerateContent sends it without alt=sse) and flat ({"code","type","message"})
// shapes; nullopt when the body is not a JSON object (or such an array).
std::optional<error_fields> error_fields_of(const upstream_answer& a) {
    if (a.body.empty()) return std::nullopt;
    const auto text = decoded_body(a);
    if (!text) return std::nullopt;
    boost::system::error_code ec;
    const boost::json::value root = boost::json::parse(*text, ec);
    if (ec) return std::nullopt;
    const boost::json::value* top = &root;
    if (root.is_array() && !root.get_array().empty()) top = &root.get_array().front();
    if (!top->is_object()) return std::nullopt;
    const auto& obj = top->get_object();
    error_fields f;
    if (const auto* err = obj.if_contains("error")) {
        if (err->is_object()) {
            const auto& e = err->get_object();
            f.code = string_field(e, "code");
            f.type = string_field(e, "type");
            f.message = string_field(e, "message");
            f.status = string_field(e, "status");
        } else if (err->is_string()) {
            f.message = lower(err->get_string());
        }
        return f;
    }
    f.code = string_field(obj, "code");
    f.type = string_field(obj, "type");
    f.message = string_field(obj, "message");
    f.status = string_field(obj, "status");
    return f;
}

bool auth_like(const error_fields& f) {
    static constexpr std::array<std::string_view, 2> codes{"invalid_api_key", "account_deactivated"};
    static constexpr std::array<std::string_view, 3> types{"authentication_error", "permission_error",
                                                           "invalid_api_key"};
    return one_of(f.code, codes) || one_of(f.type, types) || contains(f.message, "invalid api key");
}

bool quota_like(const error_fields& f) {
    static constexpr std::array<std::string_view, 3> codes{"insufficient_quota", "billing_hard_limit_reached",
                                                           "organization_quota_exceeded"};
    static constexpr std::array<std::string_view, 2> types{"insufficient_quota", "billing_error"};
    return one_of(f.code, codes) || one_of(f.type, types) || contains(f.message, "insufficient quota") ||
           contains(f.message, "billing");
}

// A 400 saying the request does not fit the model's context window (see classify in the
// header for the providers' words).
bool context_length_like(const error_fields& f) {
    return f.code == "context_length_exceeded" || contains(f.message, "maximum context length") ||
           contains(f.message, "exceeds the context window") || contains(f.message, "prompt is too long") ||
           contains(f.message, "exceed context limit") ||
           (f.status == "invalid_argument" && contains(f.message, "input token count") &&
            contains(f.message, "exceeds the maximum"));
}

bool overloaded_body(const upstream_answer& a) {
    const auto f = error_fields_of(a);
    return f && f->type == "overloaded_error";
}

verdict classify_429(const upstream_answer& a, clock::time_point now) {
    if (const auto f = error_fields_of(a)) {
        if (auth_like(*f)) return {action::deactivate, failure_reason::auth, std::nullopt};
        if (quota_like(*f)) return {action::deactivate, failure_reason::quota, std::nullopt};
        if (f->type == "overloaded_error")
            return {action::try_next, failure_reason::overloaded,
                    cooldown_hint(a.retry_after, a.reset_requests, a.reset_tokens, now)};
    }
    return {action::try_next, failure_reason::rate_limited,
            cooldown_hint(a.retry_after, a.reset_requests, a.reset_tokens, now)};
}

} // namespace

std::string_view to_string(failure_reason r) {
    switch (r) {
    case failure_reason::connect: return "connect error";
    case failure_reason::tls: return "TLS error";
    case failure_reason::write: return "write error";
    case failure_reason::reset: return "connection reset";
    case failure_reason::header_timeout: return "response header timeout";
    case failure_reason::idle_timeout: return "idle timeout";
    case failure_reason::bad_response: return "bad response";
    case failure_reason::auth: return "auth";
    case failure_reason::billing: return "billing";
    case failure_reason::quota: return "quota";
    case failure_reason::rate_limited: return "rate limited";
    case failure_reason::overloaded: return "overloaded";
    case failure_reason::server_error: return "server error";
    case failure_reason::context_length: return "context length exceeded";
    case failure_reason::first_byte_timeout: return "no first byte in time";
    }
    return "unknown";
}

bool transient(failure_reason r) {
    switch (r) {
    case failure_reason::connect:
    case failure_reason::write:
    case failure_reason::reset:
    case failure_reason::server_error:
    case failure_reason::overloaded: return true;
    case failure_reason::tls:
    case failure_reason::header_timeout:
    case failure_reason::idle_timeout:
    case failure_reason::first_byte_timeout:
    case failure_reason::bad_response:
    case failure_reason::auth:
    case failure_reason::billing:
    case failure_reason::quota:
    case failure_reason::rate_limited:
    case failure_reason::context_length: return false;
    }
    return false;
}

bool needs_body(int status) { return status == 400 || status == 429 || status == 503; }

verdict classify(const upstream_answer& a, clock::time_point now) {
    switch (a.status) {
    case 401:
    case 403: return {action::deactivate, failure_reason::auth, std::nullopt};
    case 402: return {action::deactivate, failure_reason::billing, std::nullopt};
    case 400: {
        const auto f = error_fields_of(a);
        if (f && context_length_like(*f)) return {action::try_next, failure_reason::context_length, std::nullopt};
        // Gemini rejects a bad key with 400 INVALID_ARGUMENT ("API key not valid"), not a 401.
        if (f && f->status == "invalid_argument" && contains(f->message, "api key not valid"))
            return {action::deactivate, failure_reason::auth, std::nullopt};
        return {action::pass_through, std::nullopt, std::nullopt};
    }
    case 429: return classify_429(a, now);
    case 408:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529: {
        const bool overloaded = a.status == 529 || (a.status == 503 && overloaded_body(a));
        // Only Retry-After: OpenAI sends X-RateLimit-Reset-* on every answer, where they
        // describe the quota window, not this server error.
        return {action::try_next, overloaded ? failure_reason::overloaded : failure_reason::server_error,
                cooldown_hint(a.retry_after, {}, {}, now)};
    }
    default: return {action::pass_through, std::nullopt, std::nullopt};
    }
}

} // namespace clipal
