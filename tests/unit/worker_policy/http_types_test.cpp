// The data path's header block and parsers, checked against Beast's own message and parsers
// (the reference they replace): same fields in the same order, same start line, framing and
// errors, for ordinary, split and hostile input.
#include "worker/http_types.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace http = boost::beast::http;
using clipal::worker::block_pool;
using clipal::worker::client_request_parser;
using clipal::worker::header_block;
using clipal::worker::upstream_response_parser;

namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

template <class Fields>
field_list fields_of(const Fields& f) {
    field_list out;
    for (const auto& field : f) out.emplace_back(field.name_string(), field.value());
    return out;
}

// Feeds `wire` to a parser in pieces of `step` bytes (the whole of what is unparsed so far
// each time, as the session does with its buffer); the error that stopped it, or none.
template <class Parser>
boost::system::error_code feed(Parser& p, std::string_view wire, std::size_t step) {
    std::size_t have = 0; // bytes made available so far
    std::size_t used = 0; // bytes the parser took
    boost::system::error_code ec;
    while (!p.is_done()) {
        have = std::min(wire.size(), have + step);
        while (!p.is_done() && used < have) {
            ec = {};
            const auto n = p.put(boost::asio::buffer(wire.data() + used, have - used), ec);
            used += n;
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return ec;
            if (n == 0) break;
        }
        if (have == wire.size() && !p.is_done()) {
            if (used < have) return http::error::need_more;
            p.put_eof(ec);
            return ec;
        }
    }
    return ec;
}

struct request_result {
    boost::system::error_code ec;
    std::string method, target;
    unsigned version = 0;
    bool keep_alive = false, has_length = false, chunked = false;
    field_list fields;
    std::string body;
    bool operator==(const request_result&) const = default;
};

request_result parse_with_beast(std::string_view wire, std::size_t step) {
    http::request_parser<http::string_body> p;
    p.body_limit(4096);
    request_result r;
    r.ec = feed(p, wire, step);
    if (r.ec) return r;
    const auto& m = p.get();
    r.method = std::string(m.method_string());
    r.target = std::string(m.target());
    r.version = m.version();
    // Framing as the parser judged it from every field (Beast's message reads only the first
    // Connection or Transfer-Encoding field; see ConnectionCloseInAnyFieldCloses).
    r.keep_alive = p.keep_alive();
    r.has_length = p.content_length().has_value();
    r.chunked = p.chunked();
    r.fields = fields_of(m);
    r.body = m.body();
    return r;
}

request_result parse_with_ours(std::string_view wire, std::size_t step, block_pool* pool = nullptr) {
    client_request_parser p(pool);
    p.body_limit(4096);
    request_result r;
    r.ec = feed(p, wire, step);
    if (r.ec) return r;
    const auto m = p.release();
    r.method = std::string(m.method_string());
    r.target = std::string(m.target());
    r.version = m.version();
    r.keep_alive = m.keep_alive();
    r.has_length = m.has_content_length();
    r.chunked = m.chunked();
    r.fields = fields_of(m);
    r.body = m.body();
    return r;
}

// Beast keeps repeated names together; ours keeps the wire's order. Both keep the order
// among one name's repeats, which is all HTTP asks (RFC 9110 §5.3): compare that way.
field_list grouped(field_list f) {
    field_list out;
    std::vector<bool> taken(f.size());
    for (std::size_t i = 0; i < f.size(); ++i) {
        if (taken[i]) continue;
        for (std::size_t j = i; j < f.size(); ++j)
            if (!taken[j] && boost::beast::iequals(f[j].first, f[i].first)) {
                out.push_back(f[j]);
                taken[j] = true;
            }
    }
    return out;
}

const std::vector<std::string> requests = {
    "POST /claudecode/v1/messages?beta=true HTTP/1.1\r\nHost: 127.0.0.1:3333\r\nContent-Type: application/json\r\n"
    "x-api-key: sk-client\r\nanthropic-version: 2023-06-01\r\nContent-Length: 11\r\n\r\n{\"model\":1}",
    "GET /health HTTP/1.0\r\nHost: a\r\n\r\n",
    "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n",
    "PURGE /odd-method HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: "
    "1\r\n\r\n",
    "POST /r HTTP/1.1\r\nX-Rep: 1\r\nAccept: */*\r\nx-rep: 2\r\nX-REP: 3\r\nContent-Length: 0\r\n\r\n",
    "GET /e HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   padded value   \r\nHost: a\r\n\r\n",
    // Refused the same way by both: framing conflicts, bad syntax, over the body limit.
    "POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "GET /x HTTP/1.1\r\nBad Name: 1\r\n\r\n",
    "GET /x HTTP/1.1\r\nX: a\0b\r\n\r\n",
    "GET /x HTTP/1.1\r\n Folded: 1\r\n\r\n",
    "GET /x HTTP/9.9\r\n\r\n",
    "POST /x HTTP/1.1\r\nContent-Length: 5000\r\n\r\n",
    "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
};

} // namespace

