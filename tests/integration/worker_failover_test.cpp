// SPEC §4 through the real worker: every row of the classification table, cooldowns from
// the hint headers, deactivation and automatic reactivation, the exhausted answers, the
// sticky current provider and the count_tokens lane. Upstreams are fake-upstream processes.
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace clipal::test;

// The Anthropic error message of one of clipal's own answers.
std::string error_message(const http_response& r) {
    const auto v = parse_json(r.body);
    if (!v.is_object()) return {};
    EXPECT_EQ(v.at("type").as_string(), "error") << r.body;
    return std::string(v.at("error").at("message").as_string());
}

std::optional<int> retry_after(const http_response& r) {
    const auto h = r.header("Retry-After");
    if (!h) return std::nullopt;
    return std::stoi(*h);
}

// ---- answers that fail over, and what they do to the failed provider ----

enum class effect { deactivated, cooling, none };

struct failover_row {
    const char* label;
    std::string script; // the failing provider's first answer
    std::string reason; // as clipal names it in logs and error bodies
    effect what;
    int cooldown_s = 0; // for cooling: the Retry-After the exhausted answer must carry (+0/-2)
};

void PrintTo(const failover_row& r, std::ostream* os) { *os << r.label; }

class WorkerFailoverRow : public ::testing::TestWithParam<failover_row> {};

// Provider "a" fails once as the row says, "b" answers, then fails with a plain 500. The
// second request shows what the first failure did to "a": skipped (deactivated / cooling,
// named in clipal's 503 with a Retry-After) or tried again (answering this time).
TEST_P(WorkerFailoverRow, FailsOverAndAppliesTheRowsEffect) {
    const auto& row = GetParam();
    fake_upstream_process fu(fakes({{"a", row.script + ",ok"}, {"b", "ok,status:500"}}));
    // The seed's rules alone: no retry of b's 500, no inline wait, no breaker on b.
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = seed_failover()});

    const auto first = claude_message(w);
    ASSERT_TRUE(first.complete()) << first.error;
    EXPECT_TRUE(answered_by(first, "b")) << first.status << " " << first.body;
    EXPECT_EQ(fu.requests("a").size(), 1u);
    EXPECT_TRUE(w.wait_for_log("a failed: ")) << w.log_text();
    EXPECT_NE(w.log_text().find("(" + row.reason + "), switching to b"), std::string::npos) << w.log_text();

    const auto second = claude_message(w);
    ASSERT_TRUE(second.complete()) << second.error;
    switch (row.what) {
    case effect::deactivated:
        EXPECT_TRUE(w.wait_for_log("a deactivated for 1h")) << w.log_text();
        EXPECT_EQ(second.status, 503);
        EXPECT_EQ(fu.requests("a").size(), 1u) << "a deactivated provider was tried";
        EXPECT_NE(error_message(second).find("a: deactivated (" + row.reason + ")"), std::string::npos) << second.body;
        // The deactivation lasts reactivate_after (1h by default).
        ASSERT_TRUE(retry_after(second));
        EXPECT_GE(*retry_after(second), 3598);
        EXPECT_LE(*retry_after(second), 3600);
        break;
    case effect::cooling:
        EXPECT_TRUE(w.wait_for_log("a cooling down for")) << w.log_text();
        EXPECT_EQ(second.status, 503);
        EXPECT_EQ(fu.requests("a").size(), 1u) << "a cooling provider was tried";
        EXPECT_NE(error_message(second).find("a: cooling (" + row.reason + ")"), std::string::npos) << second.body;
        ASSERT_TRUE(retry_after(second)) << second.body;
        EXPECT_LE(*retry_after(second), row.cooldown_s);
        EXPECT_GE(*retry_after(second), row.cooldown_s - 2);
        break;
    case effect::none:
        EXPECT_TRUE(answered_by(second, "a")) << second.status << " " << second.body;
        EXPECT_EQ(fu.requests("a").size(), 2u);
        break;
    }
    // b's failure on the second request is named too.
    if (row.what != effect::none) {
        EXPECT_NE(second.body.find("b: 500"), std::string::npos) << second.body;
    }
}

