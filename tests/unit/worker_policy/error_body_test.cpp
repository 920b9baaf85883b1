#include "shared/error_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

using clipal::error_body;
using clipal::protocol;

namespace {

boost::json::object parse_object(const std::string& text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    EXPECT_FALSE(ec) << text;
    EXPECT_TRUE(v.is_object()) << text;
    return v.is_object() ? v.get_object() : boost::json::object{};
}

std::string str(const boost::json::value& v) { return std::string(v.as_string()); }

} // namespace

TEST(ErrorBody, AnthropicShape) {
    const auto o = parse_object(error_body(protocol::anthropic, 503, "all providers failed"));
    EXPECT_EQ(str(o.at("type")), "error");
    const auto& e = o.at("error").as_object();
    EXPECT_EQ(str(e.at("type")), "api_error");
    EXPECT_EQ(str(e.at("message")), "all providers failed");
}

TEST(ErrorBody, AnthropicTypeByStatus) {
    const std::pair<int, const char*> cases[] = {
        {400, "invalid_request_error"},
        {401, "authentication_error"},
        {404, "not_found_error"},
        {413, "request_too_large"},
        {429, "rate_limit_error"},
        {500, "api_error"},
        {502, "api_error"},
        {503, "api_error"},
        {504, "api_error"},
        {529, "overloaded_error"},
    };
    for (const auto& [status, type] : cases) {
        const auto o = parse_object(error_body(protocol::anthropic, status, "m"));
        EXPECT_EQ(str(o.at("error").as_object().at("type")), type) << status;
    }
}

TEST(ErrorBody, OpenAiShape) {
    const auto o = parse_object(error_body(protocol::openai, 404, "unknown prefix"));
    ASSERT_EQ(o.size(), 1u);
    const auto& e = o.at("error").as_object();
    EXPECT_EQ(str(e.at("message")), "unknown prefix");
    EXPECT_EQ(str(e.at("type")), "invalid_request_error");
    EXPECT_EQ(str(e.at("code")), "not_found");
    EXPECT_EQ(str(parse_object(error_body(protocol::openai, 429, "m")).at("error").as_object().at("type")),
              "rate_limit_error");
    EXPECT_EQ(str(parse_object(error_body(protocol::openai, 503, "m")).at("error").as_object().at("type")),
              "server_error");
}

TEST(ErrorBody, GeminiShape) {
    const auto o = parse_object(error_body(protocol::gemini, 404, "no such route"));
    const auto& e = o.at("error").as_object();
    EXPECT_EQ(e.at("code").as_int64(), 404);
    EXPECT_EQ(str(e.at("message")), "no such route");
    EXPECT_EQ(str(e.at("status")), "NOT_FOUND");
}

TEST(ErrorBody, GeminiStatusByCode) {
    const std::pair<int, const char*> cases[] = {
        {400, "INVALID_ARGUMENT"}, {401, "UNAUTHENTICATED"},    {404, "NOT_FOUND"},
        {413, "INVALID_ARGUMENT"}, {429, "RESOURCE_EXHAUSTED"}, {500, "INTERNAL"},
        {502, "UNAVAILABLE"},      {503, "UNAVAILABLE"},        {504, "DEADLINE_EXCEEDED"},
    };
    for (const auto& [status, name] : cases) {
        const auto o = parse_object(error_body(protocol::gemini, status, "m"));
        EXPECT_EQ(str(o.at("error").as_object().at("status")), name) << status;
        EXPECT_EQ(o.at("error").as_object().at("code").as_int64(), status);
    }
}

TEST(ErrorBody, MessagesAreEscaped) {
    const std::string nasty = "quote \" backslash \\ newline \n tab \t ctl \x01 brace }";
    for (auto p : {protocol::anthropic, protocol::openai, protocol::gemini}) {
        const auto o = parse_object(error_body(p, 500, nasty));
        EXPECT_EQ(str(o.at("error").as_object().at("message")), nasty);
    }
}
