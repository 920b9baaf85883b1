#include "shared/base_url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace clipal {
namespace {

std::optional<unsigned> port_number(std::string_view p) {
    unsigned value = 0;
    const auto* end = p.data() + p.size();
    const auto [ptr, ec] = std::from_chars(p.data(), end, value);
    if (ec != std::errc{} || ptr != end || value < 1 || value > 65535) return std::nullopt;
    return value;
}

// Characters a DNS name (or an /etc/hosts alias) can carry; anything else would end up
// in a Host header or an SNI extension, so it is refused here.
bool valid_host_name(std::string_view h) {
    return std::all_of(h.begin(), h.end(),
                       [](unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_'; });
}

// RFC 6761: "localhost" and names under it are this machine.
bool loopback_name(std::string_view h) {
    if (!h.empty() && h.back() == '.') h.remove_suffix(1);
    return h == "localhost" || (h.size() > 10 && h.substr(h.size() - 10) == ".localhost");
}

std::optional<base_url> refuse(std::string& error, std::string words) {
    error = std::move(words);
    return std::nullopt;
}

} // namespace

std::optional<base_url> parse_base_url(std::string_view url, std::string& error) {
    auto parsed = boost::urls::parse_uri(url); // not parse_absolute_uri: a fragment gets its own words
    if (!parsed) return refuse(error, "is not a valid absolute URL");
    const boost::urls::url_view& u = *parsed;
    base_url b;
    if (u.scheme_id() == boost::urls::scheme::https)
        b.tls = true;
    else if (u.scheme_id() == boost::urls::scheme::http)
        b.tls = false;
    else
        return refuse(error, "must start with http:// or https://");
    if (u.has_userinfo()) return refuse(error, "must not contain user:password@ (put the key in api_key)");
    if (u.has_query() || u.has_fragment())
        return refuse(error, "must not contain a query string or fragment (put the key in api_key)");
    switch (u.host_type()) {
    case boost::urls::host_type::name:
        b.host = u.host_address();
        if (b.host.empty()) return refuse(error, "has no host");
        std::transform(b.host.begin(), b.host.end(), b.host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (!valid_host_name(b.host))
            return refuse(error, "has an invalid host name (letters, digits, '-', '.' and '_' only)");
        b.loopback = loopback_name(b.host);
        break;
    case boost::urls::host_type::ipv4:
        b.host = u.host_ipv4_address().to_string();
        b.loopback = u.host_ipv4_address().is_loopback();
        break;
    case boost::urls::host_type::ipv6: {
        const auto a = u.host_ipv6_address();
        b.host = a.to_string();
        b.loopback = a.is_loopback() || (a.is_v4_mapped() && a.to_bytes()[12] == 127);
        break;
    }
    default: return refuse(error, "has no usable host");
    }
    // Boost.URL 1.81 reads "host:443x/v1" as port 443 and path "x/v1"; a real path after
    // an authority starts with '/', so anything else is the rest of a bad port.
    const std::string_view path = u.encoded_path();
    if (!path.empty() && path.front() != '/') return refuse(error, "has an invalid port (must be 1-65535)");
    if (const std::string_view port = u.has_port() ? std::string_view(u.port()) : std::string_view(); port.empty()) {
        b.port = b.tls ? "443" : "80";
    } else if (const auto n = port_number(port)) {
        b.port = std::to_string(*n); // "0443" and "443" are one port: pool keys stay equal
    } else {
        return refuse(error, "has an invalid port (must be 1-65535)");
    }
    b.base_path = path;
    while (!b.base_path.empty() && b.base_path.back() == '/') b.base_path.pop_back();
    return b;
}

} // namespace clipal
