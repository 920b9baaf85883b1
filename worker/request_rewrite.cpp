// RFC 9110 §7.6.1 hop-by-hop handling and the per-protocol credential carrier.
#include "worker/request_rewrite.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

namespace clipal::worker {
namespace {

namespace http = boost::beast::http;
using boost::beast::iequals;

// Proxy-Connection is not standard, but old clients still send it as a hop-by-hop header.
constexpr std::array<std::string_view, 9> hop_by_hop{
    "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
    "TE",         "Trailer",    "Transfer-Encoding",  "Upgrade"};

// Never forwarded from the client: replaced by clipal's own values or meaningless upstream.
constexpr std::array<std::string_view, 9> replaced{
    "Host",           "Content-Length",    "Expect",           "x-api-key",       "Authorization",
    "x-goog-api-key", "X-Forwarded-For",   "X-Forwarded-Proto", "X-Forwarded-Host"};

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The header names listed in every Connection header ("close" and "keep-alive" included;
// erasing a header that is not there is harmless).
std::vector<std::string> connection_tokens(const http::fields& f) {
    std::vector<std::string> names;
    auto range = f.equal_range(http::field::connection);
    for (auto it = range.first; it != range.second; ++it) {
        std::string_view v = it->value();
        while (!v.empty()) {
            const auto comma = v.find(',');
            const auto token = trim(v.substr(0, comma));
            if (!token.empty()) names.emplace_back(token);
            v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
        }
    }
    return names;
}

template <class Names>
bool listed(const Names& names, std::string_view name) {
    return std::any_of(names.begin(), names.end(), [name](const auto& n) { return iequals(n, name); });
}

auth_carrier carrier_for(const http::fields& client, const forward_context& ctx) {
    if (ctx.forced != auth_carrier::automatic) return ctx.forced;
    switch (ctx.proto) {
    case protocol::anthropic:
        // Claude Code sends x-api-key with ANTHROPIC_API_KEY, Bearer with ANTHROPIC_AUTH_TOKEN.
        if (client.count("x-api-key") == 0 && client.count(http::field::authorization) != 0)
            return auth_carrier::bearer;
        return auth_carrier::x_api_key;
    case protocol::openai: return auth_carrier::bearer;
    case protocol::gemini: return auth_carrier::x_goog_api_key;
    }
    return auth_carrier::x_api_key;
}

} // namespace

void rewrite_request_headers(const http::fields& client, http::fields& upstream, const forward_context& ctx) {
    const auto named = connection_tokens(client);
    std::string forwarded_for;
    for (const auto& f : client) {
        const std::string_view name = f.name_string();
        if (iequals(name, "X-Forwarded-For")) {
            if (!forwarded_for.empty()) forwarded_for += ", ";
            forwarded_for += f.value();
        }
        if (listed(hop_by_hop, name) || listed(replaced, name) || listed(named, name)) continue;
        upstream.insert(name, f.value());
    }

    if (!ctx.client_addr.empty()) {
        if (!forwarded_for.empty()) forwarded_for += ", ";
        forwarded_for += ctx.client_addr;
    }
    if (!forwarded_for.empty()) upstream.set("X-Forwarded-For", forwarded_for);
    upstream.set("X-Forwarded-Proto", "http");
    if (!ctx.client_host.empty()) upstream.set("X-Forwarded-Host", ctx.client_host);
    upstream.set(http::field::host, ctx.upstream_host);

    switch (carrier_for(client, ctx)) {
    case auth_carrier::automatic:
    case auth_carrier::x_api_key: upstream.set("x-api-key", ctx.api_key); break;
    case auth_carrier::bearer: upstream.set(http::field::authorization, "Bearer " + std::string(ctx.api_key)); break;
    case auth_carrier::x_goog_api_key: upstream.set("x-goog-api-key", ctx.api_key); break;
    }
}

std::string request_head(std::string_view method, std::string_view target, const http::fields& f) {
    constexpr std::string_view version = " HTTP/1.1\r\n";
    std::size_t size = method.size() + 1 + target.size() + version.size() + 2;
    for (const auto& field : f) size += field.name_string().size() + 2 + field.value().size() + 2;
    std::string head;
    head.reserve(size);
    head.append(method).append(1, ' ').append(target).append(version);
    for (const auto& field : f) head.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
    head.append("\r\n");
    return head;
}

std::string response_head(const http::response_header<>& h) {
    std::string_view reason = h.reason();
    if (reason.empty()) reason = http::obsolete_reason(h.result());
    const auto status = std::to_string(h.result_int());
    std::size_t size = 9 + status.size() + 1 + reason.size() + 2 + 2;
    for (const auto& field : h) size += field.name_string().size() + 2 + field.value().size() + 2;
    std::string head;
    head.reserve(size);
    const char version[] = {'H', 'T', 'T', 'P', '/', char('0' + h.version() / 10), '.', char('0' + h.version() % 10), ' '};
    head.append(version, sizeof version).append(status).append(1, ' ').append(reason).append("\r\n");
    for (const auto& field : h) head.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
    head.append("\r\n");
    return head;
}

void strip_hop_by_hop(http::fields& f) {
    for (const auto& name : connection_tokens(f)) f.erase(name);
    for (auto name : hop_by_hop) f.erase(name);
}

} // namespace clipal::worker
