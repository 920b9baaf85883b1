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

verdict classify_body(int status, std::string_view body, std::string_view encoding = {}) {
    upstream_answer a;
    a.status = status;
    a.body = body;
    a.content_encoding = encoding;
    return classify(a, now);
}

verdict classify_429(std::string_view body, std::string_view encoding = {}) {
    return classify_body(429, body, encoding);
}

verdict classify_400(std::string_view body, std::string_view encoding = {}) {
    return classify_body(400, body, encoding);
}

std::string zlib(std::string_view in) {
    uLongf size = compressBound(static_cast<uLong>(in.size()));
    std::string out(size, '\0');
    EXPECT_EQ(compress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(in.data()),
                       static_cast<uLong>(in.size())),
              Z_OK);
    out.resize(size);
    return out;
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

TEST(FailureClassifier, OnlyStatus400And429And503NeedTheBody) {
    EXPECT_TRUE(clipal::needs_body(400));
    EXPECT_TRUE(clipal::needs_body(429));
    EXPECT_TRUE(clipal::needs_body(503));
    for (int status : {200, 401, 402, 403, 404, 408, 413, 422, 500, 529})
        EXPECT_FALSE(clipal::needs_body(status)) << status;
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
    EXPECT_EQ(to_string(failure_reason::context_length), "context length exceeded");
    EXPECT_EQ(to_string(failure_reason::first_byte_timeout), "no first byte in time");
    for (int r = 0; r <= static_cast<int>(failure_reason::first_byte_timeout); ++r) {
        EXPECT_FALSE(to_string(static_cast<failure_reason>(r)).empty());
        EXPECT_NE(to_string(static_cast<failure_reason>(r)), "unknown") << r;
    }
}

// ---- 400: context length

namespace {

// Real 400 bodies saying the request is too long for the model.
const std::string openai_chat_context =
    R"({"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages )"
    R"(resulted in 130532 tokens. Please reduce the length of the messages.","type":"invalid_request_error",)"
    R"("param":"messages","code":"context_length_exceeded"}})";
const std::string openai_responses_context =
    R"({"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and )"
    R"(try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}})";
const std::string anthropic_context =
    R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > )"
    R"(200000 maximum"},"request_id":"req_011CUjYzX3kfGzTrs6oSgVbE"})";
const std::string gemini_context =
    R"({"error":{"code":400,"message":"The input token count (1234567) exceeds the maximum number of tokens )"
    R"(allowed (1048576).","status":"INVALID_ARGUMENT"}})";

void expect_context_length(std::string_view body, std::string_view encoding = {}) {
    const auto v = classify_400(body, encoding);
    EXPECT_EQ(v.act, action::try_next) << body;
    EXPECT_EQ(v.reason, failure_reason::context_length) << body;
    EXPECT_FALSE(v.cooldown) << body;
}

void expect_pass_through_400(std::string_view body, std::string_view encoding = {}) {
    const auto v = classify_400(body, encoding);
    EXPECT_EQ(v.act, action::pass_through) << body;
    EXPECT_FALSE(v.reason) << body;
    EXPECT_FALSE(v.cooldown) << body;
}

} // namespace

TEST(FailureClassifier, ContextLength400FromOpenAiTriesNext) {
    expect_context_length(openai_chat_context);
    expect_context_length(openai_responses_context);
    // By code alone, and by message alone (code null, or another type: vLLM and other
    // OpenAI-compatible servers answer in the flat shape with a type of their own).
    expect_context_length(
        R"({"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}})");
    expect_context_length(
        R"({"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":null,"code":null}})");
    expect_context_length(
        R"({"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400})");
}

TEST(FailureClassifier, ContextLength400FromAnthropicTriesNext) {
    expect_context_length(anthropic_context);
    expect_context_length(
        R"({"type":"error","error":{"type":"invalid_request_error","message":"input length and `max_tokens` exceed context limit: 198000 + 32000 > 200000, decrease input length or `max_tokens` and try again"}})");
    expect_context_length(
        R"({"type":"error","error":{"type":"invalid_request_error","message":"Prompt is too long"}})");
}

TEST(FailureClassifier, ContextLength400FromGeminiTriesNext) {
    expect_context_length(gemini_context);
    // streamGenerateContent without alt=sse answers with a JSON array of one error.
    expect_context_length("[" + gemini_context + "]");
    expect_context_length(
        R"({"error":{"code":400,"message":"The input token count (1048577) exceeds the maximum number of tokens allowed (1048576).","status":"invalid_argument","details":[]}})");
}

TEST(FailureClassifier, ContextLength400GeminiNeedsItsStatus) {
    // The same words under another status, or other INVALID_ARGUMENT messages, pass through.
    expect_pass_through_400(
        R"({"error":{"code":400,"message":"The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).","status":"FAILED_PRECONDITION"}})");
    expect_pass_through_400(
        R"({"error":{"code":400,"message":"The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).","status":400}})");
    expect_pass_through_400(
        R"({"error":{"code":400,"message":"max_output_tokens exceeds the maximum allowed (65536).","status":"INVALID_ARGUMENT"}})");
}

