// Fuzz target for the bytes a client sends before clipal knows where they go: the router's
// request-line and head scan, prefix matching, dot-segment check and target joining; the
// head and body as a worker's parser reads them (limits as in client_session.cpp);
// the framing and Host/Origin/token checks on its fields. Besides "no crash, no sanitizer
// report" it checks that the router and the worker see the same head and route it alike,
// that Beast delimits every body request_framing accepts as request_framing says, that the
// worker's parser (worker/http_types: Beast's basic_parser into a header_block) reads what
// Beast's own request_parser reads, and that a refusal never shows the access token.
#include "shared/http_limits.hpp"
#include "shared/request_framing.hpp"
#include "shared/request_guard.hpp"
#include "shared/request_line.hpp"
#include "shared/route.hpp"
#include "worker/http_types.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace http = boost::beast::http;

// A body limit for the fuzzer's sake; the worker's is max_request_body_bytes.
constexpr std::uint64_t body_limit = 1024 * 1024;
constexpr std::string_view access_token = "clipal-fuzz-token-0123456789";

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_request_head invariant broken: %s\n", what);
    std::abort();
}

bool has_key_param(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return false;
    std::string_view query = target.substr(q + 1);
    while (true) {
        const auto amp = query.find('&');
        const auto param = query.substr(0, amp);
        if (param.substr(0, param.find('=')) == "key") return true;
        if (amp == std::string_view::npos) return false;
        query.remove_prefix(amp + 1);
    }
}

// A "." or ".." segment between plain slashes: the least has_dot_segment must catch.
bool has_plain_dot_segment(std::string_view rest) {
    std::string_view path = rest.substr(0, rest.find('?'));
    while (true) {
        const auto slash = path.find('/');
        const auto segment = path.substr(0, slash);
        if (segment == "." || segment == "..") return true;
        if (slash == std::string_view::npos) return false;
        path.remove_prefix(slash + 1);
    }
}

// The route of a target, and the upstream targets it would be joined into.
std::optional<clipal::route_match> check_route(std::string_view target, std::string_view method) {
    auto route = clipal::match_route(target);
    if (!route) return route;
    check(route->rest.starts_with('/'), "a route's rest starts with '/'");
    check(route->rest.size() <= target.size(), "a route's rest is not longer than the target");
    if (has_plain_dot_segment(route->rest)) check(clipal::has_dot_segment(route->rest), "a dot-segment is found");
    for (std::string_view base : {"", "/", "/v1", "/api/", "/v1beta//"}) {
        const std::string joined = clipal::join_target(base, route->rest);
        std::string_view trimmed = base;
        while (trimmed.ends_with('/')) trimmed.remove_suffix(1);
        check(joined.starts_with(std::string(trimmed) + "/"), "a joined target starts with the base path and '/'");
        check(!has_key_param(joined), "a joined target carries no key parameter");
        const auto path = std::string_view(route->rest).substr(0, route->rest.find('?'));
        check(joined.substr(0, joined.find('?')) == std::string(trimmed) + "/" + std::string(path.substr(1)),
              "a joined target is the base path, one '/' and the client's path");
    }
    (void)clipal::is_count_tokens(method, route->rest);
    return route;
}

// What the supervisor's router sees: the first line, nothing more.
std::optional<clipal::route_match> router_view(std::string_view bytes) {
    const auto skip = clipal::leading_empty_lines(bytes);
    check(skip <= bytes.size(), "empty lines within the input");
    const auto line = clipal::first_line(bytes);
    if (!line) return std::nullopt;
    check(line->find("\r\n") == std::string_view::npos, "a first line holds no CRLF");
    check(line->data() == bytes.data() + skip, "the first line starts after the empty lines");
    const auto parsed = clipal::parse_request_line(*line);
    const auto target = clipal::request_target(*line);
    if (!parsed) {
        check(target.empty(), "a malformed line has no target");
        return std::nullopt;
    }
    check(parsed->method.find(' ') == std::string_view::npos, "a method holds no space");
    check(parsed->target.find(' ') == std::string_view::npos, "a target holds no space");
    check(parsed->method.size() + parsed->target.size() + parsed->version.size() + 2 == line->size(),
          "the parts cover the line");
    check(target == parsed->target, "request_target agrees with parse_request_line");
    return check_route(target, parsed->method);
}

