// SPEC §4 "Policies (failover v2)" and §5 through the real worker (and, for reload and
// state, the real supervisor), one test per failoverbench-like fault (issue 14): same-
// provider retry after a jittered backoff, short rate-limit hints waited out inline, the
// breaker and fail-back, the stream first-byte timeout, context-length 400s, the model
// override, several keys, what makes a provider current, and a config.yaml edit that keeps
// provider state. Upstreams are fake-upstream processes; attempts and their timing are read
// from its recording (t_ms: arrival, ms since fake-upstream started, one clock for all).
#include "integration/supervisor_fixture.hpp"
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace clipal::test;
using clock_type = std::chrono::steady_clock;

long ms(clock_type::duration d) {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Milliseconds between the arrivals of two recorded requests.
long gap_ms(const recorded_request& earlier, const recorded_request& later) {
    return static_cast<long>(later.t_ms - earlier.t_ms);
}

std::string times_of(const std::vector<recorded_request>& q) {
    std::string out;
    for (const auto& r : q) out += r.provider + "@" + std::to_string(r.t_ms) + "(" + r.step + ") ";
    return out;
}

// The body claude_message sends (non-streaming).
const std::string claude_body =
    R"({"model":"claude-x","max_tokens":16,"stream":false,"messages":[{"role":"user","content":"hi"}]})";

// Codex: the Responses API.
http_response codex_request(const worker_process& w, std::string_view body = R"({"model":"gpt-5","input":"hi"})") {
    return w.request("POST", "/codex/v1/responses",
                     {{"Content-Type", "application/json"}, {"Authorization", "Bearer client-key"}}, body);
}

// Gemini CLI: generateContent, or the SSE stream.
http_response gemini_request(const worker_process& w, bool stream = false, std::string_view model = "gemini-2.5-pro") {
    const std::string target = "/gemini/v1beta/models/" + std::string(model) +
                               (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    return w.request("POST", target, {{"Content-Type", "application/json"}, {"x-goog-api-key", "client-key"}},
                     R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})");
}

// Any protocol's success answer from the fake provider NAME ("Hello from NAME").
bool answered_by_any(const http_response& r, std::string_view provider) {
    return r.status == 200 && r.body.find("Hello from " + std::string(provider)) != std::string::npos;
}

// ---- 1. same-provider retry of a transient fault ----

// failoverbench S03: one 500, then healthy. Before: clipal left for the fallback at once.
TEST(FailoverPolicies, OneServerErrorIsRetriedOnTheSameProviderAfterAJitteredBackoff) {
    fake_upstream_process fu(fakes({{"a", "status:500,ok,status:500,ok,status:502,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    // Three rounds: each transient fault is retried on a after ~250 ms (200-300 ms jitter),
    // and the success keeps a current (the next round starts there again).
    for (int round = 0; round < 3; ++round) {
        const auto r = claude_message(w);
        ASSERT_TRUE(r.complete()) << r.error;
        EXPECT_TRUE(answered_by(r, "a")) << round << ": " << r.status << " " << r.body;
    }
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 6u) << times_of(fu.requests());
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
    std::string gaps;
    for (std::size_t i = 0; i < a.size(); i += 2) {
        EXPECT_EQ(a[i].step, "status");
        EXPECT_EQ(a[i + 1].step, "ok");
        // The fault answers at once, so the gap is the backoff (+ a new connection).
        const auto gap = gap_ms(a[i], a[i + 1]);
        gaps += (gaps.empty() ? "" : ",") + std::to_string(gap);
        EXPECT_GE(gap, 195) << "retried without the backoff: " << times_of(a);
        EXPECT_LE(gap, 400) << "backoff longer than ~300 ms: " << times_of(a);
    }
    RecordProperty("retry_gaps_ms", gaps); // what the issue's closing note reports
}

// failoverbench S04: a primary that keeps answering 503 gets two attempts, then the
// fallback answers; the open breaker keeps the next request off it.
TEST(FailoverPolicies, PersistentServiceUnavailableIsTriedTwiceThenTheFallbackAnswers) {
    fake_upstream_process fu(fakes({{"a", "status:503"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto t0 = clock_type::now();
    const auto r = claude_message(w);
    const auto took = clock_type::now() - t0;
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    const auto a = fu.requests("a");
    const auto b = fu.requests("b");
    ASSERT_EQ(a.size(), 2u) << times_of(fu.requests());
    ASSERT_EQ(b.size(), 1u) << times_of(fu.requests());
    EXPECT_GE(gap_ms(a[0], a[1]), 195) << times_of(fu.requests());
    EXPECT_LE(gap_ms(a[0], a[1]), 400) << times_of(fu.requests());
    EXPECT_GE(b[0].t_ms, a[1].t_ms);
    EXPECT_LE(gap_ms(a[1], b[0]), 300) << "the fallback was not tried at once: " << times_of(fu.requests());
    EXPECT_LT(ms(took), 1500);
    RecordProperty("retry_gap_ms", static_cast<int>(gap_ms(a[0], a[1])));
    RecordProperty("fallback_after_ms", static_cast<int>(gap_ms(a[1], b[0])));
    RecordProperty("took_ms", static_cast<int>(ms(took)));

    // Right away (within the breaker's first second) a is skipped.
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    EXPECT_EQ(fu.requests("a").size(), 2u) << times_of(fu.requests());
}

// failoverbench S05: the connection is reset before any response head, then healthy.
TEST(FailoverPolicies, ResetBeforeHeadersIsRetriedOnTheSameProvider) {
    fake_upstream_process fu(fakes({{"a", "reset,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 2u) << times_of(fu.requests());
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
    EXPECT_GE(gap_ms(a[0], a[1]), 195) << times_of(a);
    EXPECT_LE(gap_ms(a[0], a[1]), 400) << times_of(a);
    RecordProperty("retry_gap_ms", static_cast<int>(gap_ms(a[0], a[1])));
}

// Budgets: never more than 6 attempts per request, never more than 2 attempts to one
// provider within 1.5 s (even when retries_per_provider asks for more).
TEST(FailoverPolicies, AttemptsAreBoundedPerRequestAndPerProvider) {
    fake_upstream_process fu(
        fakes({{"a", "status:503"}, {"b", "status:502"}, {"c", "status:500"}, {"d", "status:529"}}));
    {
        worker_process w({.providers = providers_of(fu, {"a", "b", "c", "d"})});
        const auto r = claude_message(w, false, {}, 15s);
        ASSERT_TRUE(r.complete()) << r.error;
        EXPECT_EQ(r.status, 503) << r.body;
        // 4 providers x 2 attempts would be 8.
        EXPECT_LE(fu.requests().size(), 6u) << times_of(fu.requests());
        EXPECT_GE(fu.requests().size(), 4u) << times_of(fu.requests());
    }
    fake_upstream_process fu2(fakes({{"a", "status:503"}, {"b", "status:503"}}));
    worker_process w({.providers = providers_of(fu2, {"a", "b"}), .global = {"retries_per_provider: 5"}});
    const auto t0 = clock_type::now();
    const auto r = claude_message(w, false, {}, 20s);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_LT(ms(clock_type::now() - t0), 15000);
    const auto all = fu2.requests();
    EXPECT_LE(all.size(), 6u) << times_of(all);
    for (const char* name : {"a", "b"}) {
        const auto q = fu2.requests(name);
        // Arrival times: 20 ms for the skew between when clipal starts an attempt (its
        // clock) and when the request has arrived here, and the whole-ms truncation.
        for (std::size_t i = 0; i + 2 < q.size(); ++i)
            EXPECT_GE(gap_ms(q[i], q[i + 2]), 1480) << "3 attempts to " << name << " within 1.5 s: " << times_of(all);
    }
}

// ---- 2. short hints waited out inline ----

// failoverbench S01: one 429 with Retry-After: 2, then healthy. Before: clipal cooled the
// primary and answered from the fallback (a cold prompt cache).
TEST(FailoverPolicies, RateLimitWithAShortRetryAfterIsWaitedOutOnTheSameProvider) {
    fake_upstream_process fu(fakes({{"a", "status:429;retry-after=2;body=anthropic-rate-limit,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto t0 = clock_type::now();
    const auto r = claude_message(w);
    const auto took = clock_type::now() - t0;
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 2u) << times_of(fu.requests());
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
    EXPECT_GE(gap_ms(a[0], a[1]), 1800) << times_of(a);
    EXPECT_LE(gap_ms(a[0], a[1]), 2600) << times_of(a);
    EXPECT_GE(ms(took), 1800);
    EXPECT_LT(ms(took), 4000);
    RecordProperty("wait_ms", static_cast<int>(gap_ms(a[0], a[1])));
    RecordProperty("took_ms", static_cast<int>(ms(took)));

    // a was busy, not broken: it is still current and answers the next request at once.
    const auto t1 = clock_type::now();
    EXPECT_TRUE(answered_by(claude_message(w), "a"));
    EXPECT_LT(ms(clock_type::now() - t1), 1000);
    EXPECT_EQ(fu.requests("a").size(), 3u);
}

// A 503 with a short Retry-After waits the hint, not the ~250 ms backoff.
TEST(FailoverPolicies, ServiceUnavailableWithAShortRetryAfterIsWaitedOut) {
    fake_upstream_process fu(fakes({{"a", "status:503;retry-after=1,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 2u) << times_of(fu.requests());
    EXPECT_TRUE(fu.requests("b").empty());
    EXPECT_GE(gap_ms(a[0], a[1]), 900) << times_of(a);
    EXPECT_LE(gap_ms(a[0], a[1]), 1600) << times_of(a);
}

// At most one inline wait per request: a second short hint moves on at once.
TEST(FailoverPolicies, OnlyOneInlineWaitPerRequest) {
    fake_upstream_process fu(fakes({{"a", "status:429;retry-after=1;body=anthropic-rate-limit*2,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto t0 = clock_type::now();
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    EXPECT_LT(ms(clock_type::now() - t0), 2500);
    const auto a = fu.requests("a");
    const auto b = fu.requests("b");
    ASSERT_EQ(a.size(), 2u) << times_of(fu.requests());
    ASSERT_EQ(b.size(), 1u) << times_of(fu.requests());
    EXPECT_GE(gap_ms(a[0], a[1]), 900) << times_of(a);
    EXPECT_LE(gap_ms(a[1], b[0]), 300) << "waited a second time: " << times_of(fu.requests());
}

// A hint longer than max_inline_wait cools the provider and moves on at once. (The seed
// does this too: it bounds the inline wait.)
TEST(FailoverPolicies, LongerHintCoolsDownAndMovesOnAtOnce) {
    fake_upstream_process fu(fakes({{"a", "status:429;retry-after=10;body=anthropic-rate-limit,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto t0 = clock_type::now();
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    EXPECT_LT(ms(clock_type::now() - t0), 1000);
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
    // Still cooling: the next request does not touch a.
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
}

// A client that goes away during the inline wait ends it: no further upstream attempt.
TEST(FailoverPolicies, ClientDisconnectDuringTheInlineWaitEndsIt) {
    fake_upstream_process fu(fakes({{"a", "status:429;retry-after=2;body=anthropic-rate-limit,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    auto c = w.connect();
    ASSERT_TRUE(c.connected()) << c.last_error();
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(w.port()) +
                       "\r\nContent-Type: application/json\r\nanthropic-version: 2023-06-01\r\n"
                       "x-api-key: client-key\r\nContent-Length: " +
                       std::to_string(claude_body.size()) + "\r\n\r\n" + claude_body));
    ASSERT_TRUE(fu.wait_for_requests(1, 5s, "a"));
    std::this_thread::sleep_for(300ms); // into the 2 s wait
    c.abort();
    // Past the end of the hint and the retry it would have made.
    std::this_thread::sleep_for(2500ms);
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
    // The worker serves on.
    const auto r = claude_message(w);
    EXPECT_EQ(r.status, 200) << r.body;
}

// ---- 3. a rate limit without hints ----

// failoverbench S02: a primary that keeps answering 429 without any hint, with a healthy
// fallback. Every request is served and the primary is not hammered. (The seed passes this
// too: it bounds what the retry and fail-back policies may add.)
TEST(FailoverPolicies, RateLimitWithoutHintsDoesNotHammerThePrimary) {
    fake_upstream_process fu(fakes({{"a", "status:429;body=anthropic-rate-limit"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto start = clock_type::now();
    std::size_t before = 0;
    for (int i = 0; i < 6; ++i) {
        std::this_thread::sleep_until(start + i * 500ms);
        const auto r = claude_message(w);
        ASSERT_TRUE(r.complete()) << r.error;
        EXPECT_TRUE(answered_by(r, "b")) << i << ": " << r.status << " " << r.body;
        const auto all = fu.requests();
        EXPECT_LE(all.size() - before, 6u) << i << ": " << times_of(all);
        // No same-provider retry of a 429 without hints.
        const auto a_now = static_cast<std::size_t>(std::count_if(all.begin() + static_cast<long>(before), all.end(),
                                                                  [](const auto& q) { return q.provider == "a"; }));
        EXPECT_LE(a_now, 1u) << i << ": " << times_of(all);
        before = all.size();
    }
    const auto a = fu.requests("a");
    ASSERT_GE(a.size(), 1u);
    EXPECT_LE(a.size(), 4u) << "more than 4 attempts on the rate-limited primary in 3 s: " << times_of(a);
    RecordProperty("primary_attempts", static_cast<int>(a.size()));
    RecordProperty("all_attempts", static_cast<int>(fu.requests().size()));
}

// A 429 without hints rotates to the provider's next key before the next provider.
TEST(FailoverPolicies, RateLimitWithoutHintsRotatesToTheProvidersNextKey) {
    fake_upstream_process fu(fakes({{"a", "status:429;body=anthropic-rate-limit,ok"}, {"b", "ok"}}));
    auto providers = providers_of(fu, {"a", "b"});
    providers[0].api_keys = {"ka-rotate-key-one-0001", "ka-rotate-key-two-0002"};
    worker_process w({.providers = providers});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 2u) << times_of(fu.requests());
    EXPECT_EQ(a[0].header("x-api-key"), "ka-rotate-key-one-0001");
    EXPECT_EQ(a[1].header("x-api-key"), "ka-rotate-key-two-0002");
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
}

// ---- 4. breaker and fail-back ----

// failoverbench S15: the primary answers 503 for 6 s, then recovers, while a request
// arrives every 1.2 s. Every request is served, and the primary is used again within 4 s
// of recovering. Before: clipal stayed on the fallback until restarted.
TEST(FailoverPolicies, PrimaryDownForSixSecondsIsUsedAgainSoonAfterItRecovers) {
    fake_upstream_process fu(fakes({{"a", "status:503;for=6000,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto start = clock_type::now();
    std::optional<int> first_from_a; // index of the first request a answered after the outage
    int sent = 0;
    for (int i = 0; i < 12; ++i) {
        std::this_thread::sleep_until(start + i * 1200ms);
        const auto r = claude_message(w);
        ++sent;
        ASSERT_TRUE(r.complete()) << i << ": " << r.error;
        EXPECT_EQ(r.status, 200) << i << ": " << r.body << "\n" << times_of(fu.requests());
        if (answered_by(r, "a") && !first_from_a) first_from_a = i;
        if (first_from_a && i > *first_from_a) {
            // Current again: the request after the probe goes straight to a.
            EXPECT_TRUE(answered_by(r, "a")) << i << ": " << r.body;
            break;
        }
    }
    const auto a = fu.requests("a");
    ASSERT_FALSE(a.empty());
    const auto recovered = a.front().t_ms + 6000;
    const auto ok = std::find_if(a.begin(), a.end(), [](const auto& q) { return q.step == "ok"; });
    ASSERT_NE(ok, a.end()) << "the primary was never used again: " << times_of(fu.requests());
    EXPECT_LE(ok->t_ms - recovered, 4000) << times_of(fu.requests());
    RecordProperty("primary_back_after_recovery_ms", static_cast<int>(ok->t_ms - recovered));
    ASSERT_TRUE(first_from_a);
    // While it was down, the breaker kept it to a probe now and then: at most 2 attempts
    // per request it was tried for, far fewer than one per request.
    const auto outage_attempts = std::count_if(a.begin(), a.end(), [](const auto& q) { return q.step == "status"; });
    EXPECT_LE(outage_attempts, 2 * (*first_from_a)) << times_of(a);
    RecordProperty("primary_attempts_during_outage", static_cast<int>(outage_attempts));
    RecordProperty("requests_during_outage", *first_from_a);
    EXPECT_GE(sent, *first_from_a + 1);
}

// After the breaker's backoff the recovered primary gets the next request, and then stays current.
TEST(FailoverPolicies, RecoveredPrimaryIsProbedAfterTheBreakerAndBecomesCurrentAgain) {
    fake_upstream_process fu(fakes({{"a", "status:503*2,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    const auto failed_at = clock_type::now();
    ASSERT_EQ(fu.requests("a").size(), 2u) << times_of(fu.requests());
    // Within the first second the breaker is open: a is skipped.
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    EXPECT_EQ(fu.requests("a").size(), 2u) << times_of(fu.requests());
    std::this_thread::sleep_until(failed_at + 1300ms);
    const auto probe = claude_message(w);
    EXPECT_TRUE(answered_by(probe, "a")) << probe.status << " " << probe.body << "\n" << times_of(fu.requests());
    EXPECT_TRUE(answered_by(claude_message(w), "a"));
    EXPECT_EQ(fu.requests("b").size(), 2u) << times_of(fu.requests());
}

// Half-open: one probe at a time; requests arriving meanwhile keep using the current provider.
TEST(FailoverPolicies, HalfOpenProviderGetsOneProbeAtATime) {
    fake_upstream_process fu(fakes({{"a", "status:503*2,delay:1500"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    std::this_thread::sleep_for(1300ms);
    auto probe = std::async(std::launch::async, [&] { return claude_message(w); });
    ASSERT_TRUE(fu.wait_for_requests(3, 3s, "a")) << times_of(fu.requests());
    // While the probe waits for a's slow answer, two more requests go to b.
    auto second = std::async(std::launch::async, [&] { return claude_message(w); });
    auto third = std::async(std::launch::async, [&] { return claude_message(w); });
    const auto r2 = second.get();
    const auto r3 = third.get();
    EXPECT_TRUE(answered_by(r2, "b")) << r2.status << " " << r2.body;
    EXPECT_TRUE(answered_by(r3, "b")) << r3.status << " " << r3.body;
    EXPECT_EQ(fu.requests("a").size(), 3u) << "a second probe during the first: " << times_of(fu.requests());
    const auto p = probe.get();
    EXPECT_TRUE(answered_by(p, "a")) << p.status << " " << p.body;
}

// failback: false keeps the seed's stickiness: the fallback stays current.
TEST(FailoverPolicies, FailbackFalseKeepsTheSeedStickiness) {
    fake_upstream_process fu(fakes({{"a", "status:503*2,ok"}, {"b", "ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = {"failback: false"}});
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    // The same-provider retry still applies.
    EXPECT_EQ(fu.requests("a").size(), 2u) << times_of(fu.requests());
    std::this_thread::sleep_for(1500ms); // past the breaker's first backoff
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    EXPECT_TRUE(answered_by(claude_message(w), "b"));
    EXPECT_EQ(fu.requests("a").size(), 2u) << times_of(fu.requests());
}

// ---- 5. the stream first-byte timeout ----

struct silent_case {
    const char* label;
    std::string profile;
    std::string script; // the silent provider's
};

void PrintTo(const silent_case& c, std::ostream* os) { *os << c.label; }

class FailoverPoliciesSilent : public ::testing::TestWithParam<silent_case> {};

// A streaming request whose provider sends no head (or a head and no byte) for
// stream_first_byte_timeout goes to the next provider; the silent one is not retried.
TEST_P(FailoverPoliciesSilent, StreamingRequestFallsBackAfterStreamFirstByteTimeout) {
    const auto& c = GetParam();
    fake_upstream_process fu(fakes({{"a", c.script}, {"b", "ok"}}));
    worker_process w(
        {.profile = c.profile, .providers = providers_of(fu, {"a", "b"}), .global = {"stream_first_byte_timeout: 1s"}});
    const auto r = c.profile == "gemini" ? gemini_request(w, true) : claude_message(w, true);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by_any(r, "b")) << r.status << " " << r.body;
    EXPECT_GE(ms(r.head_at - r.sent_at), 900);
    EXPECT_LE(ms(r.head_at - r.sent_at), 2000);
    RecordProperty("fallback_head_ms", static_cast<int>(ms(r.head_at - r.sent_at)));
    std::this_thread::sleep_for(500ms); // a retry of the silent one would show by now
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
    EXPECT_EQ(fu.requests("b").size(), 1u) << times_of(fu.requests());
}

INSTANTIATE_TEST_SUITE_P(Faults, FailoverPoliciesSilent,
                         ::testing::Values(silent_case{"noHead", "claude-code", "stall-headers"},
                                           silent_case{"headNoBody", "claude-code", "stall-body"},
                                           silent_case{"geminiSseNoHead", "gemini", "stall-headers"}),
                         [](const auto& p) { return std::string(p.param.label); });

// ---- 6. 400s ----

struct context_case {
    const char* label;
    std::string profile;
    std::string body_kind;
};

void PrintTo(const context_case& c, std::ostream* os) { *os << c.label; }

class FailoverPoliciesContextLength : public ::testing::TestWithParam<context_case> {};

// failoverbench S12: a 400 naming the context length tries the next provider (which may
// serve a larger model). Before: the 400 went back to the client.
TEST_P(FailoverPoliciesContextLength, TriesTheNextProvider) {
    const auto& c = GetParam();
    fake_upstream_process fu(fakes({{"a", "status:400;body=" + c.body_kind}, {"b", "ok"}}));
    worker_process w({.profile = c.profile, .providers = providers_of(fu, {"a", "b"})});
    const auto r = c.profile == "gemini"  ? gemini_request(w)
                   : c.profile == "codex" ? codex_request(w)
                                          : claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by_any(r, "b")) << r.status << " " << r.body;
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
    EXPECT_EQ(fu.requests("b").size(), 1u) << times_of(fu.requests());
}

INSTANTIATE_TEST_SUITE_P(
    Bodies, FailoverPoliciesContextLength,
    ::testing::Values(context_case{"anthropicPromptTooLong", "claude-code", "anthropic-prompt-too-long"},
                      context_case{"openaiContextLengthExceeded", "codex", "openai-context-length"},
                      context_case{"geminiTokenLimit", "gemini", "gemini-token-limit"}),
    [](const auto& p) { return std::string(p.param.label); });

// When no provider can take the request, the first 400 goes back unchanged.
TEST(FailoverPolicies, ContextLength400OnEveryProviderReturnsTheFirst400Unchanged) {
    fake_upstream_process fu(
        fakes({{"a", "status:400;body=anthropic-prompt-too-long"}, {"b", "status:400;body=openai-context-length"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(
        r.body,
        R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}})");
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
    EXPECT_EQ(fu.requests("b").size(), 1u) << times_of(fu.requests());
}

// Any other 400 (here a content filter) goes straight back: one attempt, no failover.
// (The seed passes this too: it bounds the new 400 handling.)
TEST(FailoverPolicies, ContentFilter400IsReturnedAtOnceWithOneAttempt) {
    fake_upstream_process fu(fakes({{"a", "status:400;body=openai-content-filter"}, {"b", "ok"}}));
    worker_process w({.profile = "codex", .providers = providers_of(fu, {"a", "b"})});
    const auto r = codex_request(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(parse_json(r.body).at("error").at("code").as_string(), "content_policy_violation") << r.body;
    std::this_thread::sleep_for(400ms); // a retry after the backoff would show by now
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
}

// ---- 7. model override ----

// The fallback's `model:` replaces the request's model for it alone; everything else in the
// request, and the whole response (naming the upstream's model, with its usage), passes
// through byte for byte.
TEST(FailoverPolicies, ModelOverrideReachesOnlyThatProviderAndTheResponsePassesThrough) {
    fake_upstream_process fu(fakes({{"a", "status:503"}, {"b", "ok"}}));
    auto providers = providers_of(fu, {"a", "b"});
    providers[1].model = "other-model";
    worker_process w({.providers = providers});

    const std::string stream_body =
        R"({"model":"claude-x","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]})";
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "b")) << r.status << " " << r.body;
    const auto s = claude_message(w, true);
    ASSERT_TRUE(s.complete()) << s.error;
    EXPECT_TRUE(answered_by(s, "b")) << s.status << " " << s.body;

    auto replaced = [](std::string body) {
        body.replace(body.find("claude-x"), 8, "other-model");
        return body;
    };
    // a has no override: what it got is the client's request.
    const auto a = fu.requests("a");
    ASSERT_FALSE(a.empty());
    for (const auto& q : a) EXPECT_TRUE(q.body == claude_body || q.body == stream_body) << q.body;
    const auto b = fu.requests("b");
    ASSERT_EQ(b.size(), 2u) << times_of(fu.requests());
    EXPECT_EQ(b[0].body, replaced(claude_body));
    EXPECT_EQ(b[1].body, replaced(stream_body));

    // What the client got is exactly what b sends for the rewritten request.
    const auto v = parse_json(r.body);
    EXPECT_EQ(v.at("model").as_string(), "other-model") << r.body;
    EXPECT_EQ(v.at("usage").at("output_tokens").as_int64(), 5) << r.body;
    http_probe direct("127.0.0.1", fu.port("b"));
    const header_list h{{"Content-Type", "application/json"}, {"anthropic-version", "2023-06-01"}};
    const auto want = direct.request("POST", "/v1/messages?beta=true", h, replaced(claude_body));
    EXPECT_EQ(r.body, want.body);
    EXPECT_EQ(r.header("Content-Type"), want.header("Content-Type"));
    const auto want_stream = direct.request("POST", "/v1/messages?beta=true", h, replaced(stream_body));
    EXPECT_EQ(s.body, want_stream.body);
}

// Gemini names the model in the path: `models/NAME:` is replaced, the body is untouched.
TEST(FailoverPolicies, ModelOverrideReplacesTheGeminiPathSegment) {
    fake_upstream_process fu(fakes({{"a", "ok"}}));
    auto providers = providers_of(fu, {"a"});
    providers[0].model = "gemini-other";
    worker_process w({.profile = "gemini", .providers = providers});
    const auto r = gemini_request(w, false, "gemini-2.5-pro");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(parse_json(r.body).at("modelVersion").as_string(), "gemini-other") << r.body;
    const auto q = fu.requests("a");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(q[0].target, "/v1beta/models/gemini-other:generateContent");
    EXPECT_EQ(q[0].body, R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})");
}

// ---- 8. several keys ----

// A 401 on the first key puts that key out and the second key of the SAME provider answers;
// the next request goes straight to the second key. Keys show only as fingerprints in logs.
TEST(FailoverPolicies, RejectedKeyMovesToTheNextKeyOfTheSameProvider) {
    fake_upstream_process fu(fakes({{"a", "status:401;body=anthropic-auth,ok"}, {"b", "ok"}}));
    auto providers = providers_of(fu, {"a", "b"});
    providers[0].api_keys = {"ka-first-key-000000001", "ka-second-key-00000002"};
    worker_process w({.providers = providers});
    const auto r = claude_message(w);
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
    const auto second = claude_message(w);
    EXPECT_TRUE(answered_by(second, "a")) << second.status << " " << second.body;
    const auto a = fu.requests("a");
    ASSERT_EQ(a.size(), 3u) << times_of(fu.requests());
    EXPECT_EQ(a[0].header("x-api-key"), "ka-first-key-000000001");
    EXPECT_EQ(a[1].header("x-api-key"), "ka-second-key-00000002");
    EXPECT_EQ(a[2].header("x-api-key"), "ka-second-key-00000002");
    for (const auto& q : a) EXPECT_EQ(q.header_count("x-api-key"), 1u);
    EXPECT_TRUE(fu.requests("b").empty()) << times_of(fu.requests());
    EXPECT_EQ(w.log_text().find("ka-first-key-000000001"), std::string::npos) << w.log_text();
    EXPECT_EQ(w.log_text().find("ka-second-key-00000002"), std::string::npos) << w.log_text();
}

// ---- 9. only a 2xx makes a provider current ----

// b is current; when it fails, c answers a 404 that goes back to the client. c must not
// become current: the next request starts at b again. (Seed knobs for the rest, so only
// this rule is measured: no retries, no breaker.)
TEST(FailoverPolicies, APassedThrough404DoesNotMakeAProviderCurrent) {
    fake_upstream_process fu(
        fakes({{"a", "status:503;retry-after=30"}, {"b", "ok,status:503,ok"}, {"c", "status:404,ok"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b", "c"}),
                      .global = {"retries_per_provider: 0", "failback: false", "max_inline_wait: 0"}});
    EXPECT_TRUE(answered_by(claude_message(w), "b")); // a cools down for 30 s, b answers
    const auto r404 = claude_message(w);              // b 503, c 404
    EXPECT_EQ(r404.status, 404) << r404.body;
    EXPECT_EQ(fu.requests("c").size(), 1u) << times_of(fu.requests());
    std::this_thread::sleep_for(1200ms); // no breaker is involved whichever way it is read
    const auto r = claude_message(w);
    EXPECT_TRUE(answered_by(r, "b")) << "the 404 made c current: " << r.status << " " << r.body << "\n"
                                     << times_of(fu.requests());
    EXPECT_EQ(fu.requests("c").size(), 1u) << times_of(fu.requests());
    EXPECT_EQ(fu.requests("a").size(), 1u) << times_of(fu.requests());
}

// ---- reload and state (needs the supervisor) ----

const std::string supervisor_body = R"({"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";

http_response post_messages(std::uint16_t port) {
    http_probe p("127.0.0.1", port, 2s);
    return p.request("POST", "/claudecode/v1/messages",
                     {{"content-type", "application/json"}, {"x-api-key", "client-key"}}, supervisor_body, 10s);
}

std::string two_providers(const fake_upstream_process& up, const std::string& key_a) {
    return "providers:\n"
           "  - {name: a, base_url: \"" +
           up.base_url("a") + "\", api_key: " + key_a +
           ", priority: 1}\n"
           "  - {name: b, base_url: \"" +
           up.base_url("b") + "\", api_key: key-b-000000000000, priority: 2}\n";
}

// Issue 14 item 8: a config.yaml edit (log_level) keeps a's deactivation (its key was
// rejected); an edit of the profile file (the user fixed a's key) clears it. Before: any
// config.yaml edit rebuilt every profile, so a was tried again at once.
TEST(FailoverPoliciesReload, ConfigYamlEditKeepsADeactivationAndAProfileEditClearsIt) {
    fake_upstream_process up(fakes({{"a", "status:401;body=anthropic-auth,ok"}, {"b", "ok"}}));
    supervisor_fixture s;
    s.write("claude-code.yaml", two_providers(up, "key-a-rejected-0000"));
    s.start(1);

    const auto first = post_messages(s.port());
    EXPECT_TRUE(answered_by(first, "b")) << first.status << " " << first.body;
    ASSERT_EQ(up.requests("a").size(), 1u);

    const auto log = s.process().stdout_text();
    const auto reloaded = supervisor_fixture::occurrences(log, "config reloaded");
    const auto applied = supervisor_fixture::occurrences(log, " applied config generation");
    s.write("config.yaml", "log_level: info\n");
    ASSERT_TRUE(s.wait_log_count("config reloaded", reloaded + 1, 5s)) << s.process().stdout_text();
    ASSERT_TRUE(s.wait_log_count(" applied config generation", applied + 1, 5s)) << s.process().stdout_text();

    for (int i = 0; i < 2; ++i) {
        const auto r = post_messages(s.port());
        EXPECT_TRUE(answered_by(r, "b")) << i << ": " << r.status << " " << r.body;
    }
    EXPECT_EQ(up.requests("a").size(), 1u) << "the config.yaml edit forgot that a's key was rejected";

    s.write("claude-code.yaml", two_providers(up, "key-a-fixed-000000"));
    ASSERT_TRUE(s.wait_log_count(" applied config generation", applied + 2, 5s)) << s.process().stdout_text();
    const auto r = post_messages(s.port());
    EXPECT_TRUE(answered_by(r, "a")) << r.status << " " << r.body;
    const auto a = up.requests("a");
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[1].header("x-api-key"), "key-a-fixed-000000");
}

} // namespace
