#include "worker/proxy_settings.hpp"

#include <gtest/gtest.h>

#include <map>

using clipal::worker::proxy_endpoint;
using clipal::worker::proxy_settings;
using clipal::worker::upstream_target;

namespace {

using env_map = std::map<std::string, std::string, std::less<>>;

proxy_settings from(const env_map& env, std::vector<std::string>* errors_out = nullptr) {
    std::vector<std::string> errors;
    auto s = proxy_settings::from_env(
        [&](std::string_view name) -> std::optional<std::string> {
            const auto it = env.find(name);
            if (it == env.end()) return std::nullopt;
            return it->second;
        },
        errors);
    if (errors_out)
        *errors_out = errors;
    else
        EXPECT_TRUE(errors.empty()) << errors.front();
    return s;
}

upstream_target target(std::string_view url) {
    std::string error;
    auto t = upstream_target::parse(url, error);
    EXPECT_TRUE(t) << error;
    return t.value_or(upstream_target{});
}

} // namespace

TEST(ProxySettings, NoVariablesMeansDirect) {
    const auto s = from({});
    EXPECT_FALSE(s.proxy_for(target("https://api.openai.com/v1")));
    EXPECT_FALSE(s.proxy_for(target("http://relay.example")));
}

TEST(ProxySettings, SchemeSelectsTheVariable) {
    const auto s = from({{"HTTPS_PROXY", "http://secure-proxy:3128"}, {"HTTP_PROXY", "http://plain-proxy:8080"}});
    const auto https = s.proxy_for(target("https://api.openai.com"));
    ASSERT_TRUE(https);
    EXPECT_EQ(https->host, "secure-proxy");
    EXPECT_EQ(https->port, "3128");
    const auto http = s.proxy_for(target("http://relay.example"));
    ASSERT_TRUE(http);
    EXPECT_EQ(http->key(), "plain-proxy:8080");
}

TEST(ProxySettings, HttpsProxyDoesNotApplyToHttpTargets) {
    const auto s = from({{"HTTPS_PROXY", "http://secure-proxy:3128"}});
    EXPECT_FALSE(s.proxy_for(target("http://relay.example")));
}

TEST(ProxySettings, LowerCaseWinsOverUpperCase) {
    const auto s = from({{"https_proxy", "http://lower:1"},
                         {"HTTPS_PROXY", "http://upper:2"},
                         {"http_proxy", "http://lower-http:3"},
                         {"HTTP_PROXY", "http://upper-http:4"},
                         {"no_proxy", "lower.example"},
                         {"NO_PROXY", "upper.example"}});
    EXPECT_EQ(s.proxy_for(target("https://x.example"))->host, "lower");
    EXPECT_EQ(s.proxy_for(target("http://x.example"))->host, "lower-http");
    EXPECT_FALSE(s.proxy_for(target("https://lower.example")));
    EXPECT_TRUE(s.proxy_for(target("https://upper.example")));
}

TEST(ProxySettings, EmptyLowerCaseFallsBackToUpperCase) {
    const auto s = from({{"https_proxy", ""}, {"HTTPS_PROXY", "http://upper:2"}});
    EXPECT_EQ(s.proxy_for(target("https://x.example"))->host, "upper");
}

TEST(ProxySettings, ProxyWithoutSchemeOrPortDefaultsToHttpAnd80) {
    const auto a = from({{"HTTPS_PROXY", "proxy.corp:3128"}});
    EXPECT_EQ(a.proxy_for(target("https://x.example"))->key(), "proxy.corp:3128");
    const auto b = from({{"HTTPS_PROXY", "http://proxy.corp/"}});
    EXPECT_EQ(b.proxy_for(target("https://x.example"))->key(), "proxy.corp:80");
    const auto c = from({{"HTTPS_PROXY", "http://[::1]:3128"}});
    const auto p = c.proxy_for(target("https://x.example"));
    EXPECT_EQ(p->host, "::1");
    EXPECT_EQ(p->key(), "[::1]:3128");
}

TEST(ProxySettings, UserinfoBecomesBasicProxyAuthorization) {
    const auto s = from({{"HTTPS_PROXY", "http://alice:s3cr%40t@proxy:3128"}});
    const auto p = s.proxy_for(target("https://x.example"));
    ASSERT_TRUE(p);
    // base64("alice:s3cr@t"): the password is percent-decoded first.
    EXPECT_EQ(p->authorization, "Basic YWxpY2U6czNjckB0");
    EXPECT_EQ(p->key(), "proxy:3128");
    EXPECT_EQ(p->key().find("alice"), std::string::npos);
}

TEST(ProxySettings, NoUserinfoNoAuthorization) {
    const auto s = from({{"HTTPS_PROXY", "http://proxy:3128"}});
    EXPECT_EQ(s.proxy_for(target("https://x.example"))->authorization, "");
}

