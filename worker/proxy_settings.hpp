// Outbound proxy selection from the environment, the way curl reads it: HTTPS_PROXY /
// HTTP_PROXY pick a proxy per target scheme, NO_PROXY exempts hosts. Pure logic: the
// environment comes in through a lookup function so tests pass a map.
//
// Decisions:
// - Every proxied connection is an HTTP CONNECT tunnel, for http:// and https:// targets
//   alike, so the forwarder always speaks origin-form requests to the origin itself.
// - Loopback targets (localhost, 127.0.0.1, ::1) are proxied like any other host unless
//   NO_PROXY names them; curl does the same, and a fake provider on loopback behind a
//   recording proxy is a legitimate setup.
// - Only http:// proxies are supported (no https:// or socks proxies); ALL_PROXY is not read.
#pragma once

#include "worker/upstream_target.hpp"

#include <array>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::worker {

struct proxy_endpoint {
    std::string host;          // name or IP literal, IPv6 without brackets
    std::string port;          // the URL's port, "80" when it has none
    std::string authorization; // "Basic <base64>" from the URL's userinfo, or empty

    // "host:port" (IPv6 bracketed), for pool keys and log lines; never holds credentials.
    std::string key() const;

    bool operator==(const proxy_endpoint&) const = default;
};

class proxy_settings {
public:
    // Returns the variable's value, or nothing when it is not set.
    using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;

    proxy_settings() = default; // no proxy for anything

    // Reads https_proxy/HTTPS_PROXY, http_proxy/HTTP_PROXY and no_proxy/NO_PROXY (the
    // lower-case name wins when both are set, as in curl; an empty value counts as unset).
    // A proxy URL that cannot be used is ignored and explained in `errors` (one sentence
    // each, naming the variable; userinfo is never repeated).
    static proxy_settings from_env(const env_lookup& lookup, std::vector<std::string>& errors);

    // from_env over the process environment (::getenv).
    static proxy_settings from_process_env(std::vector<std::string>& errors);

    // The proxy to tunnel through for this target, or nothing for a direct connection.
    std::optional<proxy_endpoint> proxy_for(const upstream_target& target) const;

    // True when NO_PROXY exempts the host (and port) from proxying.
    bool bypass(std::string_view host, std::string_view port) const;

private:
    // One NO_PROXY entry. An IP entry (optionally a CIDR block) matches IP literals only;
    // a name entry matches the name itself and every subdomain of it.
    struct no_proxy_rule {
        bool any = false; // "*"
        bool ip = false;  // address / prefix below apply
        std::array<unsigned char, 16> address{};
        int prefix_bits = 0; // of the 16-byte (IPv4-mapped for IPv4) address
        std::string name;    // lower-case, without leading "*." or "."
        std::string port;    // empty: any port
    };

    static std::optional<no_proxy_rule> parse_rule(std::string_view entry);

    std::optional<proxy_endpoint> https_;
    std::optional<proxy_endpoint> http_;
    std::vector<no_proxy_rule> no_proxy_;
};

} // namespace clipal::worker