TEST(FailureClassifier, ContextLength400CompressedBodiesAreDecoded) {
    for (const auto& body : {openai_chat_context, anthropic_context, gemini_context}) {
        const auto packed = gzip(body);
        expect_context_length(packed, "gzip");
        expect_context_length(packed, "x-GZIP");
        expect_context_length(packed); // the gzip magic is enough
        expect_context_length(zlib(body), "deflate");
        // Cut short or mislabelled: not readable, so passed through as it is.
        expect_pass_through_400(packed.substr(0, packed.size() / 2), "gzip");
        expect_pass_through_400(body, "gzip");
    }
}

TEST(FailureClassifier, Other400sPassThrough) {
    for (
        std::string_view body : {
            // OpenAI's and Azure OpenAI's content filters.
            R"({"error":{"message":"Your request was rejected as a result of our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}})",
            R"({"error":{"message":"The response was filtered due to the prompt triggering Azure OpenAI's content management policy.","type":null,"param":"prompt","code":"content_filter","status":400}})",
            R"({"error":{"message":"Invalid 'messages[1].content': string too long.","type":"invalid_request_error","param":"messages[1].content","code":"string_above_max_length"}})",
            R"({"type":"error","error":{"type":"invalid_request_error","message":"messages: text content blocks must be non-empty"}})",
            R"({"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-5"}})",
            R"({"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}})",
            R"({"error":"bad request"})",
            "Bad Request",
            "<html><body>400 Bad Request</body></html>",
            R"(["prompt is too long"])",
            "[]",
            R"({"error":{"message":"prompt is too long")",
            "",
        })
        expect_pass_through_400(body);
}

TEST(FailureClassifier, ContextLength400IgnoresHints) {
    auto a = answer(400, "30", "1m", "1m");
    a.body = anthropic_context;
    const auto v = classify(a, now);
    EXPECT_EQ(v.reason, failure_reason::context_length);
    EXPECT_FALSE(v.cooldown);
}

TEST(FailureClassifier, ContextLengthWordsMeanNothingOnOtherStatuses) {
    for (int status : {404, 413, 422}) {
        auto a = answer(status);
        a.body = anthropic_context;
        EXPECT_EQ(classify(a, now).act, action::pass_through) << status;
    }
    EXPECT_EQ(classify_429(anthropic_context).reason, failure_reason::rate_limited);
}

TEST(FailureClassifier, RateLimit429InAGeminiArrayIsRead) {
    EXPECT_EQ(classify_429(R"([{"error":{"code":429,"message":"x","status":"RESOURCE_EXHAUSTED"}}])").reason,
              failure_reason::rate_limited);
    EXPECT_EQ(classify_429(R"([{"error":{"message":"You have insufficient quota"}}])").reason, failure_reason::quota);
}

// ---- transient

TEST(FailureClassifier, TransientFaultsAreTheRetryableOnes) {
    using clipal::transient;
    for (auto r : {failure_reason::connect, failure_reason::write, failure_reason::reset, failure_reason::server_error,
                   failure_reason::overloaded})
        EXPECT_TRUE(transient(r)) << to_string(r);
    for (auto r :
         {failure_reason::tls, failure_reason::header_timeout, failure_reason::idle_timeout,
          failure_reason::first_byte_timeout, failure_reason::bad_response, failure_reason::auth,
          failure_reason::billing, failure_reason::quota, failure_reason::rate_limited, failure_reason::context_length})
        EXPECT_FALSE(transient(r)) << to_string(r);
}

TEST(FailureClassifier, ServerStatusesAreTransientAndOthersAreNot) {
    for (int status : {408, 500, 502, 503, 504, 529}) {
        const auto v = classify(answer(status), now);
        ASSERT_TRUE(v.reason) << status;
        EXPECT_TRUE(clipal::transient(*v.reason)) << status;
    }
    for (int status : {401, 402, 403, 429}) {
        const auto v = classify(answer(status), now);
        ASSERT_TRUE(v.reason) << status;
        EXPECT_FALSE(clipal::transient(*v.reason)) << status;
    }
}

TEST(FailureClassifier, GeminisInvalidKey400DeactivatesLikeA401) {
    const std::string body =
        R"({"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}]}})";
    const auto v = clipal::classify({400, {}, {}, {}, {}, body}, {});
    EXPECT_EQ(v.act, clipal::action::deactivate);
    EXPECT_EQ(v.reason, clipal::failure_reason::auth);
    // The same words under another status or protocol shape are no key verdict.
    const auto other = clipal::classify(
        {400, {}, {}, {}, {}, R"({"error":{"message":"API key not valid","type":"invalid_request_error"}})"}, {});
    EXPECT_EQ(other.act, clipal::action::pass_through);
}
