// usage_meter reads usage with Boost.JSON's SAX parser and a handler that follows only the
// paths usage lives on. It replaced a reader that built a DOM of each line or body and looked
// the same paths up in it; that reader is kept here, and only here, as the oracle: on every
// text below and on thousands of mutations of them, both must read the same usage and model.
// Texts stay within usage_meter::whole_bytes (longer ones are read by windows the two readers
// share).
#include "worker/json_key_scan.hpp"
#include "worker/usage_meter.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using clipal::worker::find_bytes;
using clipal::worker::key_at;
using clipal::worker::model_stem;
using clipal::worker::model_suffix;
using clipal::worker::rfind_bytes;
using clipal::worker::token_usage;
using clipal::worker::usage_meter;
using clipal::worker::usage_result;
using clipal::worker::usage_stem;
using clipal::worker::usage_suffix;

namespace {

namespace json = boost::json;

// ---- The DOM reader as it was (worker/usage_meter.cpp before the SAX handler); the key scan
// it used is worker/json_key_scan, which both share (and which is tested on its own).

constexpr std::size_t npos = std::string_view::npos;
constexpr std::size_t max_depth = 256;
constexpr int max_fragment_parses = 8;

bool has_key_before(std::string_view t, std::string_view stem, std::string_view suffix, char value_start) {
    for (std::size_t at = find_bytes(t, stem); at != npos; at = find_bytes(t, stem, at + 1)) {
        const auto k = key_at(t, at, stem, suffix);
        if (k && t[k->value] == value_start) return true;
    }
    return false;
}

json::parse_options parse_options() {
    json::parse_options o;
    o.max_depth = max_depth;
    return o;
}

std::optional<std::uint64_t> count(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64()) {
        if (v->get_int64() < 0) return std::nullopt;
        return static_cast<std::uint64_t>(v->get_int64());
    }
    if (v->is_double()) {
        const double d = v->get_double();
        if (d >= 0 && d <= 9007199254740992.0 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
    }
    return std::nullopt;
}

std::optional<std::uint64_t> nested_count(const json::object& o, std::string_view outer, std::string_view key) {
    const json::value* v = o.if_contains(outer);
    if (v == nullptr || !v->is_object()) return std::nullopt;
    return count(v->get_object(), key);
}

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

class dom_reader {
public:
    explicit dom_reader(usage_result& r) : r_(r) {}

    bool anthropic_or_openai(const json::object& u) {
        any_ = false;
        const auto prompt = count(u, "prompt_tokens");
        const auto input = prompt ? prompt : count(u, "input_tokens");
        const auto cached = prompt ? nested_count(u, "prompt_tokens_details", "cached_tokens")
                                   : nested_count(u, "input_tokens_details", "cached_tokens");
        if (input) set(r_.tokens.input, cached ? saturating_sub(*input, *cached) : *input);
        if (cached) set(r_.tokens.cache_read, *cached);
        const auto completion = count(u, "completion_tokens");
        if (const auto output = completion ? completion : count(u, "output_tokens")) set(r_.tokens.output, *output);
        if (const auto read = count(u, "cache_read_input_tokens")) set(r_.tokens.cache_read, *read);
        if (const auto write = count(u, "cache_creation_input_tokens")) set(r_.tokens.cache_write, *write);
        return any_;
    }

    bool gemini(const json::object& u) {
        any_ = false;
        const auto prompt = count(u, "promptTokenCount");
        const auto tool_prompt = count(u, "toolUsePromptTokenCount");
        const auto cached = count(u, "cachedContentTokenCount");
        if (prompt || tool_prompt)
            set(r_.tokens.input,
                saturating_sub(saturating_add(prompt.value_or(0), tool_prompt.value_or(0)), cached.value_or(0)));
        if (cached) set(r_.tokens.cache_read, *cached);
        const auto candidates = count(u, "candidatesTokenCount");
        const auto thoughts = count(u, "thoughtsTokenCount");
        if (candidates || thoughts) set(r_.tokens.output, saturating_add(candidates.value_or(0), thoughts.value_or(0)));
        return any_;
    }

    bool model(const json::value& v) {
        if (!v.is_string()) return false;
        const json::string& s = v.get_string();
        if (s.empty() || s.size() > usage_meter::max_model_bytes) return false;
        r_.model.assign(s.data(), s.size());
        return true;
    }

