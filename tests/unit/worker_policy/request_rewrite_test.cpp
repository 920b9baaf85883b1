#include "worker/request_rewrite.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/write.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace http = boost::beast::http;
using clipal::auth_carrier;
using clipal::protocol;
using clipal::worker::forward_context;
using clipal::worker::upstream_request_head;

namespace {

constexpr std::string_view provider_key = "sk-provider-key-0123456789";
constexpr std::string_view client_key = "client-dummy-key";

forward_context ctx_for(protocol p, auth_carrier forced = auth_carrier::automatic) {
    return {p, forced, provider_key, "api.example.test", "127.0.0.1", "127.0.0.1:3333"};
}

// The client's headers as the worker's parser keeps them.
using client_fields = clipal::worker::header_block;

// The headers the upstream gets, read back from the head on the wire by Beast's parser.
http::fields rewrite(const client_fields& client, const forward_context& ctx) {
    const auto head = upstream_request_head("POST", "/v1/x", client, ctx, std::nullopt);
    http::request_parser<http::empty_body> parser;
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(head.data(), head.size()), ec);
    EXPECT_FALSE(ec) << ec.message() << "\n" << head;
    EXPECT_TRUE(parser.is_done()) << head;
    return std::move(parser.release().base());
}

template <class Fields>
std::string value(const Fields& f, std::string_view name) {
    auto it = f.find(name);
    return it == f.end() ? std::string("<absent>") : std::string(it->value());
}

// No header of the result may carry the client's credential, whatever its name.
void expect_no_client_key(const http::fields& f) {
    for (const auto& h : f)
        EXPECT_EQ(std::string_view(h.value()).find(client_key), std::string_view::npos) << h.name_string();
}

} // namespace

TEST(RequestRewrite, AnthropicXApiKeyStaysXApiKey) {
    client_fields c;
    c.set("x-api-key", client_key);
    c.set("anthropic-version", "2023-06-01");
    const auto up = rewrite(c, ctx_for(protocol::anthropic));
    EXPECT_EQ(value(up, "x-api-key"), provider_key);
    EXPECT_EQ(up.count(http::field::authorization), 0u);
    EXPECT_EQ(value(up, "anthropic-version"), "2023-06-01");
    expect_no_client_key(up);
}

TEST(RequestRewrite, AnthropicBearerOnlyStaysBearer) {
    client_fields c;
    c.set(http::field::authorization, "Bearer " + std::string(client_key));
    const auto up = rewrite(c, ctx_for(protocol::anthropic));
    EXPECT_EQ(value(up, "Authorization"), "Bearer " + std::string(provider_key));
    EXPECT_EQ(up.count("x-api-key"), 0u);
    expect_no_client_key(up);
}

TEST(RequestRewrite, AnthropicBothCredentialsUseXApiKey) {
    client_fields c;
    c.set("x-api-key", client_key);
    c.set(http::field::authorization, "Bearer " + std::string(client_key));
    const auto up = rewrite(c, ctx_for(protocol::anthropic));
    EXPECT_EQ(value(up, "x-api-key"), provider_key);
    EXPECT_EQ(up.count(http::field::authorization), 0u);
    expect_no_client_key(up);
}

TEST(RequestRewrite, AnthropicNoCredentialAddsXApiKey) {
    client_fields c;
    c.set("x-app", "cli");
    const auto up = rewrite(c, ctx_for(protocol::anthropic));
    EXPECT_EQ(value(up, "x-api-key"), provider_key);
    EXPECT_EQ(value(up, "x-app"), "cli");
}

TEST(RequestRewrite, CodexWithoutAuthHeaderGetsBearer) {
    client_fields c;
    c.set(http::field::content_type, "application/json");
    const auto up = rewrite(c, ctx_for(protocol::openai));
    EXPECT_EQ(value(up, "Authorization"), "Bearer " + std::string(provider_key));
    EXPECT_EQ(up.count("x-api-key"), 0u);
}

