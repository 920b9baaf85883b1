// Where a provider lives: scheme, host, port and base path parsed once from its base_url,
// plus the strings the upstream client needs on every request (Host header, pool key).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace clipal::worker {

struct upstream_target {
    bool tls = true;         // https
    std::string host;        // lower-case name or IP literal, IPv6 without brackets
    std::string port;        // decimal; "443" / "80" when the URL has none
    std::string base_path;   // encoded path without trailing slashes; "" for the root
    std::string host_header; // host[:port], port only when not the scheme default, IPv6 bracketed

    // "https://host:port" (IPv6 bracketed): identifies interchangeable connections. Made
    // once by parse(), so the pool's lookup for each request builds no string.
    const std::string& key() const { return key_; }
    // The host as it stands in a URL authority or Host header: IPv6 literals in brackets.
    std::string bracketed_host() const;

    bool operator==(const upstream_target&) const = default;

private:
    std::string key_;

public:
    // Parses an absolute http:// or https:// URL with parse_base_url (shared/base_url.hpp),
    // whose words `error` gets when it refuses.
    static std::optional<upstream_target> parse(std::string_view base_url, std::string& error);
};

} // namespace clipal::worker