    void document(const json::value& v) {
        if (v.is_object()) {
            object(v.get_object());
        } else if (v.is_array()) {
            for (const json::value& e : v.get_array())
                if (e.is_object()) object(e.get_object());
        }
    }

private:
    void set(std::optional<std::uint64_t>& field, std::uint64_t v) {
        field = v;
        any_ = true;
    }

    void object(const json::object& o) {
        member_object(o);
        for (const std::string_view wrapper : {"message", "response"}) {
            const json::value* inner = o.if_contains(wrapper);
            if (inner != nullptr && inner->is_object()) member_object(inner->get_object());
        }
    }

    void member_object(const json::object& o) {
        if (const json::value* u = o.if_contains("usage"); u != nullptr && u->is_object())
            anthropic_or_openai(u->get_object());
        if (const json::value* u = o.if_contains("usageMetadata"); u != nullptr && u->is_object())
            gemini(u->get_object());
        if (const json::value* m = o.if_contains("model")) model(*m);
        if (const json::value* m = o.if_contains("modelVersion")) model(*m);
    }

    usage_result& r_;
    bool any_ = false;
};

template <class Use>
bool with_value_at(std::string_view t, std::size_t pos, Use&& use) {
    unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    unsigned char temp[1024];
    json::parser p(json::storage_ptr(), parse_options(), temp);
    p.reset(&mr);
    boost::system::error_code ec;
    p.write_some(t.data() + pos, t.size() - pos, ec);
    if (ec) return false;
    return use(p.release());
}

bool dom_read_document(std::string_view text, usage_result& r) {
    unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    boost::system::error_code ec;
    const json::value v = json::parse(json::string_view(text.data(), text.size()), ec, &mr, parse_options());
    if (ec) return false;
    dom_reader(r).document(v);
    return true;
}

void dom_read_fragments(std::string_view head, usage_result& r) {
    dom_reader reader(r);
    int parses = 0;
    auto usage_in = [&](std::string_view t) {
        for (std::size_t at = rfind_bytes(t, usage_stem, t.size()); at != npos && parses < max_fragment_parses;
             at = rfind_bytes(t, usage_stem, at)) {
            const auto k = key_at(t, at, usage_stem, usage_suffix);
            if (!k || t[k->value] != '{') continue;
            ++parses;
            const bool found = with_value_at(t, k->value, [&](const json::value& v) {
                return v.is_object() &&
                       (k->long_form ? reader.gemini(v.get_object()) : reader.anthropic_or_openai(v.get_object()));
            });
            if (found) return true;
        }
        return false;
    };
    usage_in(head);
    auto model_in = [&](std::string_view t, bool version, bool first) {
        std::size_t at = first ? find_bytes(t, model_stem) : rfind_bytes(t, model_stem, t.size());
        for (; at != npos && parses < 2 * max_fragment_parses;
             at = first ? find_bytes(t, model_stem, at + 1) : rfind_bytes(t, model_stem, at)) {
            const auto k = key_at(t, at, model_stem, model_suffix);
            if (!k || k->long_form != version || t[k->value] != '"') continue;
            ++parses;
            if (with_value_at(t, k->value, [&](const json::value& v) { return reader.model(v); })) return true;
        }
        return false;
    };
    if (!model_in(head, true, false)) model_in(head, false, true);
}

// A JSON body (a non-blank one of at most whole_bytes) as the DOM reader read it.
usage_result dom_json(std::string_view body) {
    usage_result r;
    if (!body.empty() && !dom_read_document(body, r)) dom_read_fragments(body, r);
    return r;
}

// An SSE stream of lines of at most whole_bytes, with no byte order mark.
usage_result dom_sse(std::string_view stream) {
    usage_result r;
    while (!stream.empty()) {
        const std::size_t nl = stream.find('\n');
        std::string_view line = stream.substr(0, nl);
        stream.remove_prefix(nl == npos ? stream.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.starts_with("data:")) continue;
        line.remove_prefix(5);
        if (has_key_before(line, usage_stem, usage_suffix, '{') ||
            (r.model.empty() && has_key_before(line, model_stem, model_suffix, '"')))
            dom_read_document(line, r);
    }
    return r;
}

// ---- The texts.

usage_result meter(std::string_view type, std::string_view body) {
    usage_meter m(type, "");
    m.feed(body);
    return m.finish();
}

std::string describe(const usage_result& r) {
    auto field = [](const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : std::string("-"); };
    return "in " + field(r.tokens.input) + " out " + field(r.tokens.output) + " read " + field(r.tokens.cache_read) +
           " write " + field(r.tokens.cache_write) + " model '" + r.model + "'";
}

// Checks one text read as a JSON body and as one SSE data line; false on a disagreement.
bool agree(std::string_view text) {
    if (text.size() > usage_meter::whole_bytes || text.find_first_not_of(" \t\r\n") == npos) return true;
    // A body is read as JSON whatever its first byte when the type says so.
    const usage_result json_sax = meter("application/json", text), json_dom = dom_json(text);
    EXPECT_EQ(json_sax, json_dom) << "as JSON: " << text << "\n  SAX " << describe(json_sax) << "\n  DOM "
                                  << describe(json_dom);
    std::string line = "data: ";
    for (const char c : text) line += c == '\n' || c == '\r' ? ' ' : c;
    line += "\n\n";
    const usage_result sse_sax = meter("text/event-stream", line), sse_dom = dom_sse(line);
    EXPECT_EQ(sse_sax, sse_dom) << "as SSE: " << line << "  SAX " << describe(sse_sax) << "\n  DOM "
                                << describe(sse_dom);
    return json_sax == json_dom && sse_sax == sse_dom;
}

const std::vector<std::string> shapes = {
    // Anthropic Messages, with cache fields, and its stream's events.
    R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text",)"
    R"("text":"Hi \"usage\": {\"input_tokens\": 9}"}],"stop_reason":"end_turn","usage":{"input_tokens":12,)"
    R"("cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":100},)"
    R"("output_tokens":5,"service_tier":"standard"}})",
    R"({"type":"message_start","message":{"id":"msg_01","model":"claude-haiku-4-5","content":[],)"
    R"("usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":7,"output_tokens":1}}})",
    R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":42}})",
    // A tool call whose input has keys named like usage's.
    R"({"id":"msg_02","model":"claude-opus-4-1","content":[{"type":"tool_use","id":"toolu_1","name":"f",)"
    R"("input":{"usage":{"input_tokens":999},"model":"evil","message":{"usage":{"output_tokens":1}}}}],)"
    R"("usage":{"input_tokens":3,"output_tokens":4}})",
    // OpenAI Chat Completions, a chunk with usage and one without.
    R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-5","choices":[{"index":0,"message":{"role":)"
    R"("assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":120,"completion_tokens":30,)"
    R"("total_tokens":150,"prompt_tokens_details":{"cached_tokens":100,"audio_tokens":0},)"
    R"("completion_tokens_details":{"reasoning_tokens":10}},"system_fingerprint":null})",
    R"({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":12,)"
    R"("completion_tokens":5,"total_tokens":17,"prompt_tokens_details":{"cached_tokens":0}}})",
    R"({"id":"c","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"delta":{"content":"x"}}],"usage":null})",
    // OpenAI Responses, whole and response.completed.
    R"({"id":"resp_1","object":"response","status":"completed","model":"gpt-5-codex","output":[],"usage":)"
    R"({"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":300,)"
    R"("output_tokens_details":{"reasoning_tokens":256},"total_tokens":5300},"user":null,"metadata":{}})",
    R"({"type":"response.completed","sequence_number":8,"response":{"id":"resp_1","model":"gpt-5","usage":)"
    R"({"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":64}}})",
    // Gemini: an object, an array of them, a stream event.
    R"({"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"},"index":0}],"usageMetadata":)"
    R"({"promptTokenCount":1200,"candidatesTokenCount":7,"totalTokenCount":1307,"cachedContentTokenCount":1000,)"
    R"("thoughtsTokenCount":100,"toolUsePromptTokenCount":3},"modelVersion":"gemini-2.5-pro","responseId":"abc"})",
    R"([{"candidates":[],"usageMetadata":{"promptTokenCount":12},"modelVersion":"gemini-2.5-flash"},)"
    R"({"candidates":[],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5},"modelVersion":"g2"}])",
    // All of it in one object, and wrappers that are not objects.
    R"({"model":"top","modelVersion":"v","usage":{"output_tokens":1},"usageMetadata":{"candidatesTokenCount":2},)"
    R"("message":{"model":"m","usage":{"input_tokens":3}},"response":{"modelVersion":"r","usageMetadata":)"
    R"({"promptTokenCount":4,"cachedContentTokenCount":1}}})",
    R"({"message":"text","response":[{"usage":{"input_tokens":1}}],"usage":[{"output_tokens":2}],"model":7})",
};