TEST(RequestRewrite, CodexBearerIsReplaced) {
    client_fields c;
    c.set(http::field::authorization, "Bearer " + std::string(client_key));
    c.set("x-api-key", client_key);
    const auto up = rewrite(c, ctx_for(protocol::openai));
    EXPECT_EQ(value(up, "Authorization"), "Bearer " + std::string(provider_key));
    EXPECT_EQ(up.count("x-api-key"), 0u);
    EXPECT_EQ(up.count(http::field::authorization), 1u);
    expect_no_client_key(up);
}

TEST(RequestRewrite, GeminiBothHeadersBecomeGoogKeyOnly) {
    client_fields c;
    c.set("x-goog-api-key", client_key);
    c.set(http::field::authorization, "Bearer " + std::string(client_key));
    const auto up = rewrite(c, ctx_for(protocol::gemini));
    EXPECT_EQ(value(up, "x-goog-api-key"), provider_key);
    EXPECT_EQ(up.count(http::field::authorization), 0u);
    EXPECT_EQ(up.count("x-api-key"), 0u);
    expect_no_client_key(up);
}

TEST(RequestRewrite, ForcedCarrierOverridesTheProfileRule) {
    client_fields c;
    c.set(http::field::authorization, "Bearer " + std::string(client_key));
    auto up = rewrite(c, ctx_for(protocol::anthropic, auth_carrier::x_api_key));
    EXPECT_EQ(value(up, "x-api-key"), provider_key);
    EXPECT_EQ(up.count(http::field::authorization), 0u);

    up = rewrite(c, ctx_for(protocol::gemini, auth_carrier::bearer));
    EXPECT_EQ(value(up, "Authorization"), "Bearer " + std::string(provider_key));
    EXPECT_EQ(up.count("x-goog-api-key"), 0u);

    up = rewrite(c, ctx_for(protocol::openai, auth_carrier::x_goog_api_key));
    EXPECT_EQ(value(up, "x-goog-api-key"), provider_key);
    EXPECT_EQ(up.count(http::field::authorization), 0u);
    expect_no_client_key(up);
}

TEST(RequestRewrite, CredentialHeaderNamesAreCaseInsensitive) {
    client_fields c;
    c.insert("X-API-KEY", client_key);
    c.insert("X-Goog-Api-Key", client_key);
    c.insert("AUTHORIZATION", client_key);
    for (auto p : {protocol::anthropic, protocol::openai, protocol::gemini}) {
        const auto up = rewrite(c, ctx_for(p));
        expect_no_client_key(up);
    }
}

TEST(RequestRewrite, HopByHopAndConnectionNamedHeadersAreDropped) {
    client_fields c;
    c.set(http::field::connection, "keep-alive, X-Secret-Hop ,upgrade");
    c.insert(http::field::connection, "x-other-hop");
    c.set("X-Secret-Hop", "1");
    c.set("x-other-hop", "2");
    c.set(http::field::keep_alive, "timeout=5");
    c.set(http::field::proxy_authenticate, "Basic");
    c.set(http::field::proxy_authorization, "Basic abc");
    c.set("Proxy-Connection", "keep-alive");
    c.set(http::field::te, "trailers");
    c.set(http::field::trailer, "x-checksum");
    c.set(http::field::transfer_encoding, "chunked");
    c.set(http::field::upgrade, "websocket");
    c.set(http::field::content_length, "42");
    c.set(http::field::expect, "100-continue");
    c.set(http::field::host, "127.0.0.1:3333");
    c.set("anthropic-beta", "a,b");
    const auto up = rewrite(c, ctx_for(protocol::anthropic));
    for (const char* gone :
         {"Connection", "X-Secret-Hop", "x-other-hop", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
          "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect"})
        EXPECT_EQ(up.count(gone), 0u) << gone;
    EXPECT_EQ(value(up, "anthropic-beta"), "a,b");
}

