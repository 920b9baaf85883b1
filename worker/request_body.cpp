// Streaming detection and model override on a buffered request body (SPEC §4, §5).
//
// Boost.JSON's basic_parser validates the body and reports the root object's members as
// parse events (decoded keys, value kinds), with no DOM and no allocation for a complete
// document. It gives no byte offsets, so body_with_model finds the bytes of the "model"
// values with a small scanner of its own (skip_value below), run only over text the
// parser has already accepted: it needs to tell where strings, containers and scalars end,
// never whether they are well formed.
#include "worker/request_body.hpp"

#include "shared/text.hpp"

#include <boost/json/basic_parser_impl.hpp>

#include <cstdint>
#include <cstring>
#include <vector>

namespace clipal::worker {
namespace {

namespace json = boost::json;
using boost::system::error_code;

// Watches the root object's members named `key` through the parser's events: how many
// there are, whether all their values are strings, whether the last one is `true`, and
// (when asked) their positions among the root's members. Keys are compared as decoded
// text, part by part when the parser hands a key over in parts (escapes, long keys).
class root_member_watch {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    explicit root_member_watch(std::string_view key, std::vector<std::size_t>* positions = nullptr,
                               std::string* last_string = nullptr)
        : key_(key), positions_(positions), last_string_(last_string) {}

    bool root_is_object() const { return root_object_; }
    std::size_t matches() const { return matches_; }
    bool all_strings() const { return all_strings_; }
    bool last_is_true() const { return last_true_; }

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) {
        if (depth_ == 0)
            root_object_ = true;
        else
            value(kind::other);
        ++depth_;
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }
    bool on_array_begin(error_code&) {
        value(kind::other);
        ++depth_;
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        --depth_;
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t n, error_code&) {
        if (depth_ == 1) key_part(s, n);
        return true;
    }
    bool on_key(json::string_view s, std::size_t n, error_code&) {
        if (depth_ != 1) return true;
        key_part(s, n);
        const std::size_t position = members_++;
        if (key_ok_ && n == key_.size()) {
            pending_ = true;
            pending_position_ = position;
        }
        key_ok_ = true;
        return true;
    }
    bool on_string_part(json::string_view s, std::size_t n, error_code&) {
        capture(s, n);
        return true;
    }
    bool on_string(json::string_view s, std::size_t n, error_code&) {
        capture(s, n);
        value(kind::string);
        return true;
    }
    bool on_number_part(json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, error_code&) {
        value(kind::other);
        return true;
    }
    bool on_uint64(std::uint64_t, json::string_view, error_code&) {
        value(kind::other);
        return true;
    }
    bool on_double(double, json::string_view, error_code&) {
        value(kind::other);
        return true;
    }
    bool on_bool(bool b, error_code&) {
        value(b ? kind::literal_true : kind::other);
        return true;
    }
    bool on_null(error_code&) {
        value(kind::other);
        return true;
    }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }

private:
    enum class kind { string, literal_true, other };

    // `s` is the part of the key ending at decoded length n.
    void key_part(json::string_view s, std::size_t n) {
        if (!key_ok_) return;
        const std::size_t at = n - s.size();
        key_ok_ = n <= key_.size() && key_.substr(at, s.size()) == std::string_view(s.data(), s.size());
    }

    // A value begins (containers) or is complete (scalars); only those that are members
    // of the root object (depth 1, which is an object when a key announced the value) count.
    void value(kind k) {
        if (depth_ != 1 || !pending_) return;
        pending_ = false;
        ++matches_;
        if (k != kind::string) all_strings_ = false;
        last_true_ = k == kind::literal_true;
        if (positions_ != nullptr && k == kind::string) positions_->push_back(pending_position_);
    }

    // The decoded text of a string value of a matching root member, part by part.
    void capture(json::string_view s, std::size_t n) {
        if (last_string_ == nullptr || depth_ != 1 || !pending_) return;
        if (n == s.size()) last_string_->clear();
        last_string_->append(s.data(), s.size());
    }

