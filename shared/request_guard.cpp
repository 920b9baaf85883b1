#include "shared/request_guard.hpp"

#include "shared/text.hpp"

#include <boost/url/parse.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include <arpa/inet.h>

namespace clipal {
namespace {

bool is_port(std::string_view p) {
    if (p.empty() || p.size() > 5) return false;
    unsigned value = 0;
    for (const char c : p) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    return value <= 65535;
}

// RFC 3986 reg-name characters without percent-encoding (no name clipal is reached by needs it).
bool is_reg_name(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_' || c == '~';
    });
}

// A Host as the guard compares it: its canonical text, and what the address parse that
// produced it found (so the checks need no second parse).
struct canonical {
    std::string text;
    bool ip = false;
    bool loopback = false; // 127.0.0.0/8, ::1, ::ffff:127.x.y.z, or the name localhost
};

// The canonical text of an IP address, or nullopt when `s` is not one.
std::optional<canonical> canonical_ip(const std::string& s) {
    // inet_pton reads a C string: "::1\0evil" would pass as ::1.
    if (s.find('\0') != std::string::npos) return std::nullopt;
    std::array<unsigned char, 16> b{};
    // A dotted quad inet_pton takes is canonical already (it refuses leading zeros and all
    // but four decimal octets): no round trip through inet_ntop's sprintf on every request.
    if (::inet_pton(AF_INET, s.c_str(), b.data()) == 1) return canonical{s, true, b[0] == 127};
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (::inet_pton(AF_INET6, s.c_str(), b.data()) != 1 ||
        !::inet_ntop(AF_INET6, b.data(), text.data(), static_cast<socklen_t>(text.size())))
        return std::nullopt;
    const bool zeros10 = std::all_of(b.begin(), b.begin() + 10, [](unsigned char c) { return c == 0; });
    const bool v6_loopback = zeros10 && b[10] == 0 && b[11] == 0 &&
                             std::all_of(b.begin() + 12, b.begin() + 15, [](unsigned char c) { return c == 0; }) &&
                             b[15] == 1;                                                    // ::1
    const bool mapped_loopback = zeros10 && b[10] == 0xff && b[11] == 0xff && b[12] == 127; // ::ffff:127.x.y.z
    return canonical{std::string(text.data()), true, v6_loopback || mapped_loopback};
}

// canonical_host's work, with what it found out.
std::optional<canonical> read_host(std::string_view host_port) {
    std::string_view v = trim_ows(host_port);
    if (v.starts_with('[')) {
        const auto close = v.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const auto rest = v.substr(close + 1);
        if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return std::nullopt;
        const auto inside = v.substr(1, close - 1);
        if (inside.find(':') == std::string_view::npos) return std::nullopt; // brackets hold IPv6 only
        return canonical_ip(ascii_lower(inside));
    }
    const auto colons = std::count(v.begin(), v.end(), ':');
    if (colons > 1) return canonical_ip(ascii_lower(v)); // a bare IPv6 address
    if (colons == 1) {
        const auto colon = v.find(':');
        if (!is_port(v.substr(colon + 1))) return std::nullopt;
        v = v.substr(0, colon);
    }
    if (!is_reg_name(v)) return std::nullopt;
    std::string name = ascii_lower(v);
    if (auto ip = canonical_ip(name)) return ip;
    const bool localhost = name == "localhost";
    return canonical{std::move(name), false, localhost};
}

// A header value for a log line or an error body: at most 200 bytes, quoted, anything
// that is not printable ASCII escaped, so a hostile value cannot forge log lines.
std::string quoted(std::string_view v) {
    constexpr std::size_t max = 200;
    std::string out = "\"";
    for (const char c : v.substr(0, max)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", u);
            out += hex;
        } else {
            out += c;
        }
    }
    out += v.size() > max ? "\"…" : "\"";
    return out;
}

bool host_allowed(std::string_view value, const guard_settings& s) {
    const auto host = read_host(value);
    if (!host) return false;
    if (host->loopback) return true;
    if (std::find(s.allowed_hosts.begin(), s.allowed_hosts.end(), host->text) != s.allowed_hosts.end()) return true;
    const auto listen = canonical_host(s.listen_addr);
    if (!listen) return false;
    // Listening on every address: the Host is whichever of the machine's addresses the
    // client used. An IP literal cannot be DNS-rebound, so any one is accepted.
    if (*listen == "0.0.0.0" || *listen == "::") return host->ip;
    return host->text == *listen;
}

