#include "shared/failure_classifier.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

using namespace std::chrono_literals;
using clipal::action;
using clipal::classify;
using clipal::failure_reason;
using clipal::upstream_answer;
using clipal::verdict;

namespace {

const clipal::clock::time_point now{std::chrono::hours(24 * 20000)};

// An answer with the given status and hint headers, empty body.
upstream_answer answer(int status, std::string_view retry_after = {}, std::string_view reset_requests = {},
                       std::string_view reset_tokens = {}) {
    upstream_answer a;
    a.status = status;
    a.retry_after = retry_after;
    a.reset_requests = reset_requests;
    a.reset_tokens = reset_tokens;
    return a;
}

verdict classify_429(std::string_view body, std::string_view encoding = {}) {
    upstream_answer a;
    a.status = 429;
    a.body = body;
    a.content_encoding = encoding;
    return classify(a, now);
}

std::string gzip(std::string_view in) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

// The three body shapes the classifier reads, each with one field set.
std::string openai(std::string_view field, std::string_view value) {
    return std::string(R"({"error":{")") + std::string(field) + R"(":")" + std::string(value) + R"("}})";
}
std::string anthropic(std::string_view field, std::string_view value) {
    return std::string(R"({"type":"error","error":{")") + std::string(field) + R"(":")" + std::string(value) + R"("}})";
}
std::string flat(std::string_view field, std::string_view value) {
    return std::string(R"({")") + std::string(field) + R"(":")" + std::string(value) + R"("})";
}

void expect_429(std::string_view field, std::string_view value, action act, failure_reason reason) {
    for (const auto& body : {openai(field, value), anthropic(field, value), flat(field, value)}) {
        const auto v = classify_429(body);
        EXPECT_EQ(v.act, act) << body;
        EXPECT_EQ(v.reason, reason) << body;
    }
}

} // namespace

TEST(FailureClassifier, AuthStatusesDeactivate) {
    for (int status : {401, 403}) {
        const auto v = classify(answer(status), now);
        EXPECT_EQ(v.act, action::deactivate) << status;
        EXPECT_EQ(v.reason, failure_reason::auth) << status;
        EXPECT_FALSE(v.cooldown);
    }
}

TEST(FailureClassifier, PaymentRequiredDeactivatesForBilling) {
    const auto v = classify(answer(402), now);
    EXPECT_EQ(v.act, action::deactivate);
    EXPECT_EQ(v.reason, failure_reason::billing);
}

TEST(FailureClassifier, ServerErrorsTryNext) {
    for (int status : {408, 500, 502, 503, 504}) {
        const auto v = classify(answer(status), now);
        EXPECT_EQ(v.act, action::try_next) << status;
        EXPECT_EQ(v.reason, failure_reason::server_error) << status;
        EXPECT_FALSE(v.cooldown) << status;
    }
}

TEST(FailureClassifier, Status529IsOverloaded) {
    const auto v = classify(answer(529), now);
    EXPECT_EQ(v.act, action::try_next);
    EXPECT_EQ(v.reason, failure_reason::overloaded);
}

TEST(FailureClassifier, Status503WithOverloadedBodyIsOverloaded) {
    auto a = answer(503);
    a.body = R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})";
    EXPECT_EQ(classify(a, now).reason, failure_reason::overloaded);
    a.body = R"({"type":"error","error":{"type":"api_error"}})";
    EXPECT_EQ(classify(a, now).reason, failure_reason::server_error);
}

TEST(FailureClassifier, ServerErrorCoolsDownForRetryAfter) {
    auto a = answer(503, "30");
    EXPECT_EQ(classify(a, now).cooldown, 30s);
    a.status = 529;
    a.retry_after = "7200";
    EXPECT_EQ(classify(a, now).cooldown, 1h);
}

TEST(FailureClassifier, ServerErrorIgnoresRateLimitResetHeaders) {
    // OpenAI sends these on every answer; they describe the quota window, not the outage.
    const auto a = answer(500, {}, "6m0s", "20s");
    EXPECT_FALSE(classify(a, now).cooldown);
}

TEST(FailureClassifier, EverythingElsePassesThrough) {
    for (int status : {200, 201, 204, 206, 301, 302, 304, 307, 308, 400, 404, 405, 409, 413, 422, 451, 501, 505}) {
        const auto a = answer(status, "10");
        const auto v = classify(a, now);
        EXPECT_EQ(v.act, action::pass_through) << status;
        EXPECT_FALSE(v.reason) << status;
        EXPECT_FALSE(v.cooldown) << status;
    }
}

TEST(FailureClassifier, OnlyStatus429And503NeedTheBody) {
    EXPECT_TRUE(clipal::needs_body(429));
    EXPECT_TRUE(clipal::needs_body(503));
    for (int status : {200, 401, 402, 403, 408, 500, 529}) EXPECT_FALSE(clipal::needs_body(status)) << status;
}

TEST(FailureClassifier, RateLimit429AuthLikeCodesAndTypesDeactivate) {
    expect_429("code", "invalid_api_key", action::deactivate, failure_reason::auth);
    expect_429("code", "account_deactivated", action::deactivate, failure_reason::auth);
    expect_429("type", "authentication_error", action::deactivate, failure_reason::auth);
    expect_429("type", "permission_error", action::deactivate, failure_reason::auth);
    expect_429("type", "invalid_api_key", action::deactivate, failure_reason::auth);
    expect_429("message", "Incorrect or invalid API key provided: sk-...", action::deactivate, failure_reason::auth);
}

TEST(FailureClassifier, RateLimit429QuotaLikeCodesAndTypesDeactivate) {
    expect_429("code", "insufficient_quota", action::deactivate, failure_reason::quota);
    expect_429("code", "billing_hard_limit_reached", action::deactivate, failure_reason::quota);
    expect_429("code", "organization_quota_exceeded", action::deactivate, failure_reason::quota);
    expect_429("type", "insufficient_quota", action::deactivate, failure_reason::quota);
    expect_429("type", "billing_error", action::deactivate, failure_reason::quota);
    expect_429("message", "You have insufficient quota for this request", action::deactivate, failure_reason::quota);
    expect_429("message", "Check your plan and billing details", action::deactivate, failure_reason::quota);
}

TEST(FailureClassifier, RateLimit429ComparesCaseInsensitively) {
    expect_429("code", "INVALID_API_KEY", action::deactivate, failure_reason::auth);
    expect_429("type", "Authentication_Error", action::deactivate, failure_reason::auth);
    expect_429("message", "INVALID API KEY", action::deactivate, failure_reason::auth);
    expect_429("code", "Insufficient_Quota", action::deactivate, failure_reason::quota);
    expect_429("message", "Insufficient Quota", action::deactivate, failure_reason::quota);
    expect_429("message", "BILLING", action::deactivate, failure_reason::quota);
}

TEST(FailureClassifier, RateLimit429PlainRateLimitTriesNextWithHint) {
    auto a = answer(429, "12", "1m30s", "0.5");
    a.body = R"({"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}})";
    const auto v = classify(a, now);
    EXPECT_EQ(v.act, action::try_next);
    EXPECT_EQ(v.reason, failure_reason::rate_limited);
    EXPECT_EQ(v.cooldown, 90s);
    expect_429("type", "rate_limit_error", action::try_next, failure_reason::rate_limited);
}