    std::string_view key_;
    std::vector<std::size_t>* positions_;
    std::string* last_string_;
    std::size_t depth_ = 0;
    bool root_object_ = false;
    std::size_t members_ = 0; // root members seen so far
    bool key_ok_ = true;      // the key being read matches key_ so far
    bool pending_ = false;    // the next root-level value belongs to a matching key
    std::size_t pending_position_ = 0;
    std::size_t matches_ = 0;
    bool all_strings_ = true;
    bool last_true_ = false;
};

// Two watches over one parse: a request's "stream" and "model" are read in one pass.
class watch_pair {
public:
    static constexpr std::size_t max_object_size = root_member_watch::max_object_size;
    static constexpr std::size_t max_array_size = root_member_watch::max_array_size;
    static constexpr std::size_t max_key_size = root_member_watch::max_key_size;
    static constexpr std::size_t max_string_size = root_member_watch::max_string_size;

    watch_pair(root_member_watch a, root_member_watch b) : a_(std::move(a)), b_(std::move(b)) {}
    const root_member_watch& first() const { return a_; }
    const root_member_watch& second() const { return b_; }

    bool on_document_begin(error_code& ec) { return a_.on_document_begin(ec) && b_.on_document_begin(ec); }
    bool on_document_end(error_code& ec) { return a_.on_document_end(ec) && b_.on_document_end(ec); }
    bool on_object_begin(error_code& ec) { return a_.on_object_begin(ec) && b_.on_object_begin(ec); }
    bool on_object_end(std::size_t n, error_code& ec) { return a_.on_object_end(n, ec) && b_.on_object_end(n, ec); }
    bool on_array_begin(error_code& ec) { return a_.on_array_begin(ec) && b_.on_array_begin(ec); }
    bool on_array_end(std::size_t n, error_code& ec) { return a_.on_array_end(n, ec) && b_.on_array_end(n, ec); }
    bool on_key_part(json::string_view s, std::size_t n, error_code& ec) {
        return a_.on_key_part(s, n, ec) && b_.on_key_part(s, n, ec);
    }
    bool on_key(json::string_view s, std::size_t n, error_code& ec) {
        return a_.on_key(s, n, ec) && b_.on_key(s, n, ec);
    }
    bool on_string_part(json::string_view s, std::size_t n, error_code& ec) {
        return a_.on_string_part(s, n, ec) && b_.on_string_part(s, n, ec);
    }
    bool on_string(json::string_view s, std::size_t n, error_code& ec) {
        return a_.on_string(s, n, ec) && b_.on_string(s, n, ec);
    }
    bool on_number_part(json::string_view s, error_code& ec) {
        return a_.on_number_part(s, ec) && b_.on_number_part(s, ec);
    }
    bool on_int64(std::int64_t v, json::string_view s, error_code& ec) {
        return a_.on_int64(v, s, ec) && b_.on_int64(v, s, ec);
    }
    bool on_uint64(std::uint64_t v, json::string_view s, error_code& ec) {
        return a_.on_uint64(v, s, ec) && b_.on_uint64(v, s, ec);
    }
    bool on_double(double v, json::string_view s, error_code& ec) {
        return a_.on_double(v, s, ec) && b_.on_double(v, s, ec);
    }
    bool on_bool(bool v, error_code& ec) { return a_.on_bool(v, ec) && b_.on_bool(v, ec); }
    bool on_null(error_code& ec) { return a_.on_null(ec) && b_.on_null(ec); }
    bool on_comment_part(json::string_view s, error_code& ec) {
        return a_.on_comment_part(s, ec) && b_.on_comment_part(s, ec);
    }
    bool on_comment(json::string_view s, error_code& ec) { return a_.on_comment(s, ec) && b_.on_comment(s, ec); }

private:
    root_member_watch a_, b_;
};

// Parses the whole body; false unless it is one valid JSON text (white space around it only).
template <class Handler>
bool parse_whole(std::string_view body, json::basic_parser<Handler>& p) {
    error_code ec;
    const std::size_t used = p.write_some(false, body.data(), body.size(), ec);
    return !ec && p.done() && used == body.size();
}