INSTANTIATE_TEST_SUITE_P(
    SpecTable, WorkerFailoverRow,
    ::testing::Values(
        failover_row{"status401", "status:401", "auth", effect::deactivated},
        failover_row{"status403", "status:403", "auth", effect::deactivated},
        failover_row{"status402", "status:402", "billing", effect::deactivated},
        failover_row{"status429AnthropicAuth", "status:429;body=anthropic-auth", "auth", effect::deactivated},
        failover_row{"status429InvalidKey", "status:429;body=openai-invalid-key", "auth", effect::deactivated},
        failover_row{"status429Quota", "status:429;body=openai-insufficient-quota", "quota", effect::deactivated},
        failover_row{"status429QuotaGzip", "status:429;body=openai-insufficient-quota;gzip", "quota",
                     effect::deactivated},
        failover_row{"status429RateLimitRetryAfter", "status:429;body=anthropic-rate-limit;retry-after=30",
                     "rate limited", effect::cooling, 30},
        failover_row{"status429OverloadedRetryAfter", "status:429;body=anthropic-overloaded;retry-after=40",
                     "overloaded", effect::cooling, 40},
        failover_row{"status429TextResetRequests", "status:429;body=text;reset-requests=1m30s", "rate limited",
                     effect::cooling, 90},
        failover_row{"status429LargestHintWins", "status:429;body=openai-rate-limit;retry-after=5;reset-tokens=50s",
                     "rate limited", effect::cooling, 50},
        failover_row{"status429NoHint", "status:429;body=anthropic-rate-limit", "rate limited", effect::none},
        failover_row{"status408", "status:408;retry-after=30", "server error", effect::cooling, 30},
        failover_row{"status500", "status:500;retry-after=30", "server error", effect::cooling, 30},
        failover_row{"status502", "status:502;retry-after=30", "server error", effect::cooling, 30},
        failover_row{"status503", "status:503;retry-after=30", "server error", effect::cooling, 30},
        failover_row{"status503OverloadedBody", "status:503;body=anthropic-overloaded;retry-after=30", "overloaded",
                     effect::cooling, 30},
        failover_row{"status504", "status:504;retry-after=30", "server error", effect::cooling, 30},
        failover_row{"status529", "status:529;retry-after=30", "overloaded", effect::cooling, 30},
        failover_row{"status503CooldownCappedAtOneHour", "status:503;retry-after=7200", "server error", effect::cooling,
                     3600},
        failover_row{"status503NoRetryAfter", "status:503", "server error", effect::none},
        failover_row{"resetBeforeResponse", "reset", "connection reset", effect::none}),
    [](const auto& p) { return std::string(p.param.label); });

TEST(WorkerFailover, ConnectionRefusedTriesNext) {
    fake_upstream_process fu(fakes({{"b", "ok"}}));
    worker_process w({.providers = {{"down", "http://127.0.0.1:" + std::to_string(unused_loopback_port())},
                                    providers_of(fu, {"b"})[0]}});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    EXPECT_TRUE(w.wait_for_log("down failed: connect failed")) << w.log_text();
}

