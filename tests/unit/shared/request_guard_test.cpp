#include "shared/request_guard.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace clipal {
namespace {

struct guard_case {
    std::string listen_addr = "127.0.0.1";
    std::vector<std::string> allowed_hosts;
    std::vector<std::string> allowed_origins;
    std::string access_token;

    guard_settings settings() const { return {listen_addr, allowed_hosts, allowed_origins, access_token}; }

    std::optional<guard_refusal> host(std::string_view h) const {
        guard_input in;
        in.host = {h};
        return check_request(in, settings());
    }

    std::optional<guard_refusal> origin(std::string_view o) const {
        guard_input in;
        in.host = {"127.0.0.1:3333"};
        in.origin = {o};
        return check_request(in, settings());
    }
};

TEST(RequestGuard, LoopbackHostsPassWithOrWithoutPort) {
    const guard_case g;
    for (const char* h : {"127.0.0.1", "127.0.0.1:3333", "localhost", "localhost:3333", "LOCALHOST:3333", "LocalHost",
                          "127.1.2.3:80", "[::1]", "[::1]:3333", "[0:0:0:0:0:0:0:1]:3333", "[::ffff:127.0.0.1]:3333",
                          " 127.0.0.1:3333 ", "127.0.0.1:65535", "127.0.0.1:0"})
        EXPECT_EQ(g.host(h), std::nullopt) << h;
}

TEST(RequestGuard, ForeignHostsAreRefusedWith403NamingTheHost) {
    const guard_case g;
    for (const char* h : {"evil.example",
                          "evil.example:3333",
                          "localhost.evil.example",
                          "127.0.0.1.evil.example",
                          "sub.localhost",
                          "localhost.",
                          "10.0.0.1:3333",
                          "[::2]:3333",
                          "2130706433",
                          "0177.0.0.1",
                          "127.1",
                          "[127.0.0.1]",
                          "127.0.0.1:99999",
                          "127.0.0.1:65536",
                          "127.0.0.1:",
                          "127.0.0.1:x",
                          "[::1",
                          "",
                          "evil.example@127.0.0.1",
                          "127.0.0.1/x",
                          "127.0.0.1 evil"}) {
        const auto r = g.host(h);
        ASSERT_TRUE(r.has_value()) << h;
        EXPECT_EQ(r->status, 403);
        EXPECT_NE(r->log.find(std::string("Host \"") + h), std::string::npos) << r->log;
        EXPECT_NE(r->message.find("allowed_hosts"), std::string::npos) << r->message;
    }
}

TEST(RequestGuard, EveryRepeatedHostMustPass) {
    const guard_case g;
    guard_input in;
    in.host = {"127.0.0.1:3333", "evil.example"};
    EXPECT_TRUE(check_request(in, g.settings()).has_value());
}

TEST(RequestGuard, RequestWithoutHostIsLeftToTheSession) {
    const guard_case g;
    EXPECT_EQ(check_request(guard_input{}, g.settings()), std::nullopt);
}

TEST(RequestGuard, HostIsEscapedInTheLogLine) {
    const guard_case g;
    const auto r = g.host("evil\x1b[31m\"x");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->log.find('\x1b'), std::string::npos) << r->log;
    EXPECT_NE(r->log.find("\\x1b"), std::string::npos) << r->log;
    EXPECT_NE(r->log.find("\\x22x"), std::string::npos) << r->log;
}

TEST(RequestGuard, ListenAddressAndAllowedHostsPass) {
    guard_case g;
    g.listen_addr = "192.168.1.5";
    g.allowed_hosts = {"clipal.lan", "fe80::1"};
    for (const char* h :
         {"192.168.1.5:3333", "192.168.1.5", "CLIPAL.lan:3333", "clipal.lan", "[fe80::1]:3333", "[FE80:0::1]"})
        EXPECT_EQ(g.host(h), std::nullopt) << h;
    for (const char* h : {"192.168.1.6:3333", "other.lan", "clipal.lan.evil.example"})
        EXPECT_TRUE(g.host(h).has_value()) << h;
}

TEST(RequestGuard, IPv6ListenAddressMatchesItsBracketedForm) {
    guard_case g;
    g.listen_addr = "fd00::5";
    EXPECT_EQ(g.host("[fd00:0::5]:3333"), std::nullopt);
    EXPECT_TRUE(g.host("[fd00::6]:3333").has_value());
}

