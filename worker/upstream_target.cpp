// Parsing a provider's base_url with Boost.URL into the pieces the connector, the pool
// and the forwarder use.
#include "worker/upstream_target.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace clipal::worker {
namespace {

bool valid_port(std::string_view p) {
    unsigned value = 0;
    const auto* end = p.data() + p.size();
    const auto [ptr, ec] = std::from_chars(p.data(), end, value);
    return ec == std::errc{} && ptr == end && value >= 1 && value <= 65535;
}

// Characters a DNS name (or an /etc/hosts alias) can carry; anything else would end up
// in a Host header or an SNI extension, so it is refused here.
bool valid_host_name(std::string_view h) {
    return !h.empty() && std::all_of(h.begin(), h.end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_';
    });
}

} // namespace

std::string upstream_target::bracketed_host() const {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::string upstream_target::key() const {
    return std::string(tls ? "https://" : "http://") + bracketed_host() + ":" + port;
}

std::optional<upstream_target> upstream_target::parse(std::string_view base_url, std::string& error) {
    auto parsed = boost::urls::parse_absolute_uri(base_url);
    if (!parsed) {
        error = "is not a valid absolute URL";
        return std::nullopt;
    }
    const boost::urls::url_view& u = *parsed;
    upstream_target t;
    if (u.scheme_id() == boost::urls::scheme::https) {
        t.tls = true;
    } else if (u.scheme_id() == boost::urls::scheme::http) {
        t.tls = false;
    } else {
        error = "must start with http:// or https://";
        return std::nullopt;
    }
    if (u.has_userinfo()) {
        error = "must not contain user:password@";
        return std::nullopt;
    }
    if (u.has_query() || u.has_fragment()) {
        error = "must not contain a query string or fragment";
        return std::nullopt;
    }
    switch (u.host_type()) {
    case boost::urls::host_type::name:
        t.host = u.host_address();
        std::transform(t.host.begin(), t.host.end(), t.host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (!valid_host_name(t.host)) {
            error = "has an invalid host name";
            return std::nullopt;
        }
        break;
    case boost::urls::host_type::ipv4: t.host = u.host_ipv4_address().to_string(); break;
    case boost::urls::host_type::ipv6: t.host = u.host_ipv6_address().to_string(); break;
    default: error = "has no usable host"; return std::nullopt;
    }
    const std::string_view default_port = t.tls ? "443" : "80";
    const std::string_view port = u.has_port() ? std::string_view(u.port()) : std::string_view();
    if (port.empty()) {
        t.port = default_port;
    } else if (!valid_port(port)) {
        error = "has an invalid port (must be 1-65535)";
        return std::nullopt;
    } else {
        // "0443" and "443" are the same port; the canonical form keeps pool keys equal.
        t.port = std::to_string(std::stoul(std::string(port)));
    }
    t.host_header = t.bracketed_host();
    if (t.port != default_port) t.host_header += ":" + t.port;
    std::string_view path = u.encoded_path();
    // Boost.URL 1.81 accepts "host:12ab" as port 12 and path "ab"; a real path after an
    // authority always starts with '/'.
    if (!path.empty() && path.front() != '/') {
        error = "has an invalid port (must be 1-65535)";
        return std::nullopt;
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    t.base_path = path;
    return t;
}

} // namespace clipal::worker