TEST(WorkerFailover, RequestBodyIsReplayedByteForByteToTheNextProvider) {
    fake_upstream_process fu(fakes({{"a", "status:503"}, {"b", "echo"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = seed_failover()});
    std::string body(2u << 20, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 7919) >> 3);
    const auto r = w.request("POST", "/claudecode/v1/files", {{"Content-Type", "application/octet-stream"}}, body);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    const auto q = fu.requests();
    ASSERT_EQ(q.size(), 2u);
    EXPECT_EQ(q[0].body_length, body.size());
    EXPECT_EQ(q[1].body_length, body.size());
    EXPECT_EQ(q[1].body_sha256, q[0].body_sha256);
    EXPECT_EQ(parse_json(r.body).at("body_sha256").as_string(), q[0].body_sha256);
}

// ---- answers returned as they are ----

TEST(WorkerFailover, OtherClientErrorsAreReturnedAsIsWithoutFailover) {
    fake_upstream_process fu(fakes({{"a", "status:400,status:404,status:422"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    for (const int status : {400, 404, 422}) {
        const auto r = claude_message(w);
        ASSERT_TRUE(r.complete()) << r.error;
        EXPECT_EQ(r.status, status);
        // The upstream's own error body, untouched.
        EXPECT_EQ(parse_json(r.body).at("type").as_string(), "error") << r.body;
    }
    EXPECT_TRUE(fu.requests("b").empty());
}

TEST(WorkerFailover, RedirectIsReturnedNotFollowed) {
    fake_upstream_process fu(fakes({{"a", "redirect:https://elsewhere.example/steal"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.header("Location"), "https://elsewhere.example/steal");
    EXPECT_EQ(fu.requests().size(), 1u) << "the redirect was followed or failed over";
}

TEST(WorkerFailover, SuccessIsReturnedWithTheUpstreamsHeadersAndBody) {
    fake_upstream_process fu(fakes({{"a", "echo"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    const auto r = w.request("POST", "/claudecode/v1/messages", {{"Content-Type", "application/json"}}, "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(parse_json(r.body).at("provider").as_string(), "a");
}

// ---- exhausted providers ----

TEST(WorkerFailover, AllFailingGives503NamingEachProviderAndWhy) {
    fake_upstream_process fu(fakes({{"a", "status:500"}, {"b", "reset"}}));
    worker_process w({.providers = {providers_of(fu, {"a", "b"})[0],
                                    providers_of(fu, {"a", "b"})[1],
                                    {"c", "http://127.0.0.1:" + std::to_string(unused_loopback_port())}},
                      .global = seed_failover()});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_FALSE(r.header("Retry-After")) << "nobody comes back later, so no Retry-After";
    const auto msg = error_message(r);
    EXPECT_NE(msg.find("all providers failed"), std::string::npos) << msg;
    EXPECT_NE(msg.find("a: 500 server error"), std::string::npos) << msg;
    EXPECT_NE(msg.find("b: connection reset"), std::string::npos) << msg;
    EXPECT_NE(msg.find("c: connect error"), std::string::npos) << msg;
    EXPECT_EQ(parse_json(r.body).at("error").at("type").as_string(), "api_error") << r.body;
    // Keys never appear in what the client gets.
    EXPECT_EQ(r.body.find("sk-"), std::string::npos) << r.body;
}

TEST(WorkerFailover, AllRateLimitedGives429WithTheSoonestRetryAfter) {
    fake_upstream_process fu(
        fakes({{"a", "status:429;body=anthropic-rate-limit;retry-after=30"}, {"b", "status:529;retry-after=20"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 429);
    ASSERT_TRUE(retry_after(r));
    EXPECT_LE(*retry_after(r), 20);
    EXPECT_GE(*retry_after(r), 18);
    const auto msg = error_message(r);
    EXPECT_NE(msg.find("a: 429 rate limited"), std::string::npos) << msg;
    EXPECT_NE(msg.find("b: 529 overloaded"), std::string::npos) << msg;
    EXPECT_EQ(parse_json(r.body).at("error").at("type").as_string(), "rate_limit_error") << r.body;

    // While both cool down, a request contacts nobody and says who is out until when.
    const auto again = claude_message(w);
    EXPECT_EQ(again.status, 429);
    EXPECT_EQ(fu.requests().size(), 2u);
    EXPECT_NE(error_message(again).find("a: cooling (rate limited) until"), std::string::npos) << again.body;
}

TEST(WorkerFailover, ExhaustedAnswerUsesTheOpenAIShapeOnCodex) {
    fake_upstream_process fu(fakes({{"a", "status:503"}}));
    worker_process w({.profile = "codex", .providers = providers_of(fu, {"a"})});
    const auto r = w.request("POST", "/codex/v1/responses", {{"Content-Type", "application/json"}}, "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    const auto v = parse_json(r.body);
    EXPECT_NE(std::string(v.at("error").at("message").as_string()).find("a: 503"), std::string::npos) << r.body;
    EXPECT_TRUE(v.at("error").as_object().contains("type")) << r.body;
    EXPECT_TRUE(v.at("error").as_object().contains("code")) << r.body;
}

TEST(WorkerFailover, ExhaustedAnswerUsesTheGeminiShapeOnGemini) {
    fake_upstream_process fu(fakes({{"a", "status:503"}}));
    worker_process w({.profile = "gemini", .providers = providers_of(fu, {"a"})});
    const auto r =
        w.request("POST", "/gemini/v1beta/models/m:generateContent", {{"Content-Type", "application/json"}}, "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    const auto v = parse_json(r.body);
    EXPECT_EQ(v.at("error").at("code").as_int64(), 503) << r.body;
    EXPECT_EQ(v.at("error").at("status").as_string(), "UNAVAILABLE") << r.body;
    EXPECT_NE(std::string(v.at("error").at("message").as_string()).find("a: 503"), std::string::npos) << r.body;
}

TEST(WorkerFailover, NoEnabledProvidersGives503SayingSo) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    auto providers = providers_of(fu, {"a"});
    providers[0].enabled = false;
    worker_process w({.providers = providers});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(error_message(r).find("no providers are enabled"), std::string::npos) << r.body;
    EXPECT_TRUE(fu.requests().empty());
}

// ---- deactivation comes back by itself ----

TEST(WorkerFailover, DeactivatedProviderComesBackAfterReactivateAfter) {
    fake_upstream_process fu(fakes({{"a", "status:401,ok"}, {"b", "ok,status:500"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = seed_failover({"reactivate_after: 1s"})});

    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    const auto out = claude_message(w); // b fails, a is still out
    EXPECT_EQ(out.status, 503);
    EXPECT_EQ(fu.requests("a").size(), 1u);

    // The worker notices the end of the deactivation without any request.
    EXPECT_TRUE(w.wait_for_log("a is available again", 5s)) << w.log_text();
    EXPECT_EQ(fu.requests().size(), 3u);
    const auto back = claude_message(w); // b (current) fails again, a answers
    EXPECT_TRUE(answered_by(back, "a")) << back.status << " " << back.body;
    EXPECT_EQ(fu.requests("a").size(), 2u);
}

TEST(WorkerFailover, ReactivateAfterZeroNeverDeactivates) {
    fake_upstream_process fu(fakes({{"a", "status:401,ok"}, {"b", "ok,status:500"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = {"reactivate_after: 0"}});
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    const auto second = claude_message(w);
    EXPECT_TRUE(answered_by(second, "a")) << second.status << " " << second.body;
}

TEST(WorkerFailover, CoolingProviderComesBackAfterRetryAfter) {
    fake_upstream_process fu(fakes({{"a", "status:503;retry-after=1,ok"}, {"b", "ok,status:500"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = seed_failover()});
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    EXPECT_EQ(claude_message(w).status, 503);
    EXPECT_TRUE(w.wait_for_log("a is available again", 5s)) << w.log_text();
    EXPECT_TRUE(answered_by(claude_message(w), "a"));
}

// ---- sticky current provider ----

TEST(WorkerFailover, ProviderThatAnsweredStaysCurrent) {
    fake_upstream_process fu(fakes({{"a", "status:500,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = seed_failover()});
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(answered_by(claude_message(w), "b")) << i;
    // a failed once and is not asked again while b keeps answering.
    EXPECT_EQ(fu.requests("a").size(), 1u);
    EXPECT_EQ(fu.requests("b").size(), 3u);
}

TEST(WorkerFailover, OrderWrapsAroundFromTheCurrentProvider) {
    // b becomes current; when it fails, c is tried next and then a (wrapping), each once.
    fake_upstream_process fu(fakes({{"a", "status:500,ok"}, {"b", "ok,status:500"}, {"c", "status:502"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b", "c"}), .global = seed_failover()});
    EXPECT_TRUE(answered_by(claude_message(w), "b")); // a 500, b ok
    const auto r = claude_message(w);                 // b 500, c 502, a ok
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto all = fu.requests();
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[2].provider, "b");
    EXPECT_EQ(all[3].provider, "c");
    EXPECT_EQ(all[4].provider, "a");
}

TEST(WorkerFailover, PriorityOrdersProvidersNotFileOrder) {
    fake_upstream_process fu(fakes({{"a", "ok"}, {"b", "ok"}}));
    auto providers = providers_of(fu, {"a", "b"});
    providers[0].priority = 2;
    providers[1].priority = 1;
    worker_process w({.providers = providers});
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
}

// ---- count_tokens lane ----

http_response count_tokens(const worker_process& w) {
    return w.request("POST", "/claudecode/v1/messages/count_tokens?beta=true",
                     {{"Content-Type", "application/json"}, {"x-api-key", "client"}},
                     R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
}

TEST(WorkerFailover, CountTokensFailuresDoNotMoveTheConversationWhenSeparated) {
    fake_provider a{"a", "ok", {{"count_tokens", "status:529"}}};
    fake_upstream_process fu(fakes({a, {"b", "ok"}}));
    worker_process w(
        {.providers = providers_of(fu, {"a", "b"}), .global = seed_failover({"ignore_count_tokens_failover: true"})});

    const auto ct = count_tokens(w);
    ASSERT_TRUE(ct.complete()) << ct.error;
    EXPECT_EQ(ct.status, 200); // b counted
    EXPECT_EQ(fu.requests("b").size(), 1u);
    // The conversation stays on a, and a is not cooling down either.
    EXPECT_TRUE(answered_by(claude_message(w), "a"));
    EXPECT_TRUE(answered_by(claude_message(w), "a"));
    // count_tokens keeps its own current provider: b.
    EXPECT_EQ(count_tokens(w).status, 200);
    EXPECT_EQ(fu.requests("b").size(), 2u);
    EXPECT_EQ(fu.requests("a").size(), 3u);
}

TEST(WorkerFailover, CountTokensFailuresMoveTheConversationByDefault) {
    fake_provider a{"a", "ok", {{"count_tokens", "status:529"}}};
    fake_upstream_process fu(fakes({a, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    EXPECT_EQ(count_tokens(w).status, 200);
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
}

TEST(WorkerFailover, CountTokensAuthFailureStillDeactivatesWhenSeparated) {
    fake_provider a{"a", "ok", {{"count_tokens", "status:401"}}};
    fake_upstream_process fu(fakes({a, {"b", "ok,status:500"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = {"ignore_count_tokens_failover: true"}});
    EXPECT_EQ(count_tokens(w).status, 200); // a 401 (deactivated), b counts
    EXPECT_TRUE(w.wait_for_log("a deactivated for")) << w.log_text();
    // The main lane would start at a, which is out; b fails this time and a stays skipped.
    const auto r = claude_message(w);
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(error_message(r).find("a: deactivated (auth)"), std::string::npos) << r.body;
}

} // namespace
