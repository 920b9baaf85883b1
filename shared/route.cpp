// Prefix matching and target joining for the router and the forwarder.
#include "shared/route.hpp"

namespace clipal {
namespace {

// The query string without any `key` parameter ("alt=sse&key=abc" -> "alt=sse").
std::string without_key_param(std::string_view query) {
    std::string out;
    bool removed = false;
    bool first = true;
    std::size_t pos = 0;
    while (pos <= query.size()) {
        const auto amp = query.find('&', pos);
        const auto end = amp == std::string_view::npos ? query.size() : amp;
        const std::string_view param = query.substr(pos, end - pos);
        const std::string_view name = param.substr(0, param.find('='));
        if (name == "key") {
            removed = true;
        } else {
            if (!first) out += '&';
            out += param;
            first = false;
        }
        pos = end + 1;
    }
    return removed ? out : std::string(query);
}

// The length of the segment separator at the start of `s`, 0 when there is none.
std::size_t separator_at(std::string_view s) {
    if (s.starts_with('/') || s.starts_with('\\')) return 1;
    const auto code = s.substr(0, 3);
    return code == "%2f" || code == "%2F" || code == "%5c" || code == "%5C" ? 3 : 0;
}

} // namespace

std::optional<route_match> match_route(std::string_view target) {
    for (const auto& p : all_profiles) {
        if (!target.starts_with(p.prefix)) continue;
        std::string_view rest = target.substr(p.prefix.size());
        if (rest.empty()) return route_match{p.id, "/"};
        if (rest.front() == '/') return route_match{p.id, std::string(rest)};
        if (rest.front() == '?') return route_match{p.id, "/" + std::string(rest)};
    }
    return std::nullopt;
}

std::string join_target(std::string_view base_path, std::string_view rest) {
    const auto q = rest.find('?');
    std::string_view path = rest.substr(0, q);
    while (!base_path.empty() && base_path.back() == '/') base_path.remove_suffix(1);
    if (path.starts_with('/')) path.remove_prefix(1);

    std::string out;
    out.reserve(base_path.size() + rest.size() + 1);
    out += base_path;
    out += '/';
    out += path;
    if (q != std::string_view::npos) {
        const std::string query = without_key_param(rest.substr(q + 1));
        if (!query.empty() || rest.size() == q + 1) {
            out += '?';
            out += query;
        }
    }
    return out;
}

bool has_dot_segment(std::string_view rest) {
    std::string_view path = rest.substr(0, rest.find('?'));
    // Without a '.' or a '%' (for %2e) no segment can be a dot-segment: two memchr scans
    // instead of the walk below for nearly every request.
    if (path.find('.') == std::string_view::npos && path.find('%') == std::string_view::npos) return false;
    int dots = 0; // dots in the current segment (3 stands for more); -1 once it holds anything else
    while (true) {
        const std::size_t sep = separator_at(path);
        if (sep > 0 || path.empty()) {
            if (dots == 1 || dots == 2) return true;
            if (path.empty()) return false;
            dots = 0;
            path.remove_prefix(sep);
            continue;
        }
        std::size_t used = 1;
        if (path.front() == '.' || path.starts_with("%2e") || path.starts_with("%2E")) {
            if (dots >= 0 && dots < 3) ++dots;
            used = path.front() == '.' ? 1 : 3;
        } else {
            dots = -1;
        }
        path.remove_prefix(used);
    }
}

bool is_count_tokens(std::string_view method, std::string_view rest) {
    return method == "POST" && rest.substr(0, rest.find('?')) == "/v1/messages/count_tokens";
}

} // namespace clipal
