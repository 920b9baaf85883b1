// Script grammar: step ("," step)*; step = kind [":" arg (":" arg)*] (";" option)* ["*" N].
#include "support/fake_upstream/script.hpp"

#include <charconv>
#include <stdexcept>

namespace clipal::test::fake_upstream {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        const auto at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

[[noreturn]] void bad(std::string_view step_text, const std::string& why) {
    throw std::invalid_argument("bad script step '" + std::string(step_text) + "': " + why);
}

std::size_t number(std::string_view step_text, std::string_view s, const char* what) {
    std::size_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
        bad(step_text, std::string(what) + " must be a non-negative integer, got '" + std::string(s) + "'");
    return v;
}

body_kind parse_body_kind(std::string_view step_text, std::string_view v) {
    struct entry {
        std::string_view name;
        body_kind kind;
    };
    static constexpr entry kinds[] = {
        {"auto", body_kind::automatic},
        {"empty", body_kind::empty},
        {"text", body_kind::text},
        {"anthropic-overloaded", body_kind::anthropic_overloaded},
        {"anthropic-rate-limit", body_kind::anthropic_rate_limit},
        {"anthropic-auth", body_kind::anthropic_auth},
        {"openai-insufficient-quota", body_kind::openai_insufficient_quota},
        {"openai-invalid-key", body_kind::openai_invalid_key},
        {"openai-rate-limit", body_kind::openai_rate_limit},
        {"gemini-resource-exhausted", body_kind::gemini_resource_exhausted},
        {"openai-context-length", body_kind::openai_context_length},
        {"anthropic-prompt-too-long", body_kind::anthropic_prompt_too_long},
        {"gemini-token-limit", body_kind::gemini_token_limit},
        {"openai-content-filter", body_kind::openai_content_filter},
    };
    for (const auto& k : kinds)
        if (k.name == v) return k.kind;
    bad(step_text, "unknown body kind '" + std::string(v) + "'");
}

step parse_step(std::string_view text) {
    step st;
    std::string_view rest = text;
    bool counted = false;
    if (const auto star = rest.rfind('*'); star != std::string_view::npos) {
        st.repeat = number(text, rest.substr(star + 1), "repeat count");
        if (st.repeat == 0) bad(text, "repeat count must be at least 1");
        rest = rest.substr(0, star);
        counted = true;
    }
    auto parts = split(rest, ';');
    const auto head = split(parts.front(), ':');
    const std::string_view kind = head.front();
    auto want_args = [&](std::size_t min, std::size_t max) {
        const auto n = head.size() - 1;
        if (n < min || n > max) bad(text, "wrong number of ':' arguments for '" + std::string(kind) + "'");
    };

    if (kind == "ok") {
        want_args(0, 0);
    } else if (kind == "delay") {
        want_args(1, 1);
        st.delay = std::chrono::milliseconds(number(text, head[1], "delay"));
    } else if (kind == "status") {
        want_args(1, 1);
        st.kind = step_kind::status;
        st.status = static_cast<int>(number(text, head[1], "status"));
        if (st.status < 100 || st.status > 999) bad(text, "status must be 100-999");
    } else if (kind == "refuse") {
        want_args(0, 0);
        st.kind = step_kind::refuse;
    } else if (kind == "reset") {
        want_args(0, 0);
        st.kind = step_kind::reset;
    } else if (kind == "stall-headers") {
        want_args(0, 0);
        st.kind = step_kind::stall_headers;
    } else if (kind == "stall-body") {
        want_args(0, 0);
        st.kind = step_kind::stall_body;
    } else if (kind == "stall-mid") {
        want_args(0, 1);
        st.kind = step_kind::stall_mid;
        st.count = head.size() > 1 ? number(text, head[1], "event count") : 2;
    } else if (kind == "sse") {
        want_args(2, 2);
        st.kind = step_kind::sse;
        st.count = number(text, head[1], "event count");
        st.interval = std::chrono::milliseconds(number(text, head[2], "interval"));
    } else if (kind == "bytes") {
        want_args(1, 1);
        st.kind = step_kind::bytes;
        st.count = number(text, head[1], "byte count");
    } else if (kind == "echo") {
        want_args(0, 0);
        st.kind = step_kind::echo;
    } else if (kind == "bad-framing") {
        want_args(0, 0);
        st.kind = step_kind::bad_framing;
    } else if (kind == "huge-headers") {
        want_args(0, 0);
        st.kind = step_kind::huge_headers;
    } else if (kind == "close-mid") {
        want_args(0, 0);
        st.kind = step_kind::close_mid;
    } else if (kind == "redirect") {
        st.kind = step_kind::redirect;
        st.status = 302;
        // The location may itself contain ':' (a URL), so take everything after "redirect:".
        if (head.size() > 1) st.location = std::string(parts.front().substr(kind.size() + 1));
    } else {
        bad(text, "unknown step kind '" + std::string(kind) + "'");
    }

    for (std::size_t i = 1; i < parts.size(); ++i) {
        const auto opt = parts[i];
        const auto eq = opt.find('=');
        const auto name = opt.substr(0, eq);
        const auto value = eq == std::string_view::npos ? std::string_view{} : opt.substr(eq + 1);
        if (name == "gzip" && eq == std::string_view::npos) {
            st.gzip = true;
        } else if (eq == std::string_view::npos || value.empty()) {
            bad(text, "option '" + std::string(opt) + "' needs a value");
        } else if (name == "for") {
            st.for_duration = std::chrono::milliseconds(number(text, value, "for"));
            if (st.for_duration.count() == 0) bad(text, "for must be at least 1 ms");
            if (counted) bad(text, "a step takes either ;for=<ms> or *N, not both");
        } else if (name == "delay") {
            st.delay = std::chrono::milliseconds(number(text, value, "delay"));
        } else if (name == "retry-after") {
            st.retry_after = std::string(value);
        } else if (name == "reset-requests") {
            st.reset_requests = std::string(value);
        } else if (name == "reset-tokens") {
            st.reset_tokens = std::string(value);
        } else if (name == "body") {
            st.body = parse_body_kind(text, value);
        } else if (name == "interim") {
            // '+' separates the codes: ',' and ';' already separate steps and options.
            for (const auto code : split(value, '+')) {
                const auto v = number(text, code, "interim status");
                if (v < 100 || v > 199) bad(text, "interim status must be 100-199, got '" + std::string(code) + "'");
                st.interim.push_back(static_cast<int>(v));
            }
        } else {
            bad(text, "unknown option '" + std::string(name) + "'");
        }
    }
    return st;
}

} // namespace

