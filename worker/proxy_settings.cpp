// Reading HTTPS_PROXY / HTTP_PROXY / NO_PROXY and matching targets against NO_PROXY.
// IP literals are compared as 16-byte addresses (IPv4 mapped into IPv6) so one CIDR
// routine serves both families.
#include "worker/proxy_settings.hpp"

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace clipal::worker {
namespace {

using address_bytes = std::array<unsigned char, 16>;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::optional<unsigned> parse_number(std::string_view s, unsigned max) {
    unsigned value = 0;
    const auto* end = s.data() + s.size();
    const auto [ptr, ec] = std::from_chars(s.data(), end, value);
    if (s.empty() || ec != std::errc{} || ptr != end || value > max) return std::nullopt;
    return value;
}

// Canonical decimal port, or nothing when `s` is not 1-65535.
std::optional<std::string> canonical_port(std::string_view s) {
    const auto n = parse_number(s, 65535);
    if (!n || *n == 0) return std::nullopt;
    return std::to_string(*n);
}

// The address as 16 bytes and whether it was IPv4 (mapped to ::ffff:a.b.c.d).
std::optional<std::pair<address_bytes, bool>> parse_ip(std::string_view s) {
    if (auto v4 = boost::urls::parse_ipv4_address(s)) return std::pair{boost::urls::ipv6_address(*v4).to_bytes(), true};
    if (auto v6 = boost::urls::parse_ipv6_address(s)) return std::pair{v6->to_bytes(), false};
    return std::nullopt;
}

bool prefix_equal(const address_bytes& a, const address_bytes& b, int bits) {
    for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
        const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
        if ((a[i] & mask) != (b[i] & mask)) return false;
    }
    return true;
}

std::string base64(std::string_view in) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
        const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                           static_cast<unsigned char>(in[i + 2]);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (const auto rest = in.size() - i; rest > 0) {
        unsigned v = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16;
        if (rest == 2) v |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// Parses one proxy variable's value. On failure returns nothing and sets `why`.
std::optional<proxy_endpoint> parse_proxy_url(std::string_view value, std::string& why) {
    // curl and most tools accept "host:port" without a scheme and mean http://.
    std::string text(value);
    if (text.find("://") == std::string::npos) text = "http://" + text;
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) {
        why = "is not a valid URL";
        return std::nullopt;
    }
    const boost::urls::url_view& u = *parsed;
    if (u.scheme_id() != boost::urls::scheme::http) {
        why = "uses " + lower(u.scheme()) + "://, but only http:// proxies are supported";
        return std::nullopt;
    }
    proxy_endpoint p;
    switch (u.host_type()) {
    case boost::urls::host_type::name: p.host = lower(u.host_address()); break;
    case boost::urls::host_type::ipv4: p.host = u.host_ipv4_address().to_string(); break;
    case boost::urls::host_type::ipv6: p.host = u.host_ipv6_address().to_string(); break;
    default: break;
    }
    if (p.host.empty()) {
        why = "has no host";
        return std::nullopt;
    }
    // Boost.URL 1.81 reads "host:31x8" as port 31 and path "x8"; refuse that.
    if (!u.encoded_path().empty() && u.encoded_path().front() != '/') {
        why = "has an invalid port (must be 1-65535)";
        return std::nullopt;
    }
    if (!u.has_port() || u.port().empty()) {
        p.port = "80";
    } else if (auto port = canonical_port(u.port())) {
        p.port = *port;
    } else {
        why = "has an invalid port (must be 1-65535)";
        return std::nullopt;
    }
    if (u.has_userinfo()) p.authorization = "Basic " + base64(std::string(u.user()) + ":" + std::string(u.password()));
    return p;
}

// The first non-empty value among the names, with the name it came from.
std::optional<std::pair<std::string, std::string>> first_set(const proxy_settings::env_lookup& lookup,
                                                             std::initializer_list<std::string_view> names) {
    for (auto name : names)
        if (auto v = lookup(name); v && !v->empty()) return std::pair{std::string(name), std::move(*v)};
    return std::nullopt;
}

std::optional<proxy_endpoint> read_proxy(const proxy_settings::env_lookup& lookup, std::string_view lower_name,
                                         std::string_view upper_name, std::vector<std::string>& errors) {
    const auto v = first_set(lookup, {lower_name, upper_name});
    if (!v) return std::nullopt;
    std::string why;
    auto p = parse_proxy_url(v->second, why);
    if (!p) errors.push_back(v->first + " " + why + "; it is ignored and those connections go direct");
    return p;
}

} // namespace