json::parse_options strict_options() {
    json::parse_options o;
    o.max_depth = max_json_depth;
    return o;
}

// ---- The scanner over validated JSON text. Each function takes the position of a token's
// first byte and returns the position just past it, or nullptr when the text ends first
// (which validated text never does; the check only keeps a bug from reading past the end).

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

const char* skip_ws(const char* p, const char* end) {
    while (p < end && is_ws(*p)) ++p;
    return p;
}

// p at the opening quote. The closing quote is the first one preceded by an even run of
// backslashes; memchr finds the candidates, so long strings cost little.
const char* skip_string(const char* p, const char* end) {
    const char* const first = p + 1;
    const char* q = first;
    while (q < end) {
        const auto* quote = static_cast<const char*>(std::memchr(q, '"', static_cast<std::size_t>(end - q)));
        if (quote == nullptr) return nullptr;
        std::size_t backslashes = 0;
        for (const char* b = quote; b > first && b[-1] == '\\'; --b) ++backslashes;
        if (backslashes % 2 == 0) return quote + 1;
        q = quote + 1;
    }
    return nullptr;
}

const char* skip_value(const char* p, const char* end) {
    if (p >= end) return nullptr;
    if (*p == '"') return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        std::size_t depth = 0;
        while (p < end) {
            const char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                if (p == nullptr) return nullptr;
                continue;
            }
            if (c == '{' || c == '[')
                ++depth;
            else if ((c == '}' || c == ']') && --depth == 0)
                return p + 1;
            ++p;
        }
        return nullptr;
    }
    // A number or a literal: runs to the next delimiter.
    while (p < end && !is_ws(*p) && *p != ',' && *p != '}' && *p != ']') ++p;
    return p;
}

struct byte_range {
    std::size_t begin, end;
};

// The byte ranges of the values of the root object's members at `positions` (ascending).
std::optional<std::vector<byte_range>> member_values(std::string_view text, const std::vector<std::size_t>& positions) {
    const char* const base = text.data();
    const char* const end = base + text.size();
    const char* p = skip_ws(base, end);
    if (p >= end || *p != '{') return std::nullopt;
    ++p;
    std::vector<byte_range> out;
    out.reserve(positions.size());
    for (std::size_t member = 0; out.size() < positions.size(); ++member) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"') return std::nullopt;
        p = skip_string(p, end); // the key
        if (p == nullptr) return std::nullopt;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') return std::nullopt;
        const char* value = skip_ws(p + 1, end);
        p = skip_value(value, end);
        if (p == nullptr) return std::nullopt;
        if (member == positions[out.size()])
            out.push_back({static_cast<std::size_t>(value - base), static_cast<std::size_t>(p - base)});
        p = skip_ws(p, end);
        if (p >= end || (*p != ',' && *p != '}')) return std::nullopt;
        if (*p == '}' && out.size() < positions.size()) return std::nullopt;
        ++p;
    }
    return out;
}

bool unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

std::string percent_encoded(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        if (unreserved(c)) {
            out += c;
        } else {
            out += '%';
            out += hex[static_cast<unsigned char>(c) >> 4];
            out += hex[static_cast<unsigned char>(c) & 0xF];
        }
    }
    return out;
}

constexpr std::string_view stream_method = ":streamGenerateContent";

// Gemini's streaming forms: a path segment ending in :streamGenerateContent, or alt=sse.
// Where NAME is in `.../models/NAME:method` (see gemini_rest_with_model); nullopt when the
// path has no such segment, several, or a percent-encoded one.
std::optional<byte_range> gemini_model_segment(std::string_view rest);