TEST(FailureClassifier, RateLimit429WithoutHintHasNoCooldown) {
    EXPECT_FALSE(classify_429(anthropic("type", "rate_limit_error")).cooldown);
}

TEST(FailureClassifier, RateLimit429OverloadedErrorIsOverloaded) {
    expect_429("type", "overloaded_error", action::try_next, failure_reason::overloaded);
    auto a = answer(429, "3");
    const std::string body = anthropic("type", "Overloaded_Error");
    a.body = body;
    EXPECT_EQ(classify(a, now).cooldown, 3s);
}

TEST(FailureClassifier, RateLimit429NonJsonBodiesAreRateLimits) {
    for (std::string_view body : {"", "Too Many Requests", "<html>429</html>", "[1,2]", "\"invalid api key\"", "42",
                                  R"({"error":{"code":"insufficient_quota")"}) {
        auto a = answer(429, "5");
        a.body = body;
        const auto v = classify(a, now);
        EXPECT_EQ(v.act, action::try_next) << body;
        EXPECT_EQ(v.reason, failure_reason::rate_limited) << body;
        EXPECT_EQ(v.cooldown, 5s) << body;
    }
}

TEST(FailureClassifier, RateLimit429ErrorAsStringIsReadAsMessage) {
    EXPECT_EQ(classify_429(R"({"error":"Invalid API key"})").reason, failure_reason::auth);
}

TEST(FailureClassifier, RateLimit429NonStringFieldsAreIgnored) {
    const auto v =
        classify_429(R"({"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}})");
    EXPECT_EQ(v.act, action::try_next);
    EXPECT_EQ(v.reason, failure_reason::rate_limited);
    EXPECT_EQ(classify_429(R"({"error":{"code":["invalid_api_key"],"type":null}})").reason,
              failure_reason::rate_limited);
}

TEST(FailureClassifier, RateLimit429NestedErrorWinsOverTopLevelType) {
    // Anthropic's top-level "type":"error" must not hide the nested type.
    EXPECT_EQ(classify_429(R"({"type":"error","error":{"type":"permission_error","message":"x"}})").reason,
              failure_reason::auth);
}

TEST(FailureClassifier, RateLimit429AuthWinsOverQuota) {
    EXPECT_EQ(classify_429(R"({"error":{"code":"invalid_api_key","type":"insufficient_quota"}})").reason,
              failure_reason::auth);
}

TEST(FailureClassifier, RateLimit429GzipBodyIsDecoded) {
    const auto packed = gzip(openai("code", "insufficient_quota"));
    EXPECT_EQ(classify_429(packed, "gzip").reason, failure_reason::quota);
    EXPECT_EQ(classify_429(packed, "GZIP").reason, failure_reason::quota);
    // Some upstreams compress without saying so: the gzip magic is enough.
    EXPECT_EQ(classify_429(packed).reason, failure_reason::quota);
}

TEST(FailureClassifier, RateLimit429UndecodableGzipIsARateLimit) {
    const auto packed = gzip(openai("code", "invalid_api_key"));
    EXPECT_EQ(classify_429(packed.substr(0, packed.size() / 2), "gzip").reason, failure_reason::rate_limited);
    EXPECT_EQ(classify_429(openai("code", "invalid_api_key"), "gzip").reason, failure_reason::rate_limited);
}

TEST(FailureClassifier, ReasonsHaveShortNames) {
    EXPECT_EQ(to_string(failure_reason::connect), "connect error");
    EXPECT_EQ(to_string(failure_reason::auth), "auth");
    EXPECT_EQ(to_string(failure_reason::rate_limited), "rate limited");
    EXPECT_EQ(to_string(failure_reason::server_error), "server error");
    for (int r = 0; r <= static_cast<int>(failure_reason::server_error); ++r)
        EXPECT_FALSE(to_string(static_cast<failure_reason>(r)).empty());
}
