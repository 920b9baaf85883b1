// Fuzz target for worker/request_body (streaming detection, model override): whatever body,
// path and configured model name. The input is: one byte of flags (protocol, method), the
// rest of the request target up to a newline, the model name up to a newline, then the
// body's raw bytes.
//
// body_with_model is checked against an oracle built on Boost.JSON alone: the body is fed
// to basic_parser one byte at a time, so each event's byte offset is known, which gives the
// exact ranges the function must replace; its output must be those splices, byte for byte,
// and parse with the new model as the top-level "model".
#include "shared/text.hpp"
#include "worker/request_body.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace json = boost::json;
using boost::system::error_code;

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_request_body invariant broken: %s\n", what);
    std::abort();
}

std::string_view next_line(std::string_view& in) {
    const auto eol = in.find('\n');
    const auto line = in.substr(0, eol);
    in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
    return line;
}

json::parse_options options() {
    json::parse_options o;
    o.max_depth = clipal::worker::max_json_depth;
    return o;
}

// Root members named "model": where their keys end, where their string values end, and
// whether any value is not a string. `at` is the offset of the byte being fed.
struct oracle_handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    std::size_t at = 0;
    std::size_t depth = 0;
    bool root_object = false;
    std::string key;
    bool pending = false; // the next root value belongs to "model"
    std::vector<std::size_t> key_ends, value_ends;
    bool non_string = false;

    void value(bool is_string) {
        if (depth != 1 || !pending) return;
        pending = false;
        if (is_string)
            value_ends.push_back(at + 1);
        else
            non_string = true;
    }
    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        if (depth == 0)
            root_object = true;
        else
            value(false);
        ++depth;
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        --depth;
        return true;
    }
    bool on_array_begin(error_code&) {
        value(false);
        ++depth;
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        --depth;
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t, error_code&) {
        if (depth == 1) key.append(s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t, error_code&) {
        if (depth != 1) return true;
        key.append(s.data(), s.size());
        if (key == "model") {
            pending = true;
            key_ends.push_back(at + 1);
        }
        key.clear();
        return true;
    }
    bool on_string_part(json::string_view, std::size_t, error_code&) { return true; }
    bool on_string(json::string_view, std::size_t, error_code&) {
        value(true);
        return true;
    }
    bool on_number_part(json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, error_code&) {
        value(false);
        return true;
    }
    bool on_uint64(std::uint64_t, json::string_view, error_code&) {
        value(false);
        return true;
    }
    bool on_double(double, json::string_view, error_code&) {
        value(false);
        return true;
    }
    bool on_bool(bool, error_code&) {
        value(false);
        return true;
    }
    bool on_null(error_code&) {
        value(false);
        return true;
    }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }
};

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// What body_with_model must return, from Boost.JSON's events alone.
std::optional<std::string> expected_body(std::string_view body, std::string_view model) {
    if (!clipal::is_utf8(model)) return std::nullopt;
    json::basic_parser<oracle_handler> p(options());
    error_code ec;
    for (std::size_t i = 0; i < body.size() && !ec; ++i) {
        p.handler().at = i;
        if (p.write_some(true, body.data() + i, 1, ec) != 1 && !ec) return std::nullopt; // bytes after the end
    }
    if (ec) return std::nullopt;
    p.handler().at = body.size();
    p.write_some(false, nullptr, 0, ec);
    if (ec || !p.done()) return std::nullopt;
    const auto& h = p.handler();
    if (!h.root_object || h.non_string || h.value_ends.empty()) return std::nullopt;
    check(h.key_ends.size() == h.value_ends.size(), "oracle: a value for every model key");

    std::string encoded;
    {
        const json::value v = json::string(model);
        encoded = json::serialize(v);
    }
    std::string out;
    std::size_t from = 0;
    for (std::size_t k = 0; k < h.key_ends.size(); ++k) {
        std::size_t begin = h.key_ends[k];
        check(body[begin - 1] == '"', "oracle: a key ends at its quote");
        while (is_ws(body[begin]) || body[begin] == ':') ++begin;
        check(body[begin] == '"' && body[h.value_ends[k] - 1] == '"', "oracle: the value is a string token");
        out.append(body.substr(from, begin - from));
        out += encoded;
        from = h.value_ends[k];
    }
    out.append(body.substr(from));
    return out;
}

// The body's top-level "stream" per Boost.JSON's DOM (which keeps a duplicate's last value).
bool dom_streams(std::string_view body) {
    error_code ec;
    const json::value v = json::parse(body, ec, {}, options());
    if (ec || !v.is_object()) return false;
    const auto* s = v.get_object().if_contains("stream");
    return s != nullptr && s->is_bool() && s->get_bool();
}

bool unreserved_only(std::string_view s) {
    for (const char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == '~'))
            return false;
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clipal;
    using namespace clipal::worker;
    if (size == 0) return 0;
    const auto flags = data[0];
    std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    const auto proto = static_cast<protocol>(flags % 3);
    const std::string_view method = (flags & 4) != 0 ? "GET" : "POST";
    const auto rest = next_line(in);
    const auto model = next_line(in);
    const auto body = in;

    // Streaming: never crashes; for a body, exactly what the DOM says.
    const bool streaming = is_streaming_request(proto, method, rest, body);
    if (method != "POST") check(!streaming, "only a POST streams");
    const bool path_streams = is_streaming_request(protocol::gemini, "POST", rest, "");
    if (method == "POST" && !(proto == protocol::gemini && path_streams))
        check(streaming == dom_streams(body), "a body streams when its top-level stream is true");

    // Model override: exactly the oracle's splices, and what it says parses back.
    const auto out = body_with_model(body, model);
    const auto expected = expected_body(body, model);
    check(out.has_value() == expected.has_value(), "rewritten exactly when the oracle rewrites");
    if (out) {
        check(*out == *expected, "only the model values change, byte for byte");
        error_code ec;
        const json::value v = json::parse(*out, ec, {}, options());
        check(!ec && v.is_object(), "the rewritten body is a JSON object");
        const auto* m = v.get_object().if_contains("model");
        check(m != nullptr && m->is_string() && std::string_view(m->get_string()) == model,
              "the top-level model is the new name");
        check(dom_streams(*out) == dom_streams(body), "stream is untouched");
        check(body_with_model(*out, model) == out, "rewriting twice changes nothing more");
    }

    // Gemini's path: only the name changes; the query and the streaming form stay.
    if (const auto g = gemini_rest_with_model(rest, model)) {
        const auto q = rest.find('?');
        const auto gq = g->find('?');
        check((q == std::string_view::npos) == (gq == std::string::npos), "the query stays");
        if (q != std::string_view::npos) check(rest.substr(q) == std::string_view(*g).substr(gq), "the query stays");
        check(is_streaming_request(protocol::gemini, "POST", *g, "") == path_streams, "the streaming form stays");
        if (unreserved_only(model)) check(gemini_rest_with_model(*g, model) == g, "rewriting twice changes nothing");
    }
    return 0;
}