std::string proxy_endpoint::key() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

proxy_settings proxy_settings::from_env(const env_lookup& lookup, std::vector<std::string>& errors) {
    proxy_settings s;
    s.https_ = read_proxy(lookup, "https_proxy", "HTTPS_PROXY", errors);
    s.http_ = read_proxy(lookup, "http_proxy", "HTTP_PROXY", errors);
    if (const auto v = first_set(lookup, {"no_proxy", "NO_PROXY"})) {
        const std::string& list = v->second;
        std::size_t i = 0;
        while (i < list.size()) {
            const auto end = list.find_first_of(", \t\n", i);
            const auto entry = std::string_view(list).substr(i, end == std::string::npos ? std::string::npos : end - i);
            if (auto rule = parse_rule(entry)) s.no_proxy_.push_back(std::move(*rule));
            if (end == std::string::npos) break;
            i = end + 1;
        }
    }
    return s;
}

proxy_settings proxy_settings::from_process_env(std::vector<std::string>& errors) {
    return from_env(
        [](std::string_view name) -> std::optional<std::string> {
            const char* v = std::getenv(std::string(name).c_str());
            if (v == nullptr) return std::nullopt;
            return std::string(v);
        },
        errors);
}

std::optional<proxy_settings::no_proxy_rule> proxy_settings::parse_rule(std::string_view entry) {
    if (entry.empty()) return std::nullopt;
    no_proxy_rule r;
    if (entry == "*") {
        r.any = true;
        return r;
    }
    std::string_view host = entry;
    std::string_view port;
    if (host.front() == '[') {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const auto after = host.substr(close + 1);
        host = host.substr(1, close - 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
        }
    } else if (const auto colon = host.find(':'); colon != std::string_view::npos && host.rfind(':') == colon) {
        // Exactly one colon: host:port. More than one is a bare IPv6 literal.
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
    }
    if (!port.empty()) {
        auto p = canonical_port(port);
        if (!p) return std::nullopt;
        r.port = std::move(*p);
    }
    std::string_view address = host;
    std::optional<unsigned> bits;
    if (const auto slash = host.find('/'); slash != std::string_view::npos) {
        address = host.substr(0, slash);
        bits = parse_number(host.substr(slash + 1), 128);
        if (!bits) return std::nullopt;
    }
    if (auto ip = parse_ip(address)) {
        const unsigned family_bits = ip->second ? 32 : 128;
        if (bits && *bits > family_bits) return std::nullopt;
        r.ip = true;
        r.address = ip->first;
        r.prefix_bits = static_cast<int>((ip->second ? 96 : 0) + bits.value_or(family_bits));
        return r;
    }
    if (bits) return std::nullopt; // a "/n" suffix on something that is not an address
    std::string name = lower(host);
    if (name.starts_with("*."))
        name.erase(0, 2);
    else if (name.starts_with("."))
        name.erase(0, 1);
    while (!name.empty() && name.back() == '.') name.pop_back();
    if (name.empty()) return std::nullopt;
    r.name = std::move(name);
    return r;
}

bool proxy_settings::bypass(std::string_view host_in, std::string_view port) const {
    if (no_proxy_.empty()) return false;
    std::string host = lower(host_in);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    while (!host.empty() && host.back() == '.') host.pop_back();
    const auto ip = parse_ip(host);
    const auto target_port = canonical_port(port).value_or(std::string(port));
    for (const auto& r : no_proxy_) {
        if (r.any) return true;
        if (!r.port.empty() && r.port != target_port) continue;
        if (r.ip) {
            if (ip && prefix_equal(r.address, ip->first, r.prefix_bits)) return true;
            continue;
        }
        // Name rules never match IP literals: "0.1" must not exempt 127.0.0.1.
        if (ip) continue;
        if (host == r.name) return true;
        if (host.size() > r.name.size() && host.ends_with(r.name) && host[host.size() - r.name.size() - 1] == '.')
            return true;
    }
    return false;
}

std::optional<proxy_endpoint> proxy_settings::proxy_for(const upstream_target& target) const {
    const auto& proxy = target.tls ? https_ : http_;
    if (!proxy || bypass(target.host, target.port)) return std::nullopt;
    return proxy;
}

} // namespace clipal::worker
