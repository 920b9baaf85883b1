// RFC 9110 §7.6.1 hop-by-hop handling and the per-protocol credential carrier.
#include "worker/request_rewrite.hpp"

#include "shared/text.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>

namespace clipal::worker {
namespace {

namespace http = boost::beast::http;
using boost::beast::iequals;

// The header names listed in every Connection header ("close" and "keep-alive" included;
// dropping a header that is not there is harmless), as views into `f`. A scan by field code
// rather than a lookup by name, and no allocation for the usual one or two tokens.
using token_list = boost::container::small_vector<std::string_view, 4>;
token_list connection_tokens(const header_block& f) {
    token_list names;
    for (const auto& field : f) {
        if (field.name() != http::field::connection) continue;
        std::string_view v = field.value();
        while (!v.empty()) {
            const auto comma = v.find(',');
            const auto token = trim_ows(v.substr(0, comma));
            if (!token.empty()) names.push_back(token);
            v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
        }
    }
    return names;
}

// RFC 9110 §7.6.1's hop-by-hop headers, by Beast's field code (each has one). Proxy-Connection
// is not standard, but old clients still send it as a hop-by-hop header.
bool is_hop_by_hop(http::field f) {
    switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::proxy_authenticate:
    case http::field::proxy_authorization:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::transfer_encoding:
    case http::field::upgrade: return true;
    default: return false;
    }
}

// A head written into one string: sized once for the usual case, each piece a bounds check
// and a memcpy inlined here (std::string::append is a call into the library per piece, and
// a head has four pieces per field). Grows when the estimate falls short.
class head_writer {
public:
    explicit head_writer(std::size_t estimate) { out_.resize(estimate); }
    // memcpy only with bytes to copy: an empty view may hold a null pointer.
    head_writer& put(std::string_view s) {
        if (!s.empty()) std::memcpy(room(s.size()), s.data(), s.size());
        at_ += s.size();
        return *this;
    }
    void field(std::string_view name, std::string_view value) {
        char* p = room(name.size() + value.size() + 4);
        std::memcpy(p, name.data(), name.size());
        p += name.size();
        p[0] = ':';
        p[1] = ' ';
        if (!value.empty()) std::memcpy(p + 2, value.data(), value.size());
        p += 2 + value.size();
        p[0] = '\r';
        p[1] = '\n';
        at_ += name.size() + value.size() + 4;
    }
    std::string done() && {
        out_.resize(at_);
        return std::move(out_);
    }

private:
    char* room(std::size_t n) {
        if (out_.size() - at_ < n) grow(n);
        return out_.data() + at_;
    }
    [[gnu::noinline]] void grow(std::size_t n) { out_.resize(std::max(out_.size() * 2, at_ + n)); }

    std::string out_;
    std::size_t at_ = 0;
};

template <class Names>
bool listed(const Names& names, std::string_view name) {
    return std::any_of(names.begin(), names.end(), [name](const auto& n) { return iequals(n, name); });
}

auth_carrier carrier_for(const header_block& client, const forward_context& ctx) {
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

// Client headers that have a Beast field code and are never forwarded (hop-by-hop, or
// replaced by clipal's own); compared by code, which is cheaper than by name.
bool dropped_by_code(http::field f) {
    switch (f) {
    case http::field::host:
    case http::field::content_length:
    case http::field::expect:
    case http::field::authorization: return true;
    default: return is_hop_by_hop(f);
    }
}

// The other replaced client headers: Beast has no code for these names.
constexpr std::array<std::string_view, 5> replaced_without_code{"x-api-key", "x-goog-api-key", "X-Forwarded-For",
                                                                "X-Forwarded-Proto", "X-Forwarded-Host"};

// Calls add(name, value) for each header the upstream gets, in order (see upstream_request_head).
template <class Add>
void forward_headers(const header_block& client, const forward_context& ctx, Add&& add) {
    const auto named = connection_tokens(client);
    std::string forwarded_for;
    for (const auto& f : client) {
        const std::string_view name = f.name_string();
        if (f.name() == http::field::unknown) {
            if (iequals(name, "X-Forwarded-For")) {
                if (!forwarded_for.empty()) forwarded_for += ", ";
                forwarded_for += f.value();
            }
            if (listed(replaced_without_code, name)) continue;
        } else if (dropped_by_code(f.name())) {
            continue;
        }
        if (!named.empty() && listed(named, name)) continue;
        add(name, f.value());
    }

    if (!ctx.client_addr.empty()) {
        if (!forwarded_for.empty()) forwarded_for += ", ";
        forwarded_for += ctx.client_addr;
    }
    if (!forwarded_for.empty()) add("X-Forwarded-For", forwarded_for);
    add("X-Forwarded-Proto", "http");
    if (!ctx.client_host.empty()) add("X-Forwarded-Host", ctx.client_host);
    add("Host", ctx.upstream_host);

    switch (carrier_for(client, ctx)) {
    case auth_carrier::automatic:
    case auth_carrier::x_api_key: add("x-api-key", ctx.api_key); break;
    case auth_carrier::bearer: add("Authorization", "Bearer " + std::string(ctx.api_key)); break;
    case auth_carrier::x_goog_api_key: add("x-goog-api-key", ctx.api_key); break;
    }
}

} // namespace

std::string upstream_request_head(std::string_view method, std::string_view target, const header_block& client,
                                  const forward_context& ctx, std::optional<std::uint64_t> content_length) {
    constexpr std::string_view version = " HTTP/1.1\r\n";
    // The client's headers plus clipal's: the usual case in one allocation.
    head_writer head(method.size() + 1 + target.size() + version.size() + 256 + ctx.api_key.size() +
                     client.text_size() + 4 * client.size());
    head.put(method).put(" ").put(target).put(version);
    forward_headers(client, ctx, [&](std::string_view name, std::string_view value) { head.field(name, value); });
    if (content_length) head.field("Content-Length", std::to_string(*content_length));
    head.put("\r\n");
    return std::move(head).done();
}

std::string client_response_head(const response_head& h, const client_framing& f) {
    const auto named = connection_tokens(h);
    std::string_view reason = h.reason();
    if (reason.empty()) reason = http::obsolete_reason(h.result());
    const auto status = std::to_string(h.result_int());
    head_writer head(9 + status.size() + 1 + reason.size() + 2 + 64 + h.text_size() + 4 * h.size());
    const char version[] = {'H', 'T', 'T', 'P', '/', char('0' + f.version / 10), '.', char('0' + f.version % 10), ' '};
    head.put({version, sizeof version}).put(status).put(" ").put(reason).put("\r\n");
    for (const auto& field : h) {
        if (is_hop_by_hop(field.name())) continue;
        if (f.chunked && field.name() == http::field::content_length) continue; // chunks replace it
        const std::string_view name = field.name_string();
        // Connection may name a header hop-by-hop, but not the body's framing: the body that
        // follows is framed by this Content-Length (an upstream that named it must not leave
        // the client without one).
        if (!named.empty() && field.name() != http::field::content_length && listed(named, name)) continue;
        head.field(name, field.value());
    }
    if (f.chunked) head.put("Transfer-Encoding: chunked\r\n");
    if (f.version >= 11 && !f.keep_alive) head.put("Connection: close\r\n");
    if (f.version < 11 && f.keep_alive) head.put("Connection: keep-alive\r\n");
    head.put("\r\n");
    return std::move(head).done();
}

} // namespace clipal::worker