TEST(RequestRewrite, HostIsTheUpstreamsAndForwardedHeadersAreSet) {
    client_fields c;
    c.set(http::field::host, "127.0.0.1:3333");
    c.set("X-Forwarded-Proto", "https");
    c.set("X-Forwarded-Host", "evil.test");
    const auto up = rewrite(c, ctx_for(protocol::openai));
    EXPECT_EQ(up.count(http::field::host), 1u);
    EXPECT_EQ(value(up, "Host"), "api.example.test");
    EXPECT_EQ(value(up, "X-Forwarded-For"), "127.0.0.1");
    EXPECT_EQ(value(up, "X-Forwarded-Proto"), "http");
    EXPECT_EQ(value(up, "X-Forwarded-Host"), "127.0.0.1:3333");
    EXPECT_EQ(up.count("X-Forwarded-Proto"), 1u);
    EXPECT_EQ(up.count("X-Forwarded-Host"), 1u);
}

TEST(RequestRewrite, ForwardedForAppendsToTheClientsChain) {
    client_fields c;
    c.insert("X-Forwarded-For", "10.0.0.1");
    c.insert("x-forwarded-for", "10.0.0.2, 10.0.0.3");
    const auto up = rewrite(c, ctx_for(protocol::gemini));
    EXPECT_EQ(up.count("X-Forwarded-For"), 1u);
    EXPECT_EQ(value(up, "X-Forwarded-For"), "10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1");
}

TEST(RequestRewrite, EndToEndHeadersKeepOrderAndRepeats) {
    client_fields c;
    c.insert("accept", "text/event-stream");
    c.insert("x-custom", "1");
    c.insert("accept-encoding", "gzip, br");
    c.insert("x-custom", "2");
    // On the wire: the client's fields first, in the client's order, repeats where it put them.
    const auto head = upstream_request_head("POST", "/v1/chat/completions", c, ctx_for(protocol::openai), 2);
    EXPECT_EQ(head.substr(0, head.find("X-Forwarded-For")), "POST /v1/chat/completions HTTP/1.1\r\n"
                                                            "accept: text/event-stream\r\n"
                                                            "x-custom: 1\r\n"
                                                            "accept-encoding: gzip, br\r\n"
                                                            "x-custom: 2\r\n");
    const auto up = rewrite(c, ctx_for(protocol::openai));
    EXPECT_EQ(up.count("x-custom"), 2u);
    EXPECT_EQ(value(up, "accept-encoding"), "gzip, br");
}

// What the client's head was before client_response_head: Beast's own operations on a copy.
std::string beast_client_head(const clipal::worker::response_head& h, const clipal::worker::client_framing& f) {
    std::vector<std::string> named;
    for (const auto& field : h)
        if (field.name() == http::field::connection)
            for (auto v = std::string_view(field.value()); !v.empty();) {
                const auto comma = v.find(',');
                auto token = v.substr(0, comma);
                while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
                while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
                if (!token.empty()) named.emplace_back(token);
                v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
            }
    http::response<http::empty_body> m;
    m.result(h.result_int());
    m.reason(h.reason());
    for (const auto& field : h) m.insert(field.name(), field.name_string(), field.value());
    for (const auto& n : named) m.erase(n);
    for (auto n : {"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "TE",
                   "Trailer", "Transfer-Encoding", "Upgrade"})
        m.erase(n);
    m.version(f.version);
    if (f.chunked) m.chunked(true);
    m.keep_alive(f.keep_alive);
    std::ostringstream out;
    out << m.base();
    return out.str();
}

TEST(ClientResponseHead, DropsHopByHopHeadersAndThoseConnectionNames) {
    clipal::worker::response_head h;
    h.result(http::status::ok);
    h.version(11);
    h.set(http::field::connection, "close, X-Hop");
    h.set("X-Hop", "1");
    h.set(http::field::transfer_encoding, "chunked");
    h.set(http::field::keep_alive, "timeout=5");
    h.set(http::field::content_type, "text/event-stream");
    h.set("request-id", "req_1");
    h.set(http::field::upgrade, "h2c");
    h.set(http::field::te, "trailers");
    h.set(http::field::trailer, "x");
    h.set("Proxy-Connection", "keep-alive");
    const auto head = clipal::worker::client_response_head(h, {11, true, true});
    for (const char* gone : {"Connection", "X-Hop", "Keep-Alive", "Upgrade", "TE:", "Trailer", "Proxy-Connection"})
        EXPECT_EQ(head.find(gone), std::string::npos) << gone;
    EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos);
    EXPECT_NE(head.find("request-id: req_1\r\n"), std::string::npos);
    EXPECT_EQ(head.find("Transfer-Encoding"), head.rfind("Transfer-Encoding")) << "the upstream's one is dropped";
}

