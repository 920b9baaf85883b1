// Interim (1xx) upstream responses through the real worker: skipped, never relayed as the
// answer, never left unread on a pooled connection where they would hand one request's
// answer to the next — another client's. A 101 nobody asked for fails the attempt.
#include "integration/worker_fixture.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace clipal::test;

// A request whose echo names it: `n` goes into the target the provider records.
http_response echo_request(http_probe& c, int n, bool close = false) {
    header_list h{{"Content-Type", "application/json"}, {"x-api-key", "client-key"}};
    if (close) h.emplace_back("Connection", "close");
    return c.request("POST", "/claudecode/v1/messages?n=" + std::to_string(n), h,
                     R"({"model":"claude-x","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})", 5s);
}

// The provider and upstream target of an `echo` answer, as "b /v1/messages?n=1".
std::string echoed(const http_response& r) {
    if (r.status != 200) return std::to_string(r.status) + " " + r.body;
    const auto v = parse_json(r.body);
    if (!v.is_object()) return r.body;
    return std::string(v.at("provider").as_string()) + " " + std::string(v.at("target").as_string());
}

std::string upstream_target_of(int n) { return "/v1/messages?n=" + std::to_string(n); }

struct interim_row {
    const char* label;
    std::string script;
};

void PrintTo(const interim_row& r, std::ostream* os) { *os << r.label; }

class WorkerInterim : public ::testing::TestWithParam<interim_row> {};

// Three requests on one pooled upstream connection: one from a client that closes, then
// two from another client on its kept-alive connection. Each gets its own answer, none
// hangs. (Relaying the 1xx as the answer left the first answer on the pooled connection,
// where the second client received it.)
TEST_P(WorkerInterim, EachClientGetsItsOwnAnswerOnAPooledConnection) {
    fake_upstream_process fu(fakes({{"a", GetParam().script}}));
    worker_process w({.providers = providers_of(fu, {"a"})});

    auto first_client = w.connect();
    const auto r1 = echo_request(first_client, 1, true);
    EXPECT_TRUE(r1.complete()) << to_string(r1.end) << " " << r1.error;
    EXPECT_EQ(echoed(r1), "a " + upstream_target_of(1));

    auto second_client = w.connect();
    const auto r2 = echo_request(second_client, 2);
    EXPECT_TRUE(r2.complete()) << to_string(r2.end) << " " << r2.error;
    EXPECT_EQ(echoed(r2), "a " + upstream_target_of(2));
    const auto r3 = echo_request(second_client, 3); // the same client connection, kept alive
    ASSERT_TRUE(r3.complete()) << to_string(r3.end) << " " << r3.error;
    EXPECT_EQ(echoed(r3), "a " + upstream_target_of(3));

    const auto seen = fu.requests("a");
    ASSERT_EQ(seen.size(), 3u);
    for (const auto& req : seen) EXPECT_EQ(req.conn, 0u) << "the upstream connection was not reused";
}

INSTANTIATE_TEST_SUITE_P(Scripts, WorkerInterim,
                         ::testing::Values(
                             // With a delay the answer comes in a later segment than the interim heads: the
                             // attempt must wait for it rather than take the 1xx for the answer.
                             interim_row{"EarlyHintsThenAnswer", "echo;interim=103;delay=50"},
                             interim_row{"UnsolicitedContinueThenAnswer", "echo;interim=100;delay=50"},
                             interim_row{"SeveralInterimHeads", "echo;interim=100+103+102+103;delay=50"},
                             // Without one, the answer usually sits in the same read as the interim heads.
                             interim_row{"EarlyHintsAndAnswerTogether", "echo;interim=103+100"},
                             interim_row{"EightInterimHeadsAreStillAccepted",
                                         "echo;interim=103+103+103+103+103+103+103+100;delay=20"}),
                         [](const ::testing::TestParamInfo<interim_row>& p) { return std::string(p.param.label); });

TEST(WorkerInterimBad, UnexpectedSwitchingProtocolsFailsOver) {
    fake_upstream_process fu(fakes({{"a", "echo;interim=101;delay=50"}, {"b", "echo"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    auto c = w.connect();
    const auto r = echo_request(c, 1);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(echoed(r), "b " + upstream_target_of(1));
    EXPECT_TRUE(w.wait_for_log("a failed: unexpected 101 Switching Protocols (bad response)")) << w.log_text();
}

// The connection that carried a 101 is closed, not pooled with the answer behind it unread.
TEST(WorkerInterimBad, SwitchingProtocolsConnectionIsNotReused) {
    fake_upstream_process fu(fakes({{"a", "ok;interim=101;delay=50,echo"}}));
    worker_process w({.providers = providers_of(fu, {"a"})});
    auto c = w.connect();
    const auto r1 = echo_request(c, 1);
    ASSERT_TRUE(r1.complete()) << to_string(r1.end) << " " << r1.error;
    EXPECT_GE(r1.status, 500) << r1.body;
    auto other = w.connect();
    const auto r2 = echo_request(other, 2);
    ASSERT_TRUE(r2.complete()) << to_string(r2.end) << " " << r2.error;
    EXPECT_EQ(echoed(r2), "a " + upstream_target_of(2));
    const auto seen = fu.requests("a");
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_NE(seen[0].conn, seen[1].conn);
}

TEST(WorkerInterimBad, MoreThanEightInterimHeadsFailOver) {
    fake_upstream_process fu(fakes({{"a", "echo;interim=100+100+100+100+100+100+100+100+100"}, {"b", "echo"}}));
    worker_process w({.providers = providers_of(fu, {"a", "b"})});
    auto c = w.connect();
    const auto r = echo_request(c, 1);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(echoed(r), "b " + upstream_target_of(1));
    EXPECT_TRUE(w.wait_for_log("a failed: more than 8 interim (1xx) responses (bad response)")) << w.log_text();
}

// A provider that sent an interim head has the request: when it then drops the (reused)
// connection, that is a failure to fail over from, not a stale pooled connection to
// silently send the request again on.
TEST(WorkerInterimBad, ResetAfterAnInterimHeadIsNoStaleConnection) {
    fake_upstream_process fu(fakes({{"a", "echo,reset;interim=103,echo"}, {"b", "echo"}}));
    // No same-provider retry: a second request to a here could only be a silent resend.
    worker_process w({.providers = providers_of(fu, {"a", "b"}), .global = seed_failover()});
    auto c = w.connect();
    const auto r1 = echo_request(c, 1);
    ASSERT_TRUE(r1.complete()) << to_string(r1.end) << " " << r1.error;
    EXPECT_EQ(echoed(r1), "a " + upstream_target_of(1));
    const auto r2 = echo_request(c, 2); // on the pooled connection: 103, then a reset
    ASSERT_TRUE(r2.complete()) << to_string(r2.end) << " " << r2.error;
    EXPECT_EQ(echoed(r2), "b " + upstream_target_of(2));
    EXPECT_EQ(fu.requests("a").size(), 2u) << "the request was sent to a again";
}

} // namespace