bool iequals(std::string_view a, std::string_view b) { return boost::beast::iequals(a, b); }

// Beast must delimit the body as request_framing decides, or what it reads as body another
// parser reads as the next request (and the reverse).
void check_framing(const http::request_parser<http::string_body>& parser) {
    const auto& req = parser.get();
    std::vector<clipal::header_field> fields;
    for (const auto& f : req) fields.push_back({f.name_string(), f.value()});
    const auto framing = clipal::frame_request(req.version(), fields);
    if (framing.error != clipal::framing_error::none) {
        check(!clipal::describe(framing.error).empty(), "a framing error is described");
        const int status = clipal::status_of(framing.error);
        check(status == 400 || status == 501, "a framing error is answered 400 or 501");
        return;
    }
    using kind = clipal::request_framing::body_kind;
    if (framing.body == kind::length)
        check(parser.content_length() == framing.length && !parser.chunked(), "Beast reads the Content-Length body");
    if (framing.body == kind::chunked) check(parser.chunked(), "Beast reads the chunked body");
    if (framing.body == kind::none) check(!parser.content_length() && !parser.chunked(), "Beast reads no body");
}

// A Host value, or an allowed_hosts entry, as the guard reads it.
void check_host_value(std::string_view value) {
    const auto host = clipal::canonical_host(value);
    if (!host) return;
    check(value.find('\0') == std::string_view::npos, "a value holding NUL has no canonical host");
    check(clipal::canonical_host(*host) == host, "canonical_host is stable");
}

// The guard with a token, an allowed host and an allowed origin configured.
void check_guard(const http::request_parser<http::string_body>& parser, clipal::protocol proto) {
    const auto& req = parser.get();
    clipal::guard_input in;
    in.proto = proto;
    in.target = req.target();
    for (const auto& f : req) {
        const std::string_view name = f.name_string();
        if (iequals(name, "host")) in.host.push_back(f.value());
        if (iequals(name, "origin")) in.origin.push_back(f.value());
        if (iequals(name, "x-api-key")) in.x_api_key.push_back(f.value());
        if (iequals(name, "authorization")) in.authorization.push_back(f.value());
        if (iequals(name, "x-goog-api-key")) in.x_goog_api_key.push_back(f.value());
    }
    bool token_in_host_or_origin = false;
    for (const auto& values : {in.host, in.origin})
        for (const auto v : values) token_in_host_or_origin |= v.find(access_token) != std::string_view::npos;
    for (const auto h : in.host) check_host_value(h);
    for (const auto o : in.origin) {
        std::string origin(o);
        if (clipal::normalize_origin(origin).empty()) {
            std::string again = origin;
            check(clipal::normalize_origin(again).empty() && again == origin, "normalize_origin is stable");
        }
    }

    const std::vector<std::string> hosts{"clipal.lan"}, origins{"http://localhost:8080"};
    for (const std::string_view listen : {"127.0.0.1", "0.0.0.0"}) {
        const clipal::guard_settings settings{listen, hosts, origins, access_token};
        const auto refusal = clipal::check_request(in, settings);
        if (!refusal) continue;
        check(refusal->status == 401 || refusal->status == 403, "a refusal is 401 or 403");
        check(!refusal->message.empty() && !refusal->log.empty(), "a refusal says why");
        if (!token_in_host_or_origin)
            check(refusal->message.find(access_token) == std::string::npos &&
                      refusal->log.find(access_token) == std::string::npos,
                  "a refusal never shows the access token");
    }
}

// A parser set up as the session sets one up for a head, and a feed that puts `bytes` into
// it until done() or an error (what it did not take stays in `bytes`).
template <class Parser>
void prepare_for_head(Parser& parser) {
    parser.header_limit(static_cast<std::uint32_t>(clipal::http_limits::max_request_head));
    parser.body_limit(boost::none);
    parser.eager(false);
}

template <class Parser>
auto feeder(Parser& parser, std::string_view& bytes, boost::beast::error_code& ec) {
    return [&parser, &bytes, &ec](auto done) {
        while (!done() && !bytes.empty()) {
            const auto used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
            bytes.remove_prefix(used);
            if (ec || used == 0) return;
        }
    };
}

