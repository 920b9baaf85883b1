// The one base_url validator: what it accepts, the words it refuses with, and which hosts
// count as this machine (for the plain-http warning).
#include "shared/base_url.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace {

struct bad_row {
    const char* url;
    const char* words; // the whole error
};

void PrintTo(const bad_row& r, std::ostream* os) { *os << '"' << r.url << '"'; }

class BaseUrlRefuses : public ::testing::TestWithParam<bad_row> {};

TEST_P(BaseUrlRefuses, WithWordsNamingTheProblem) {
    std::string error;
    EXPECT_FALSE(clipal::parse_base_url(GetParam().url, error).has_value());
    EXPECT_EQ(error, GetParam().words);
}

constexpr const char* bad_port = "has an invalid port (must be 1-65535)";
constexpr const char* bad_host = "has an invalid host name (letters, digits, '-', '.' and '_' only)";

INSTANTIATE_TEST_SUITE_P(
    Table, BaseUrlRefuses,
    ::testing::Values(
        bad_row{"https://h:443x/v1", bad_port}, bad_row{"https://h:443x", bad_port},
        bad_row{"https://h:0/v1", bad_port}, bad_row{"https://h:65536", bad_port},
        bad_row{"https://h:99999999999999999999", bad_port}, bad_row{"https://h:-1", bad_port},
        bad_row{"https://h:12ab", bad_port},
        bad_row{"https://user:pw@h/v1", "must not contain user:password@ (put the key in api_key)"},
        bad_row{"https://sk-secret@h/v1", "must not contain user:password@ (put the key in api_key)"},
        bad_row{"https://h/v1?key=sk-secret", "must not contain a query string or fragment (put the key in api_key)"},
        bad_row{"https://h/v1#x", "must not contain a query string or fragment (put the key in api_key)"},
        bad_row{"ftp://h/v1", "must start with http:// or https://"},
        bad_row{"wss://h/v1", "must start with http:// or https://"},
        bad_row{"file:///etc/passwd", "must start with http:// or https://"}, bad_row{"https:///v1", "has no host"},
        bad_row{"https://", "has no host"}, bad_row{"https://:443/v1", "has no host"},
        bad_row{"https://bad%20host/", bad_host}, bad_row{"https://h%0d%0aX-Injected:1/", bad_host},
        bad_row{"https://h!/", bad_host}, bad_row{"https://h$x/", bad_host},
        bad_row{"not a url", "is not a valid absolute URL"}, bad_row{"https://h /v1", "is not a valid absolute URL"},
        bad_row{"https://[::1/v1", "is not a valid absolute URL"},
        bad_row{"https://h/v1\r\nHost: x", "is not a valid absolute URL"}, bad_row{"", "is not a valid absolute URL"}));

TEST(BaseUrl, ErrorsNeverRepeatTheUrl) {
    // Userinfo and query strings are where a careless operator puts a key.
    for (const char* url : {"https://sk-secret@h/v1", "https://u:sk-secret@h/v1", "https://h/v1?key=sk-secret",
                            "https://h/v1#sk-secret", "https://h:sk-secret/v1"}) {
        std::string error;
        EXPECT_FALSE(clipal::parse_base_url(url, error).has_value()) << url;
        EXPECT_EQ(error.find("sk-secret"), std::string::npos) << error;
    }
}

TEST(BaseUrl, SplitsAGoodUrl) {
    std::string error;
    const auto b = clipal::parse_base_url("https://API.Example.COM:0443/api/v1//", error);
    ASSERT_TRUE(b) << error;
    EXPECT_TRUE(b->tls);
    EXPECT_EQ(b->host, "api.example.com");
    EXPECT_EQ(b->port, "443");
    EXPECT_EQ(b->base_path, "/api/v1");
    EXPECT_FALSE(b->loopback);
}

TEST(BaseUrl, AcceptsWhatProvidersUse) {
    for (const char* url :
         {"https://api.anthropic.com", "https://api.openai.com/v1", "https://generativelanguage.googleapis.com/",
          "http://127.0.0.1:8080", "http://[::1]:3000/base", "https://relay_1.internal.example:8443/a%2Fb/v1",
          "https://h:/v1", "https://h:1", "https://h:65535", "https://trailing.dot.example./v1"}) {
        std::string error;
        EXPECT_TRUE(clipal::parse_base_url(url, error).has_value()) << url << ": " << error;
    }
}

TEST(BaseUrl, DefaultPortsFollowTheScheme) {
    std::string error;
    EXPECT_EQ(clipal::parse_base_url("https://h", error)->port, "443");
    EXPECT_EQ(clipal::parse_base_url("http://h", error)->port, "80");
    EXPECT_EQ(clipal::parse_base_url("https://h:/v1", error)->port, "443");
}

TEST(BaseUrl, LoopbackHostsAreThisMachine) {
    for (const char* url : {"http://localhost:8080", "http://LOCALHOST", "http://localhost.", "http://api.localhost/v1",
                            "http://127.0.0.1", "http://127.1.2.3:9", "http://[::1]:80", "http://[::ffff:127.0.0.1]"}) {
        std::string error;
        const auto b = clipal::parse_base_url(url, error);
        ASSERT_TRUE(b) << url << ": " << error;
        EXPECT_TRUE(b->loopback) << url;
    }
    for (const char* url :
         {"http://192.168.1.10", "http://10.0.0.1", "http://relay.example", "http://localhost.example",
          "http://notlocalhost", "http://[::2]", "http://[::ffff:10.0.0.1]", "http://0.0.0.0"}) {
        std::string error;
        const auto b = clipal::parse_base_url(url, error);
        ASSERT_TRUE(b) << url << ": " << error;
        EXPECT_FALSE(b->loopback) << url;
    }
}

} // namespace