TEST(RequestGuard, WildcardListenAcceptsAnyAddressButNoForeignName) {
    for (const char* any : {"0.0.0.0", "::"}) {
        guard_case g;
        g.listen_addr = any;
        EXPECT_EQ(g.host("192.168.1.5:3333"), std::nullopt) << any;
        EXPECT_EQ(g.host("[fd00::5]:3333"), std::nullopt) << any;
        EXPECT_TRUE(g.host("evil.example:3333").has_value()) << any;
    }
}

TEST(RequestGuard, AnyOriginIsRefusedUnlessAllowed) {
    const guard_case g;
    for (const char* o : {"http://127.0.0.1:8080", "https://evil.example", "null", "", "http://localhost:3333"}) {
        const auto r = g.origin(o);
        ASSERT_TRUE(r.has_value()) << o;
        EXPECT_EQ(r->status, 403);
        EXPECT_NE(r->log.find(std::string("Origin \"") + o + "\""), std::string::npos) << r->log;
        EXPECT_NE(r->message.find("allowed_origins"), std::string::npos) << r->message;
    }
}

TEST(RequestGuard, AllowedOriginPassesInAnyCase) {
    guard_case g;
    g.allowed_origins = {"http://localhost:8080"};
    EXPECT_EQ(g.origin("http://localhost:8080"), std::nullopt);
    EXPECT_EQ(g.origin("HTTP://LocalHost:8080"), std::nullopt);
    EXPECT_TRUE(g.origin("http://localhost:8081").has_value());
    EXPECT_TRUE(g.origin("http://localhost:8080.evil.example").has_value());
    EXPECT_TRUE(g.origin("null").has_value());
}

TEST(RequestGuard, OriginEntriesAreNormalizedOrRefused) {
    auto norm = [](std::string s) {
        const auto why = normalize_origin(s);
        return why.empty() ? s : "error: " + why;
    };
    EXPECT_EQ(norm("http://LocalHost:8080"), "http://localhost:8080");
    EXPECT_EQ(norm("https://app.example/"), "https://app.example");
    EXPECT_EQ(norm("https://app.example:443"), "https://app.example");
    EXPECT_EQ(norm("http://app.example:80"), "http://app.example");
    EXPECT_EQ(norm("http://[::1]:8080"), "http://[::1]:8080");
    EXPECT_EQ(norm("chrome-extension://abcdef"), "chrome-extension://abcdef");
    for (const char* bad : {"null", "*", "app.example", "https://app.example/path", "https://app.example?x=1",
                            "https://user@app.example", ""})
        EXPECT_TRUE(norm(bad).starts_with("error: ")) << bad;
}

TEST(RequestGuard, CanonicalHostOfConfigEntries) {
    EXPECT_EQ(canonical_host("Clipal.LAN"), "clipal.lan");
    EXPECT_EQ(canonical_host("[::1]"), "::1");
    // Dotted quads are taken as they are written only in their canonical form.
    EXPECT_EQ(canonical_host("127.0.0.1:3333"), "127.0.0.1");
    EXPECT_EQ(canonical_host("255.255.255.255"), "255.255.255.255");
    EXPECT_EQ(canonical_host("10.0.0.1"), "10.0.0.1");
    EXPECT_NE(canonical_host("127.000.0.1"), "127.0.0.1");
    EXPECT_NE(canonical_host("0177.0.0.1"), "127.0.0.1");
    EXPECT_EQ(canonical_host("FE80:0:0::1"), "fe80::1");
    EXPECT_EQ(canonical_host("clipal.lan:3333"), "clipal.lan");
    EXPECT_EQ(canonical_host("http://clipal.lan"), std::nullopt);
    EXPECT_EQ(canonical_host("*"), std::nullopt);
}

// Found writing fuzz_request_head: an address ended at an embedded NUL (inet_pton reads a C
// string), so "::1\0evil" was ::1. Beast refuses NUL in a header, a YAML string may hold one.
TEST(RequestGuard, CanonicalHostRefusesAnEmbeddedNul) {
    using namespace std::string_view_literals;
    EXPECT_EQ(canonical_host("::1\0evil.example"sv), std::nullopt);
    EXPECT_EQ(canonical_host("[::1\0x]:80"sv), std::nullopt);
    EXPECT_EQ(canonical_host("127.0.0.1\0"sv), std::nullopt);
}

