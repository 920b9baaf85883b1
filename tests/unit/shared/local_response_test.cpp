#include "shared/local_response.hpp"

#include <gtest/gtest.h>

#include <string>

namespace clipal {
namespace {

TEST(LocalResponse, HealthIsA200WithItsJsonBody) {
    const auto wire = to_wire(health_response(), false);
    EXPECT_EQ(wire, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 20\r\n"
                    "Connection: close\r\n\r\n{\"status\":\"healthy\"}");
}

TEST(LocalResponse, ErrorsCarryTheProtocolsShapeAndRetryAfter) {
    const auto r = error_response(protocol::anthropic, 503, "all providers failed", std::chrono::seconds(7));
    EXPECT_EQ(r.status, 503);
    EXPECT_NE(r.body.find(R"("type":"error")"), std::string::npos);
    const auto wire = to_wire(r, true);
    EXPECT_EQ(wire.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u);
    EXPECT_NE(wire.find("\r\nRetry-After: 7\r\n"), std::string::npos);
    EXPECT_EQ(wire.find("Connection:"), std::string::npos); // HTTP/1.1 keeps the connection by default
    EXPECT_NE(wire.find("Content-Length: " + std::to_string(r.body.size()) + "\r\n"), std::string::npos);
    EXPECT_EQ(wire.substr(wire.size() - r.body.size()), r.body);
}

TEST(LocalResponse, Http10KeepAliveIsSaidExplicitly) {
    const auto r = error_response(protocol::gemini, 404, "unknown path");
    const auto kept = to_wire(r, true, 0);
    EXPECT_EQ(kept.rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u);
    EXPECT_NE(kept.find("\r\nConnection: keep-alive\r\n"), std::string::npos);
    EXPECT_NE(to_wire(r, false, 0).find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(LocalResponse, TheAnswerToAHeadHasTheHeadersOfAGetAndNoBody) {
    const auto get = to_wire(health_response(), true);
    const auto head = to_wire(health_response(), true, 1, true);
    EXPECT_EQ(head, get.substr(0, get.size() - health_response().body.size()));
    EXPECT_NE(head.find("\r\nContent-Length: 20\r\n"), std::string::npos);
    EXPECT_TRUE(head.ends_with("\r\n\r\n"));
}

TEST(LocalResponse, NotImplementedHasItsReasonPhrase) {
    EXPECT_EQ(to_wire(error_response(protocol::openai, 501, "x"), false).rfind("HTTP/1.1 501 Not Implemented\r\n", 0),
              0u);
}

TEST(LocalResponse, AMessageCannotBreakOutOfTheJsonOrTheHead) {
    const auto r = error_response(protocol::openai, 400, "bad \"input\"\r\nX-Injected: 1");
    const auto wire = to_wire(r, false);
    const auto head_end = wire.find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos);
    EXPECT_EQ(wire.substr(0, head_end).find("X-Injected"), std::string::npos);
    EXPECT_NE(r.body.find(R"(bad \"input\"\r\nX-Injected: 1)"), std::string::npos);
}

} // namespace
} // namespace clipal

TEST(LocalResponse, AReplayedAnswersTypeAndEncodingCannotInjectHeaders) {
    clipal::local_response r{400, "{}", std::nullopt, "application/json\r\nSet-Cookie: x=1", "gzip\r\nX-Evil: 1"};
    const auto wire = clipal::to_wire(r, true);
    EXPECT_EQ(wire.find("Set-Cookie"), std::string::npos) << wire;
    EXPECT_EQ(wire.find("X-Evil"), std::string::npos) << wire;
    EXPECT_NE(wire.find("Content-Type: application/json\r\n"), std::string::npos) << wire;
    EXPECT_EQ(wire.find("Content-Encoding"), std::string::npos) << wire;
    r.content_type = "text/plain; charset=utf-8";
    r.content_encoding = "gzip";
    const auto kept = clipal::to_wire(r, true);
    EXPECT_NE(kept.find("Content-Type: text/plain; charset=utf-8\r\n"), std::string::npos) << kept;
    EXPECT_NE(kept.find("Content-Encoding: gzip\r\n"), std::string::npos) << kept;
}
