// The one validator of a provider's base_url. The config loader (so `clipal check` and the
// supervisor) and the worker's upstream_target both parse with it, so a URL that check
// accepts is one the worker can use, and both refuse a bad one in the same words. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace clipal {

struct base_url {
    bool tls = true;       // https
    std::string host;      // lower-case name or IP literal, IPv6 without brackets
    std::string port;      // canonical decimal ("0443" is "443"); "443" / "80" when the URL has none
    std::string base_path; // encoded path without trailing slashes; "" for the root
    bool loopback = false; // localhost, *.localhost, 127.0.0.0/8, ::1 (also IPv4-mapped)
};

// Parses an absolute http:// or https:// URL. Returns nothing and sets `error` to words
// that follow "base_url" ("has an invalid port (must be 1-65535)") when the URL has
// another scheme, no host, a bad host name, a bad port, userinfo, a query or a fragment.
// The error never repeats the URL: its userinfo or query may hold a key.
std::optional<base_url> parse_base_url(std::string_view url, std::string& error);

} // namespace clipal