const char* step_name(step_kind k) {
    switch (k) {
    case step_kind::ok: return "ok";
    case step_kind::status: return "status";
    case step_kind::refuse: return "refuse";
    case step_kind::reset: return "reset";
    case step_kind::stall_headers: return "stall-headers";
    case step_kind::stall_body: return "stall-body";
    case step_kind::stall_mid: return "stall-mid";
    case step_kind::sse: return "sse";
    case step_kind::bytes: return "bytes";
    case step_kind::echo: return "echo";
    case step_kind::bad_framing: return "bad-framing";
    case step_kind::huge_headers: return "huge-headers";
    case step_kind::close_mid: return "close-mid";
    case step_kind::redirect: return "redirect";
    }
    return "?";
}

const step& script::at(std::size_t request_index) const {
    for (const auto& s : steps) {
        if (request_index < s.repeat) return s;
        request_index -= s.repeat;
    }
    return steps.back();
}

const step& script::next(script_position& pos, std::chrono::steady_clock::time_point now,
                         std::chrono::steady_clock::time_point origin) const {
    if (!pos.started) {
        pos.began = origin;
        pos.started = true;
    }
    while (pos.index + 1 < steps.size()) {
        const step& s = steps[pos.index];
        if (s.for_duration.count() > 0) {
            if (now < pos.began + s.for_duration) return s;
            pos.began += s.for_duration; // the next step begins where this one ended
        } else {
            if (pos.used < s.repeat) {
                ++pos.used;
                return s;
            }
            pos.began = now;
        }
        ++pos.index;
        pos.used = 0;
    }
    return steps.back();
}

script parse_script(std::string_view text) {
    if (text.empty()) throw std::invalid_argument("empty script");
    script out;
    for (const auto step_text : split(text, ',')) {
        if (step_text.empty()) throw std::invalid_argument("empty step in script '" + std::string(text) + "'");
        out.steps.push_back(parse_step(step_text));
    }
    return out;
}

} // namespace clipal::test::fake_upstream