// Values a count could be given as.
const std::vector<std::string> count_spellings = {
    "0",
    "7",
    "-1",
    "-0",
    "2.5",
    "3.0",
    "1e2",
    "1E+2",
    "12.50e1",
    "0.0",
    "1e-2",
    "-0.0",
    "1e400",
    "null",
    "true",
    "\"7\"",
    "{}",
    "[]",
    "[1]",
    "{\"a\":1}",
    "9007199254740992",
    "9007199254740993",
    "9007199254740992.0",
    "9007199254740994.0",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "1.8446744073709552e19",
};

// Texts from each shape: every number respelled, every member repeated (the copy first with
// another value, then after), keys written with escapes, and each shape nested in a content
// part, an array and a tool input.
std::vector<std::string> variations(const std::string& s) {
    std::vector<std::string> out;
    // Numbers: a digit run (with its sign) not inside a string.
    bool in_string = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
            continue;
        }
        if ((c >= '0' && c <= '9') || c == '-') {
            std::size_t end = i;
            while (end < s.size() && std::strchr("0123456789-+.eE", s[end]) != nullptr) ++end;
            for (const auto& spelling : count_spellings) out.push_back(s.substr(0, i) + spelling + s.substr(end));
            i = end - 1;
        }
    }
    // Members: `"key":value` with value up to the next comma or brace at the same level.
    for (std::size_t at = s.find("\":"); at != npos; at = s.find("\":", at + 1)) {
        const std::size_t key_begin = s.rfind('"', at - 1);
        if (key_begin == npos) continue;
        std::size_t end = at + 2;
        int depth = 0;
        bool quoted = false;
        for (; end < s.size(); ++end) {
            const char c = s[end];
            if (quoted) {
                if (c == '\\')
                    ++end;
                else if (c == '"')
                    quoted = false;
                continue;
            }
            if (c == '"')
                quoted = true;
            else if (c == '{' || c == '[')
                ++depth;
            else if ((c == '}' || c == ']') && depth-- == 0)
                break;
            else if (c == ',' && depth == 0)
                break;
        }
        const std::string member = s.substr(key_begin, end - key_begin);
        const std::string key = s.substr(key_begin, at + 2 - key_begin);
        out.push_back(s.substr(0, end) + "," + member + s.substr(end));               // repeated as it is
        out.push_back(s.substr(0, end) + "," + key + "null" + s.substr(end));         // then null
        out.push_back(s.substr(0, key_begin) + key + "\"x\"," + s.substr(key_begin)); // a string first
        out.push_back(s.substr(0, end) + "," + key + "{}" + s.substr(end));           // then an empty object
        // The key with its first, a middle or its last letter escaped (the parser then hands
        // it over in parts).
        for (const std::size_t letter : {key_begin + 1, (key_begin + at) / 2 + 1, at - 1}) {
            if (letter <= key_begin || letter >= at) continue;
            std::string escaped = s;
            char hex[7];
            std::snprintf(hex, sizeof hex, "\\u%04x", static_cast<unsigned char>(s[letter]));
            escaped.replace(letter, 1, hex);
            out.push_back(escaped);
        }
    }
    out.push_back(R"({"content":[{"type":"text","text":"a"},)" + s + "]}");
    out.push_back("[" + s + "," + s + "]");
    out.push_back("[[" + s + "]]");
    out.push_back(R"({"content":[{"type":"tool_use","input":)" + s + "}]}");
    out.push_back(R"({"message":{"message":)" + s + "}}");
    out.push_back(R"({"response":)" + s + "}");
    out.push_back("  " + s + " \r\n ");
    out.push_back(s + s);
    out.push_back(s + "x");
    return out;
}