bool gemini_streams(std::string_view rest) {
    const std::size_t q = rest.find('?');
    const std::string_view path = rest.substr(0, q);
    for (std::size_t at = path.find(stream_method); at != std::string_view::npos;
         at = path.find(stream_method, at + 1)) {
        const std::size_t after = at + stream_method.size();
        if (after == path.size() || path[after] == '/') return true;
    }
    if (q == std::string_view::npos) return false;
    std::string_view query = rest.substr(q + 1);
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        if (param == "alt=sse" || param == "$alt=sse") return true;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return false;
}

} // namespace

request_facts inspect_request(protocol proto, std::string_view method, std::string_view rest, std::string_view body) {
    request_facts out;
    std::optional<std::string> path_model;
    if (proto == protocol::gemini) {
        if (const auto name = gemini_model_segment(rest))
            path_model = std::string(rest.substr(name->begin, name->end - name->begin));
        out.streaming = method == "POST" && gemini_streams(rest);
    }
    if (!body.empty()) {
        std::string model;
        json::basic_parser<watch_pair> p(strict_options(), root_member_watch("stream"),
                                         root_member_watch("model", nullptr, &model));
        if (parse_whole(body, p)) {
            const auto& stream = p.handler().first();
            const auto& named = p.handler().second();
            if (stream.root_is_object() && stream.matches() > 0 && stream.last_is_true() && method == "POST")
                out.streaming = true;
            if (named.root_is_object() && named.matches() > 0 && named.all_strings()) out.model = std::move(model);
        }
    }
    if (path_model) out.model = std::move(path_model);
    return out;
}

bool is_streaming_request(protocol proto, std::string_view method, std::string_view rest, std::string_view body) {
    return inspect_request(proto, method, rest, body).streaming;
}

std::optional<std::string> model_of(protocol proto, std::string_view rest, std::string_view body) {
    return inspect_request(proto, "POST", rest, body).model;
}

std::optional<std::string> body_with_model(std::string_view body, std::string_view model) {
    if (!is_utf8(model)) return std::nullopt;
    std::vector<std::size_t> positions;
    {
        json::basic_parser<root_member_watch> p(strict_options(), "model", &positions);
        if (!parse_whole(body, p)) return std::nullopt;
        const auto& w = p.handler();
        if (!w.root_is_object() || w.matches() == 0 || !w.all_strings()) return std::nullopt;
    }
    const auto ranges = member_values(body, positions);
    if (!ranges) return std::nullopt;
    const std::string encoded = quoted_literal(model);
    std::size_t removed = 0;
    for (const auto& r : *ranges) removed += r.end - r.begin;
    std::string out;
    out.reserve(body.size() - removed + ranges->size() * encoded.size());
    std::size_t from = 0;
    for (const auto& r : *ranges) {
        out.append(body.substr(from, r.begin - from));
        out += encoded;
        from = r.end;
    }
    out.append(body.substr(from));
    return out;
}

std::optional<std::string> gemini_rest_with_model(std::string_view rest, std::string_view model) {
    if (model.empty()) return std::nullopt;
    const auto name = gemini_model_segment(rest);
    if (!name) return std::nullopt;
    std::string out;
    out.reserve(rest.size() + model.size() * 3);
    out.append(rest.substr(0, name->begin));
    out += percent_encoded(model);
    out.append(rest.substr(name->end));
    return out;
}

namespace {

std::optional<byte_range> gemini_model_segment(std::string_view rest) {
    constexpr std::string_view marker = "models/";
    const std::string_view path = rest.substr(0, rest.find('?'));
    std::optional<byte_range> name;
    for (std::size_t at = path.find(marker); at != std::string_view::npos; at = path.find(marker, at + 1)) {
        if (at != 0 && path[at - 1] != '/') continue; // "tunedModels/", "xmodels/": another segment
        const std::size_t begin = at + marker.size();
        const std::size_t end = path.find_first_of(":/", begin);
        if (end == std::string_view::npos || path[end] != ':' || end == begin) continue;
        if (name) return std::nullopt; // two candidates
        name = byte_range{begin, end};
    }
    if (!name || path.substr(name->begin, name->end - name->begin).find('%') != std::string_view::npos)
        return std::nullopt;
    return name;
}

} // namespace

} // namespace clipal::worker