TEST(ClientResponseHead, IsWhatBeastWritesAfterStrippingAndSettingTheFraming) {
    clipal::worker::response_head h;
    h.result(http::status::ok);
    h.reason("Fine");
    h.set(http::field::content_type, "application/json");
    h.insert("x-custom", "1");
    h.insert("x-custom", "2");
    h.set(http::field::connection, "keep-alive, x-Other");
    h.set("X-Other", "gone");
    h.set(http::field::content_length, "278");
    for (unsigned upstream_version : {10u, 11u})
        for (unsigned version : {10u, 11u})
            for (bool chunked : {false, true})
                for (bool keep_alive : {false, true}) {
                    if (chunked && version < 11) continue; // an HTTP/1.0 client never gets chunks
                    h.version(upstream_version);
                    const clipal::worker::client_framing f{version, chunked, keep_alive};
                    EXPECT_EQ(clipal::worker::client_response_head(h, f), beast_client_head(h, f))
                        << version << chunked << keep_alive;
                }
}

TEST(ClientResponseHead, AConnectionHeaderNamingContentLengthLeavesTheFramingAlone) {
    // A hostile or broken upstream: dropping the length would leave the client unable to tell
    // where this body ends and the next answer on its connection begins.
    clipal::worker::response_head h;
    h.result(http::status::ok);
    h.version(11);
    h.set(http::field::connection, "Content-Length, x-hop");
    h.set(http::field::content_length, "5");
    h.set("x-hop", "1");
    const auto head = clipal::worker::client_response_head(h, {11, false, true});
    EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("x-hop"), std::string::npos) << head;
}

TEST(ClientResponseHead, UsesTheStandardReasonWhenTheUpstreamGaveNone) {
    clipal::worker::response_head h;
    h.result(http::status::too_many_requests);
    h.version(11);
    h.set(http::field::retry_after, "3");
    const auto head = clipal::worker::client_response_head(h, {10, false, false});
    EXPECT_EQ(head, "HTTP/1.0 429 Too Many Requests\r\nRetry-After: 3\r\n\r\n");
    EXPECT_EQ(head, beast_client_head(h, {10, false, false}));
}

TEST(UpstreamRequestHead, IsTheRewrittenRequestOnTheWire) {
    client_fields c;
    c.insert("accept", "text/event-stream");
    c.insert(http::field::connection, "keep-alive, X-Hop");
    c.insert("X-Hop", "1");
    c.insert("x-api-key", client_key);
    c.insert("X-Forwarded-For", "10.0.0.1");
    c.insert(http::field::expect, "100-continue");
    c.insert("x-custom", "1");
    c.insert(http::field::content_length, "7");
    EXPECT_EQ(upstream_request_head("POST", "/v1/messages?beta=true", c, ctx_for(protocol::anthropic), 7),
              "POST /v1/messages?beta=true HTTP/1.1\r\n"
              "accept: text/event-stream\r\n"
              "x-custom: 1\r\n"
              "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"
              "X-Forwarded-Proto: http\r\n"
              "X-Forwarded-Host: 127.0.0.1:3333\r\n"
              "Host: api.example.test\r\n"
              "x-api-key: sk-provider-key-0123456789\r\n"
              "Content-Length: 7\r\n"
              "\r\n");
}

TEST(UpstreamRequestHead, HasNoContentLengthWhenNoneIsGiven) {
    client_fields c;
    c.insert(http::field::authorization, "Bearer client");
    const auto head = upstream_request_head("GET", "/v1/models", c, ctx_for(protocol::openai), std::nullopt);
    EXPECT_EQ(head.substr(0, 25), "GET /v1/models HTTP/1.1\r\n");
    EXPECT_EQ(head.find("Content-Length"), std::string::npos);
    EXPECT_NE(head.find("Authorization: Bearer sk-provider-key-0123456789\r\n"), std::string::npos);
    EXPECT_EQ(head.find("client"), std::string::npos);
    EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}