TEST(HeaderBlock, KeepsOrderRepeatsAndFindsByCodeAndName) {
    header_block b;
    b.insert("Content-Type", "application/json");
    b.insert("x-custom", "1");
    b.insert(http::field::host, "a.test");
    b.insert("X-CUSTOM", "2");
    EXPECT_EQ(
        fields_of(b),
        (field_list{{"Content-Type", "application/json"}, {"x-custom", "1"}, {"Host", "a.test"}, {"X-CUSTOM", "2"}}));
    EXPECT_EQ(b[http::field::content_type], "application/json");
    EXPECT_EQ(b["content-type"], "application/json");
    EXPECT_EQ(b["X-Custom"], "1");
    EXPECT_EQ(b.count("x-custom"), 2u);
    EXPECT_EQ(b.count(http::field::host), 1u);
    EXPECT_EQ(b[http::field::authorization], "");
    EXPECT_EQ(b["x-missing"], "");
    EXPECT_EQ((*b.begin()).name(), http::field::content_type);
    b.set("x-custom", "3");
    EXPECT_EQ(b.count("x-custom"), 1u);
    EXPECT_EQ(b["x-custom"], "3");
    b.erase("HOST");
    EXPECT_EQ(b.count(http::field::host), 0u);
}

TEST(HeaderBlock, ViewsStayRightAfterTheBufferGrows) {
    boost::asio::io_context ioc;
    for (block_pool* pool : {static_cast<block_pool*>(nullptr), &boost::asio::use_service<block_pool>(ioc)}) {
        header_block b(pool);
        field_list want;
        for (int i = 0; i < 300; ++i) {
            want.emplace_back("x-h" + std::to_string(i), std::string(static_cast<std::size_t>(i % 97), 'a' + i % 26));
            b.insert(want.back().first, want.back().second);
        }
        EXPECT_EQ(fields_of(b), want);
        EXPECT_EQ(b["x-h299"], want.back().second);
    }
}

TEST(ClientRequestParser, ReadsWhatBeastReadsWholeAndInPieces) {
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    for (const auto& wire : requests) {
        for (std::size_t step : {wire.size(), std::size_t{1}, std::size_t{7}}) {
            auto beast = parse_with_beast(wire, step);
            auto ours = parse_with_ours(wire, step, &pool);
            beast.fields = grouped(beast.fields);
            ours.fields = grouped(ours.fields);
            EXPECT_EQ(ours, beast) << "step " << step << ": " << wire << "\n(" << ours.ec.message() << " / "
                                   << beast.ec.message() << ")";
        }
    }
}

TEST(ClientRequestParser, ConnectionCloseInAnyFieldCloses) {
    // Two Connection fields: Beast's message reads the first (keep-alive); the parser, and so
    // the worker, reads both, and a close anywhere closes.
    const std::string_view wire = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n";
    client_request_parser p;
    boost::system::error_code ec;
    p.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(p.is_done());
    EXPECT_FALSE(p.get().keep_alive());
    http::request_parser<http::empty_body> beast;
    beast.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    EXPECT_TRUE(beast.get().keep_alive()) << "what the worker read before";
}

TEST(ClientRequestParser, MutatedRequestsGiveWhatBeastGives) {
    // An attacker's bytes: every outcome (fields, framing, error) must match the reference.
    std::mt19937 rng(17);
    const std::string alphabet = "\r\n :;,\t\0\x7f\xff"
                                 "0123456789abcdefABCDEF-/?=chunkedContent-LengthTransfer-Encoding";
    int compared = 0;
    for (const auto& base : requests) {
        for (int round = 0; round < 300; ++round) {
            std::string wire = base;
            const int edits = 1 + static_cast<int>(rng() % 4);
            for (int e = 0; e < edits && !wire.empty(); ++e) {
                const auto at = rng() % wire.size();
                const char c = alphabet[rng() % alphabet.size()];
                switch (rng() % 3) {
                case 0: wire[at] = c; break;
                case 1: wire.insert(wire.begin() + static_cast<std::ptrdiff_t>(at), c); break;
                default: wire.erase(at, 1); break;
                }
            }
            auto beast = parse_with_beast(wire, wire.size());
            auto ours = parse_with_ours(wire, wire.size());
            beast.fields = grouped(beast.fields);
            ours.fields = grouped(ours.fields);
            ASSERT_EQ(ours, beast) << wire;
            ++compared;
        }
    }
    EXPECT_EQ(compared, 300 * static_cast<int>(requests.size()));
}