// Nested `levels` deep in arrays, around a usage object.
std::string nested(std::size_t levels, std::string_view inner) {
    return std::string(levels, '[') + std::string(inner) + std::string(levels, ']');
}

} // namespace

TEST(UsageMeter, SaxReaderAgreesWithTheDomReaderOnEveryShapeAndVariation) {
    std::size_t texts = 0, disagreements = 0;
    for (const auto& s : shapes) {
        for (const auto& text : variations(s)) {
            ++texts;
            if (!agree(text)) ++disagreements;
        }
    }
    EXPECT_EQ(disagreements, 0u) << "of " << texts;
    EXPECT_GT(texts, 1500u);
}

TEST(UsageMeter, SaxReaderAgreesWithTheDomReaderOnModelNames) {
    // Names up to and past max_model_bytes, plain and with escapes (read in parts) anywhere.
    for (const std::size_t n :
         {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, usage_meter::max_model_bytes - 1,
          usage_meter::max_model_bytes, usage_meter::max_model_bytes + 1, std::size_t{600}}) {
        std::vector<std::string> names{std::string(n, 'm')};
        for (const std::size_t at : {std::size_t{0}, n / 2, n == 0 ? 0 : n - 1}) {
            if (at >= n) continue;
            names.push_back(std::string(at, 'm') + "\\u006d" + std::string(n - at - 1, 'm')); // same length
            names.push_back(std::string(at, 'm') + "\\u00e9" + std::string(n - at - 1, 'm')); // one byte more
            names.push_back(std::string(at, 'm') + "\\\\" + std::string(n - at - 1, 'm'));
        }
        for (const auto& name : names) {
            agree(R"({"model":")" + name + R"(","usage":{"input_tokens":1}})");
            agree(R"({"modelVersion":")" + name + R"(","model":"short","usageMetadata":{"promptTokenCount":1}})");
            agree(R"({"model":"short","model":")" + name + R"("})");
            agree(R"({"type":"message_start","message":{"model":")" + name + R"("}})");
        }
    }
}

