// Strict framing and bounded heads as a client meets them through the supervisor's router
// (issue 13): a smuggled request never reaches another profile's worker and key, a head
// trickled in is cut 10 s after its first byte, a connection that sends nothing is closed,
// and the router's own answers to HEAD carry no body.
#include "integration/slow_client.hpp"
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

const std::string host = "Host: 127.0.0.1\r\n";

} // namespace

TEST(SupervisorFraming, ASmuggledRequestNeverReachesAnotherProfile) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}, {"cx"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.write("codex.yaml", provider_yaml({{"cx", up.base_url("cx") + "/v1"}}));
    s.start(2);

    // TE.0: a claude-code request whose Transfer-Encoding does not end in chunked, carrying
    // a codex request as its body. Read as "no body", the body went to the codex worker and
    // was sent upstream with codex's key.
    const std::string body = R"({"model":"m","input":"smuggled"})";
    const std::string smuggled = "POST /codex/responses HTTP/1.1\r\n" + host +
                                 "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                                 "\r\n\r\n" + body;
    http_probe c("127.0.0.1", s.port());
    ASSERT_TRUE(c.send("POST /claudecode/v1/messages HTTP/1.1\r\n" + host +
                       "x-api-key: k\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled));
    const auto r = c.read_response(5s);
    ASSERT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_TRUE(c.wait_peer_closed(5s));

    // A fence: once codex's provider has this request, a smuggled one would have come first.
    http_probe fence("127.0.0.1", s.port());
    const auto f = fence.request("POST", "/codex/responses", {{"content-type", "application/json"}},
                                 R"({"model":"m","input":"fence"})");
    EXPECT_EQ(f.status, 200) << f.body;
    ASSERT_TRUE(up.wait_for_requests(1, 5s, "cx"));
    const auto got = up.requests();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_NE(got[0].body.find("fence"), std::string::npos) << got[0].body;
}

TEST(SupervisorFraming, AFirstHeadTrickledInIsCutTenSecondsAfterItsFirstByte) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);

    // Empty lines for 8 s, the request line, then the rest of the head one byte a second.
    // The router used to hand the connection over at the request line, and the worker
    // gave the rest of the head 10 s of its own.
    std::vector<std::string> pieces(9, "\r\n");
    pieces.push_back("POST /claudecode/v1/messages HTTP/1.1\r\n" + host);
    for (const char ch : std::string_view("X-Slow: aaaaaaaaaa")) pieces.emplace_back(1, ch);
    http_probe c("127.0.0.1", s.port());
    EXPECT_TRUE(closed_while_trickling(c, pieces, 13s));
    EXPECT_TRUE(up.requests().empty());
}

TEST(SupervisorFraming, ASilentConnectionIsClosedAfterTenSeconds) {
    supervisor_fixture s;
    s.start(0);
    http_probe c("127.0.0.1", s.port());
    ASSERT_TRUE(c.connected()) << c.last_error();
    EXPECT_TRUE(c.wait_peer_closed(13s));
}

TEST(SupervisorFraming, TheRoutersAnswersToHeadHaveNoBody) {
    supervisor_fixture s;
    s.start(0);
    for (const char* target : {"/health", "/nowhere"}) {
        http_probe c("127.0.0.1", s.port());
        ASSERT_TRUE(c.send("HEAD " + std::string(target) + " HTTP/1.1\r\n" + host + "\r\n"));
        const auto r = c.read_response(5s, /*bodyless=*/true);
        ASSERT_TRUE(r.complete()) << target << ": " << to_string(r.end) << " " << r.error;
        EXPECT_EQ(r.status, std::string_view(target) == "/health" ? 200 : 404) << target;
        EXPECT_NE(r.header("Content-Length").value_or("0"), "0") << target; // as for GET
        // Nothing follows the head: the next bytes are the end of the connection.
        EXPECT_EQ(c.read_some(5s), "") << target;
        EXPECT_TRUE(c.peer_closed()) << target;
    }
}