// The worker's own parser over the same bytes, fed the same way: it must stop where Beast's
// does, with the same error, and hold the same start line, fields (Beast groups repeats of
// a name, the header_block keeps them in place), framing and body.
void check_worker_parser(std::string_view bytes, const http::request_parser<http::string_body>& beast,
                         boost::beast::error_code beast_ec, std::size_t beast_left) {
    clipal::worker::client_request_parser parser;
    prepare_for_head(parser);
    boost::beast::error_code ec;
    const auto feed = feeder(parser, bytes, ec);
    feed([&] { return parser.is_header_done(); });
    if (parser.is_header_done() && !ec) {
        if (const auto length = parser.content_length(); !length || *length <= body_limit) {
            parser.body_limit(body_limit);
            parser.eager(true);
            feed([&] { return parser.is_done(); });
        }
    }
    check(ec == beast_ec, "the worker's parser fails where Beast's does");
    check(bytes.size() == beast_left, "the worker's parser takes the bytes Beast's takes");
    check(parser.is_header_done() == beast.is_header_done() && parser.is_done() == beast.is_done(),
          "the worker's parser ends where Beast's does");
    if (!parser.is_header_done()) return;
    const auto& ours = parser.get();
    const auto& theirs = beast.get();
    check(ours.method_string() == std::string_view(theirs.method_string()) && ours.method() == theirs.method() &&
              ours.target() == std::string_view(theirs.target()) && ours.version() == theirs.version(),
          "the worker's parser reads the start line as Beast does");
    std::vector<std::pair<std::string_view, std::string_view>> a, b;
    for (const auto& f : ours) a.emplace_back(f.name_string(), f.value());
    for (const auto& f : theirs) b.emplace_back(f.name_string(), f.value());
    check(a.size() == b.size(), "the worker's parser keeps every field");
    std::vector<bool> used(b.size());
    for (const auto& [name, value] : a) {
        // The first unmatched field of that name in Beast's order: repeats keep their order.
        std::size_t i = 0;
        while (i < b.size() && (used[i] || !iequals(b[i].first, name))) ++i;
        check(i < b.size() && b[i].first == name && b[i].second == value, "the worker's parser reads each field");
        used[i] = true;
    }
    // Framing as Beast's parser judged it from every field (Beast's message looks at the
    // first Connection or Transfer-Encoding field only).
    check(ours.keep_alive() == beast.keep_alive() && ours.chunked() == beast.chunked() &&
              ours.has_content_length() == beast.content_length().has_value(),
          "the worker's parser reads the framing as Beast's does");
    if (parser.is_done()) check(ours.body() == theirs.body(), "the worker's parser reads the body as Beast's does");
}

// What a worker's session sees: the parser over the bytes after the empty lines; Beast's
// request_parser is the reference the checks read.
void worker_view(std::string_view bytes, const std::optional<clipal::route_match>& router_route) {
    const auto head_length = clipal::head_length(bytes);
    bytes.remove_prefix(clipal::leading_empty_lines(bytes));
    const std::string_view all = bytes;
    http::request_parser<http::string_body> parser;
    prepare_for_head(parser);
    boost::beast::error_code ec;
    const auto feed = feeder(parser, bytes, ec);
    const std::size_t before_head = bytes.size();
    feed([&] { return parser.is_header_done(); });
    if (ec || !parser.is_header_done()) {
        check_worker_parser(all, parser, ec, bytes.size());
        return;
    }

    check(head_length == before_head - bytes.size(), "head_length agrees with Beast");
    const auto& req = parser.get();
    const std::string_view target = req.target();
    const auto route = check_route(target, req.method_string());
    check(route.has_value() == router_route.has_value() && (!route || route->id == router_route->id),
          "the router and the worker route a head the same way");
    check_framing(parser);
    check_guard(parser, route ? clipal::info(route->id).proto : clipal::protocol::anthropic);

    // As the session does: a Content-Length over the limit is answered 413 before the body
    // is read (the string body would reserve that much).
    if (const auto length = parser.content_length(); !length || *length <= body_limit) {
        parser.body_limit(body_limit);
        parser.eager(true);
        feed([&] { return parser.is_done(); });
        if (!ec && parser.is_done()) (void)req.keep_alive();
    }
    check_worker_parser(all, parser, ec, bytes.size());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    // The target alone, so the fuzzer reaches prefix and query handling without a valid line.
    (void)check_route(bytes, "POST");
    check_host_value(bytes);
    worker_view(bytes, router_view(bytes));
    return 0;
}