TEST(UsageMeter, SaxReaderAgreesWithTheDomReaderOnEveryTruncation) {
    for (const auto& s : shapes)
        for (std::size_t n = 0; n <= s.size(); ++n)
            if (!agree(std::string_view(s).substr(0, n))) return;
}

TEST(UsageMeter, SaxReaderAgreesWithTheDomReaderAtTheDepthLimit) {
    const std::string usage = R"({"model":"m","usage":{"input_tokens":1,"output_tokens":2}})";
    for (const std::size_t levels : {1, 2, 100, 254, 255, 256, 257, 300, 1000}) {
        agree(nested(levels, usage));
        agree(R"({"model":"m","x":)" + nested(levels, "0") + R"(,"usage":{"output_tokens":2}})");
        agree(R"({"usage":{"output_tokens":2,"x":)" + nested(levels, "0") + "}}");
    }
}

TEST(UsageMeter, SaxReaderAgreesWithTheDomReaderOnRandomMutations) {
    // Deletions, insertions of JSON's own characters, copies and swaps of spans: mostly broken
    // texts, which must read as the DOM reader read them (through the fragment fallback).
    constexpr std::string_view alphabet = "{}[],:\"\\0123456789-.eE tnfu";
    std::uint32_t x = 20260101;
    auto next = [&x](std::size_t n) {
        x = x * 1664525u + 1013904223u;
        return static_cast<std::size_t>(x >> 8) % n;
    };
    std::size_t disagreements = 0;
    for (int round = 0; round < 4000 && disagreements < 5; ++round) {
        std::string t = shapes[next(shapes.size())];
        for (int edits = 1 + static_cast<int>(next(3)); edits > 0; --edits) {
            const std::size_t at = next(t.size() + 1);
            switch (next(4)) {
            case 0:
                if (at < t.size()) t.erase(at, 1 + next(4));
                break;
            case 1: t.insert(at, 1, alphabet[next(alphabet.size())]); break;
            case 2: t.insert(at, t.substr(next(t.size()), next(40))); break;
            default: {
                const std::size_t from = next(t.size()), n = next(30);
                const std::string span = t.substr(from, n);
                t.erase(from, span.size());
                t.insert(std::min(at, t.size()), span);
            }
            }
        }
        if (!agree(t)) ++disagreements;
    }
    EXPECT_EQ(disagreements, 0u);
}