std::optional<guard_refusal> with_token(protocol p, std::string_view token, auto fill) {
    guard_input in;
    in.proto = p;
    in.host = {"127.0.0.1:3333"};
    fill(in);
    const std::vector<std::string> none;
    return check_request(in, {"127.0.0.1", none, none, token});
}

constexpr std::string_view token = "clipal-token-0123456789abcdef";

TEST(RequestGuard, TokenInTheProtocolsCarrierPasses) {
    EXPECT_EQ(with_token(protocol::anthropic, token, [](guard_input& in) { in.x_api_key = {token}; }), std::nullopt);
    EXPECT_EQ(with_token(protocol::anthropic, token,
                         [](guard_input& in) { in.authorization = {"Bearer clipal-token-0123456789abcdef"}; }),
              std::nullopt);
    EXPECT_EQ(with_token(protocol::openai, token,
                         [](guard_input& in) { in.authorization = {"bearer  clipal-token-0123456789abcdef "}; }),
              std::nullopt);
    EXPECT_EQ(with_token(protocol::gemini, token, [](guard_input& in) { in.x_goog_api_key = {token}; }), std::nullopt);
    EXPECT_EQ(with_token(protocol::gemini, token,
                         [](guard_input& in) {
                             in.target = "/gemini/v1beta/models/m:generateContent?alt=sse&key=clipal-token-"
                                         "0123456789abcdef";
                         }),
              std::nullopt);
    // A client sending its key twice (x-api-key and Bearer) passes when one of them is the token.
    EXPECT_EQ(with_token(protocol::anthropic, token,
                         [](guard_input& in) {
                             in.x_api_key = {"old-key"};
                             in.authorization = {"Bearer clipal-token-0123456789abcdef"};
                         }),
              std::nullopt);
}

TEST(RequestGuard, MissingTokenIs401WithAdvice) {
    const auto r = with_token(protocol::anthropic, token, [](guard_input&) {});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 401);
    EXPECT_NE(r->message.find("x-api-key"), std::string::npos) << r->message;
    EXPECT_EQ(r->log, "no access token presented");
}

TEST(RequestGuard, WrongTokenOrWrongCarrierIs401) {
    const std::vector<std::function<void(guard_input&)>> wrong{
        [](guard_input& in) { in.x_api_key = {"clipal-token-0123456789abcdeX"}; },
        [](guard_input& in) { in.x_api_key = {"clipal-token-0123456789abcde"}; },
        [](guard_input& in) { in.x_api_key = {"clipal-token-0123456789abcdef0"}; },
        [](guard_input& in) { in.authorization = {"Basic clipal-token-0123456789abcdef"}; },
        [](guard_input& in) { in.authorization = {"clipal-token-0123456789abcdef"}; },
        [](guard_input& in) { in.x_goog_api_key = {token}; }, // not an anthropic carrier
    };
    for (std::size_t i = 0; i < wrong.size(); ++i) {
        const auto r = with_token(protocol::anthropic, token, wrong[i]);
        ASSERT_TRUE(r.has_value()) << i;
        EXPECT_EQ(r->status, 401) << i;
        EXPECT_EQ(r->log.find(token), std::string::npos) << r->log;
        EXPECT_EQ(r->message.find(token), std::string::npos) << r->message;
    }
    EXPECT_TRUE(with_token(protocol::openai, token, [](guard_input& in) { in.x_api_key = {token}; }).has_value());
    EXPECT_TRUE(with_token(protocol::gemini, token, [](guard_input& in) {
                    in.authorization = {"Bearer clipal-token-0123456789abcdef"};
                }).has_value());
    EXPECT_TRUE(with_token(protocol::gemini, token, [](guard_input& in) {
                    in.target = "/gemini/x?apikey=clipal-token-0123456789abcdef";
                }).has_value());
}

TEST(RequestGuard, HostAndOriginAreCheckedBeforeTheToken) {
    guard_input in;
    in.host = {"evil.example"};
    in.x_api_key = {token};
    const std::vector<std::string> none;
    const auto r = check_request(in, {"127.0.0.1", none, none, token});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 403);
}

TEST(RequestGuard, ConstantTimeEqualComparesWholeValues) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("abc", ""));
    EXPECT_FALSE(constant_time_equal(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

} // namespace
} // namespace clipal
