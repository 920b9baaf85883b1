#include "worker/upstream_target.hpp"

#include <gtest/gtest.h>

using clipal::worker::upstream_target;

namespace {

upstream_target parse_ok(std::string_view url) {
    std::string error;
    auto t = upstream_target::parse(url, error);
    EXPECT_TRUE(t.has_value()) << url << ": " << error;
    return t.value_or(upstream_target{});
}

std::string parse_error(std::string_view url) {
    std::string error;
    EXPECT_FALSE(upstream_target::parse(url, error).has_value()) << url;
    return error;
}

} // namespace

TEST(UpstreamTarget, HttpsDefaultsToPort443) {
    const auto t = parse_ok("https://api.anthropic.com");
    EXPECT_TRUE(t.tls);
    EXPECT_EQ(t.host, "api.anthropic.com");
    EXPECT_EQ(t.port, "443");
    EXPECT_EQ(t.base_path, "");
    EXPECT_EQ(t.host_header, "api.anthropic.com");
    EXPECT_EQ(t.key(), "https://api.anthropic.com:443");
}

TEST(UpstreamTarget, HttpDefaultsToPort80) {
    const auto t = parse_ok("http://relay.example/");
    EXPECT_FALSE(t.tls);
    EXPECT_EQ(t.port, "80");
    EXPECT_EQ(t.host_header, "relay.example");
    EXPECT_EQ(t.key(), "http://relay.example:80");
}

TEST(UpstreamTarget, ExplicitPortAppearsInHostHeaderOnlyWhenNotDefault) {
    const auto a = parse_ok("https://relay.example:8443/v1");
    EXPECT_EQ(a.port, "8443");
    EXPECT_EQ(a.host_header, "relay.example:8443");
    const auto b = parse_ok("https://relay.example:443/v1");
    EXPECT_EQ(b.host_header, "relay.example");
    const auto c = parse_ok("http://relay.example:443/");
    EXPECT_EQ(c.host_header, "relay.example:443");
}

TEST(UpstreamTarget, HostIsLowerCased) {
    const auto t = parse_ok("https://API.Example.COM/v1");
    EXPECT_EQ(t.host, "api.example.com");
    EXPECT_EQ(t.host_header, "api.example.com");
}

TEST(UpstreamTarget, Ipv6HostHasNoBracketsButHeaderAndKeyDo) {
    const auto t = parse_ok("http://[::1]:8080/base");
    EXPECT_EQ(t.host, "::1");
    EXPECT_EQ(t.port, "8080");
    EXPECT_EQ(t.host_header, "[::1]:8080");
    EXPECT_EQ(t.key(), "http://[::1]:8080");
    const auto d = parse_ok("https://[2001:DB8::1]");
    EXPECT_EQ(d.host, "2001:db8::1");
    EXPECT_EQ(d.host_header, "[2001:db8::1]");
}

TEST(UpstreamTarget, Ipv4Literal) {
    const auto t = parse_ok("http://127.0.0.1:3000");
    EXPECT_EQ(t.host, "127.0.0.1");
    EXPECT_EQ(t.host_header, "127.0.0.1:3000");
}

TEST(UpstreamTarget, BasePathLosesTrailingSlashes) {
    EXPECT_EQ(parse_ok("https://api.openai.com/v1").base_path, "/v1");
    EXPECT_EQ(parse_ok("https://api.openai.com/v1/").base_path, "/v1");
    EXPECT_EQ(parse_ok("https://x.example/api/openai/v1//").base_path, "/api/openai/v1");
    EXPECT_EQ(parse_ok("https://x.example/").base_path, "");
}

TEST(UpstreamTarget, BasePathKeepsPercentEncoding) {
    EXPECT_EQ(parse_ok("https://x.example/a%2Fb/v1").base_path, "/a%2Fb/v1");
}

TEST(UpstreamTarget, CanonicalPortKeepsKeysEqual) {
    EXPECT_EQ(parse_ok("https://x.example:0443").key(), parse_ok("https://x.example").key());
}

TEST(UpstreamTarget, RejectsWhatCannotBeAnUpstream) {
    EXPECT_NE(parse_error("ftp://x.example"), "");
    EXPECT_NE(parse_error("https://x.example:0"), "");
    EXPECT_NE(parse_error("https://x.example:70000"), "");
    EXPECT_NE(parse_error("https://x.example:12ab"), "");
    EXPECT_NE(parse_error("https://user:pw@x.example"), "");
    EXPECT_NE(parse_error("https://x.example/v1?key=1"), "");
    EXPECT_NE(parse_error("https://x.example/#frag"), "");
    EXPECT_NE(parse_error("https:///v1"), "");
    EXPECT_NE(parse_error("not a url"), "");
    EXPECT_NE(parse_error("https://bad%20host/"), "");
}