namespace {

struct response_result {
    boost::system::error_code ec;
    bool header_done = false;
    int status = 0;
    std::string reason;
    unsigned version = 0;
    field_list fields;
    bool keep_alive = false;
    std::string body;
    // Each put: bytes taken, body bytes given, and its error (need_buffer tells the attempt
    // its piece is full).
    std::vector<std::tuple<std::size_t, std::size_t, boost::system::error_code>> steps;
    bool operator==(const response_result&) const = default;
};

// Reads `wire` with windows of `window` bytes, as upstream_attempt does, until the parser is
// done, fails, or the bytes end (then the upstream's close).
template <class Parser>
response_result read_response(Parser& p, std::string_view wire, std::size_t window) {
    response_result r;
    auto& body = p.get().body();
    std::vector<char> buf(window);
    while (!p.is_done()) {
        body.data = buf.data();
        body.size = buf.size();
        r.ec = {};
        const auto n = p.put(boost::asio::buffer(wire.data(), wire.size()), r.ec);
        wire.remove_prefix(n);
        r.body.append(buf.data(), buf.size() - body.size);
        r.steps.emplace_back(n, buf.size() - body.size, r.ec);
        if (r.ec == http::error::need_buffer) continue;
        if (r.ec == http::error::need_more || (!r.ec && n == 0)) {
            if (n > 0) continue;
            // All the rest was offered and none taken: it is all there will be (the close).
            r.ec = {};
            p.put_eof(r.ec);
            break;
        }
        if (r.ec) break;
    }
    r.header_done = p.is_header_done();
    if (!r.header_done) return r;
    r.status = p.get().result_int();
    r.version = p.get().version();
    r.fields = grouped(fields_of(p.get()));
    r.keep_alive = p.keep_alive();
    return r;
}

response_result with_beast(std::string_view wire, std::size_t window) {
    http::response_parser<http::buffer_body> p;
    auto r = read_response(p, wire, window);
    if (r.header_done) r.reason = std::string(p.get().reason());
    return r;
}

response_result with_ours(std::string_view wire, std::size_t window) {
    upstream_response_parser p;
    auto r = read_response(p, wire, window);
    // An empty reason stays empty (Beast's message substitutes the standard phrase;
    // client_response_head does that when it writes the head).
    if (r.header_done)
        r.reason = p.get().reason().empty() ? std::string(http::obsolete_reason(p.get().result()))
                                            : std::string(p.get().reason());
    return r;
}

const std::vector<std::string> responses = {
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nrequest-id: r1\r\nContent-Length: 10\r\n\r\n0123456789",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n",
    "HTTP/1.0 503 \r\nRetry-After: 3\r\n\r\nuntil the close",
    "HTTP/1.1 429 Too Many Requests\r\nX-RateLimit-Reset-Tokens: 1s\r\nX-RATELIMIT-RESET-TOKENS: 2s\r\n"
    "Content-Length: 2\r\n\r\n{}",
    // A hostile or broken upstream: the same refusals from both.
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
    "HTTP/1.1 99 Low\r\n\r\n",
    "HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n",
    "HTTP/2 200\r\n\r\n",
};

} // namespace

TEST(UpstreamResponseParser, FillsTheBodyWindowAsBeastsBufferBodyDoes) {
    for (const auto& wire : responses)
        for (std::size_t window : {std::size_t{1}, std::size_t{3}, std::size_t{4096}})
            EXPECT_EQ(with_ours(wire, window), with_beast(wire, window))
                << wire << " window " << window << " (" << with_ours(wire, window).ec.message() << ")";
}

TEST(UpstreamResponseParser, MutatedResponsesGiveWhatBeastGives) {
    std::mt19937 rng(29);
    const std::string alphabet = "\r\n :;\t\0\x7f\xff"
                                 "0123456789abcdefHTP/.-chunkedContent-LengthTransfer-Encoding";
    for (const auto& base : responses) {
        for (int round = 0; round < 300; ++round) {
            std::string wire = base;
            for (int e = 0, edits = 1 + static_cast<int>(rng() % 4); e < edits && !wire.empty(); ++e) {
                const auto at = rng() % wire.size();
                const char c = alphabet[rng() % alphabet.size()];
                switch (rng() % 3) {
                case 0: wire[at] = c; break;
                case 1: wire.insert(wire.begin() + static_cast<std::ptrdiff_t>(at), c); break;
                default: wire.erase(at, 1); break;
                }
            }
            const std::size_t window = 1 + rng() % 8;
            ASSERT_EQ(with_ours(wire, window), with_beast(wire, window)) << wire << " window " << window;
        }
    }
}

TEST(UpstreamResponseParser, WithoutAWindowTheBodyWaits) {
    upstream_response_parser p;
    const std::string_view wire = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    boost::system::error_code ec;
    p.eager(true);
    const auto n = p.put(boost::asio::buffer(wire.data(), wire.size()), ec);
    EXPECT_TRUE(p.is_header_done());
    EXPECT_EQ(ec, http::error::need_buffer);
    EXPECT_EQ(n, wire.size() - 3) << "the head is taken, the body left for a window";
}