bool origin_allowed(std::string_view value, const guard_settings& s) {
    const std::string origin = ascii_lower(trim_ows(value));
    return std::find(s.allowed_origins.begin(), s.allowed_origins.end(), origin) != s.allowed_origins.end();
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
    authorization = trim_ows(authorization);
    const auto space = authorization.find(' ');
    if (space == std::string_view::npos || !ascii_iequals(authorization.substr(0, space), "bearer"))
        return std::nullopt;
    return trim_ows(authorization.substr(space + 1));
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = ascii_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

std::string percent_decoded(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The values of every `key` query parameter (the name compared as join_target strips it).
std::vector<std::string> query_keys(std::string_view target) {
    std::vector<std::string> out;
    const auto q = target.find('?');
    if (q == std::string_view::npos) return out;
    std::string_view query = target.substr(q + 1);
    while (true) {
        const auto amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        if (param.starts_with("key=")) out.push_back(percent_decoded(param.substr(4)));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

// Where each protocol's clients put their API key, for the 401's advice.
std::string_view carrier_advice(protocol p) {
    switch (p) {
    case protocol::anthropic:
        return "in x-api-key or Authorization: Bearer (Claude Code: set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN "
               "to it)";
    case protocol::openai: return "in Authorization: Bearer (Codex: the env_key of the clipal model provider)";
    case protocol::gemini: return "in x-goog-api-key or ?key= (Gemini CLI: set GEMINI_API_KEY to it)";
    }
    return "";
}

std::optional<guard_refusal> check_token(const guard_input& in, std::string_view token) {
    std::vector<std::string> presented;
    auto add_all = [&](const header_values& values) {
        for (auto v : values) presented.emplace_back(trim_ows(v));
    };
    if (in.proto == protocol::anthropic) add_all(in.x_api_key);
    if (in.proto == protocol::gemini) {
        add_all(in.x_goog_api_key);
        for (auto& k : query_keys(in.target)) presented.push_back(std::move(k));
    }
    if (in.proto != protocol::gemini) {
        for (auto v : in.authorization)
            if (auto t = bearer_token(v)) presented.emplace_back(*t);
    }
    const bool match = std::any_of(presented.begin(), presented.end(),
                                   [&](const std::string& p) { return constant_time_equal(p, token); });
    if (match) return std::nullopt;
    const std::string advice(carrier_advice(in.proto));
    if (presented.empty())
        return guard_refusal{401, "this clipal requires its access_token as the API key; send it " + advice,
                             "no access token presented"};
    return guard_refusal{401, "the API key is not this clipal's access_token; send the access_token " + advice,
                         "wrong access token presented"};
}

} // namespace

std::optional<std::string> canonical_host(std::string_view host_port) {
    auto host = read_host(host_port);
    if (!host) return std::nullopt;
    return std::move(host->text);
}

std::string normalize_origin(std::string& origin) {
    const std::string given = origin;
    if (given == "null")
        return "\"null\" is the origin of sandboxed pages and local files, which any web page can produce; it cannot "
               "be allowed";
    if (given == "*") return "a wildcard would let every web page use your keys; list each origin";
    auto parsed = boost::urls::parse_absolute_uri(given);
    if (!parsed || parsed->encoded_host().empty())
        return "must look like http://host[:port] (the Origin header a browser sends), got \"" + given + "\"";
    if (parsed->has_userinfo() || parsed->has_query() || parsed->has_fragment() ||
        (!parsed->encoded_path().empty() && parsed->encoded_path() != "/"))
        return "must be scheme://host[:port] with no path, query or user, got \"" + given + "\"";
    std::string out = ascii_lower(parsed->scheme()) + "://" + ascii_lower(parsed->encoded_host_and_port());
    const bool default_port = (parsed->scheme_id() == boost::urls::scheme::http && parsed->port() == "80") ||
                              (parsed->scheme_id() == boost::urls::scheme::https && parsed->port() == "443");
    if (default_port || (parsed->has_port() && parsed->port().empty()))
        out = ascii_lower(parsed->scheme()) + "://" + ascii_lower(parsed->encoded_host());
    origin = std::move(out);
    return {};
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    // Digests have one length whatever the inputs: no early exit on a length mismatch.
    std::array<unsigned char, EVP_MAX_MD_SIZE> da{}, db{};
    unsigned int na = 0, nb = 0;
    if (EVP_Digest(a.data(), a.size(), da.data(), &na, EVP_sha256(), nullptr) != 1 ||
        EVP_Digest(b.data(), b.size(), db.data(), &nb, EVP_sha256(), nullptr) != 1)
        return false;
    return na == nb && CRYPTO_memcmp(da.data(), db.data(), na) == 0;
}

std::optional<guard_refusal> check_request(const guard_input& in, const guard_settings& s) {
    for (auto h : in.host) {
        if (host_allowed(h, s)) continue;
        return guard_refusal{403,
                             "Host " + quoted(h) +
                                 " is not this machine's loopback or listen address, so the request may come from a "
                                 "web page through DNS rebinding; if you reach clipal by this name, add it to "
                                 "allowed_hosts in config.yaml",
                             "Host " + quoted(h) + " is not allowed"};
    }
    for (auto o : in.origin) {
        if (origin_allowed(o, s)) continue;
        return guard_refusal{403,
                             "requests from web pages (Origin " + quoted(o) +
                                 ") are refused, so that a page cannot spend your API keys; to allow this page, add "
                                 "its origin to allowed_origins in config.yaml",
                             "Origin " + quoted(o) + " is not allowed"};
    }
    if (s.access_token.empty()) return std::nullopt;
    return check_token(in, s.access_token);
}

} // namespace clipal
