// A provider's base_url, checked by the shared validator (the one `clipal check` uses),
// into the pieces the connector, the pool and the forwarder use.
#include "worker/upstream_target.hpp"

#include "shared/base_url.hpp"

namespace clipal::worker {

std::string upstream_target::bracketed_host() const {
    return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::optional<upstream_target> upstream_target::parse(std::string_view base_url, std::string& error) {
    auto b = parse_base_url(base_url, error);
    if (!b) return std::nullopt;
    upstream_target t;
    t.tls = b->tls;
    t.host = std::move(b->host);
    t.port = std::move(b->port);
    t.base_path = std::move(b->base_path);
    t.host_header = t.bracketed_host();
    if (t.port != (t.tls ? "443" : "80")) t.host_header += ":" + t.port;
    t.key_ = std::string(t.tls ? "https://" : "http://") + t.bracketed_host() + ":" + t.port;
    return t;
}

} // namespace clipal::worker