TEST(ProxySettings, BadProxyUrlIsIgnoredWithAnErrorThatHidesCredentials) {
    std::vector<std::string> errors;
    const auto s =
        from({{"HTTPS_PROXY", "socks5://bob:hunter2@proxy:1080"}, {"http_proxy", "http://proxy:99999"}}, &errors);
    EXPECT_FALSE(s.proxy_for(target("https://x.example")));
    EXPECT_FALSE(s.proxy_for(target("http://x.example")));
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_NE(errors[0].find("HTTPS_PROXY"), std::string::npos);
    EXPECT_NE(errors[0].find("socks5"), std::string::npos);
    EXPECT_EQ(errors[0].find("hunter2"), std::string::npos);
    EXPECT_NE(errors[1].find("http_proxy"), std::string::npos);
    EXPECT_NE(errors[1].find("port"), std::string::npos);
}

TEST(ProxySettings, PortWithLettersIsRejected) {
    std::vector<std::string> errors;
    const auto s = from({{"HTTPS_PROXY", "http://proxy:31x8"}}, &errors);
    EXPECT_FALSE(s.proxy_for(target("https://x.example")));
    EXPECT_EQ(errors.size(), 1u);
}

TEST(ProxySettings, HttpsProxyUrlIsNotSupported) {
    std::vector<std::string> errors;
    const auto s = from({{"HTTPS_PROXY", "https://proxy:443"}}, &errors);
    EXPECT_FALSE(s.proxy_for(target("https://x.example")));
    EXPECT_EQ(errors.size(), 1u);
}

TEST(ProxySettings, LoopbackIsProxiedUnlessNoProxySaysOtherwise) {
    const auto s = from({{"HTTPS_PROXY", "http://proxy:3128"}});
    EXPECT_TRUE(s.proxy_for(target("https://localhost:8443")));
    EXPECT_TRUE(s.proxy_for(target("https://127.0.0.1:8443")));
    const auto t = from({{"HTTPS_PROXY", "http://proxy:3128"}, {"NO_PROXY", "localhost,127.0.0.1"}});
    EXPECT_FALSE(t.proxy_for(target("https://localhost:8443")));
    EXPECT_FALSE(t.proxy_for(target("https://127.0.0.1:8443")));
}

struct no_proxy_case {
    const char* no_proxy;
    const char* url;
    bool bypass;
};

TEST(ProxySettings, NoProxyMatchingTable) {
    const no_proxy_case cases[] = {
        {"*", "https://anything.example", true},
        {"example.com", "https://example.com", true},
        {"example.com", "https://api.example.com", true},
        {"example.com", "https://deep.api.example.com", true},
        {"example.com", "https://notexample.com", false},
        {"example.com", "https://example.com.evil.net", false},
        {".example.com", "https://api.example.com", true},
        {".example.com", "https://example.com", true},
        {"*.example.com", "https://api.example.com", true},
        {"EXAMPLE.com", "https://Api.Example.COM", true},
        {"example.com.", "https://api.example.com", true},
        {"api.example.com", "https://example.com", false},
        {"example.com:8443", "https://example.com:8443", true},
        {"example.com:8443", "https://example.com", false},
        {"example.com:443", "https://example.com", true},
        {"127.0.0.1", "https://127.0.0.1:9000", true},
        {"127.0.0.1", "https://127.0.0.2", false},
        {"127.0.0.0/8", "https://127.9.8.7", true},
        {"10.0.0.0/8", "https://127.0.0.1", false},
        {"192.168.1.0/24", "https://192.168.1.77", true},
        {"192.168.1.0/24", "https://192.168.2.1", false},
        {"::1", "https://[::1]:8443", true},
        {"[::1]", "https://[::1]", true},
        {"[::1]:8443", "https://[::1]:8443", true},
        {"[::1]:8443", "https://[::1]:9443", false},
        {"0:0:0:0:0:0:0:1", "https://[::1]", true},
        {"fd00::/8", "https://[fd12::5]", true},
        {"fd00::/8", "https://[fe80::1]", false},
        {"0.1", "https://127.0.0.1", false},
        {"localhost", "https://127.0.0.1", false},
        {"  foo.example , bar.example  ", "https://bar.example", true},
        {"foo.example bar.example", "https://bar.example", true},
        {"foo.example,,", "https://bar.example", false},
        {"", "https://bar.example", false},
        {"bad:port:xx:", "https://bar.example", false},
    };
    for (const auto& c : cases) {
        const auto s = from({{"HTTPS_PROXY", "http://proxy:3128"}, {"NO_PROXY", c.no_proxy}});
        EXPECT_EQ(!s.proxy_for(target(c.url)), c.bypass) << "NO_PROXY=\"" << c.no_proxy << "\" url=" << c.url;
    }
}
