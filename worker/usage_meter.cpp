// Token usage read from a response body as it streams past (see usage_meter.hpp).
//
// Per byte the meter does: for SSE, one memchr for '\n' per line and, per `data:` line, a
// memmem for `"usage` (and for `"model` until a model is known); for JSON, a copy into the
// head window or the rolling tail. Boost.JSON builds a DOM only of the lines that pass that
// check (Anthropic's message_start and message_delta, OpenAI's usage chunk, Responses'
// created/completed, every Gemini event) and of a JSON body once, at finish(), in a
// monotonic arena on the stack, freed at once.
#include "worker/usage_meter.hpp"

#include "shared/text.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace clipal::worker {
namespace {

namespace json = boost::json;
using boost::system::error_code;

constexpr std::size_t npos = std::string_view::npos;

// Deepest nesting a parsed line or body may have (tool schemas and arguments nest a dozen
// levels; the parser keeps its stack on the heap, not in recursion).
constexpr std::size_t max_depth = 256;
// Fragment reads parse at most this many candidate values per window (so a window full of
// `"usage":{` costs a bounded number of parses).
constexpr int max_fragment_parses = 8;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::size_t find_bytes(std::string_view hay, std::string_view needle, std::size_t from = 0) {
    if (from >= hay.size()) return npos;
    const void* hit = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
    return hit == nullptr ? npos : static_cast<std::size_t>(static_cast<const char*>(hit) - hay.data());
}

// The last `needle` starting before `end` (memrchr for its first byte: no byte-wise loop).
std::size_t rfind_bytes(std::string_view hay, std::string_view needle, std::size_t end) {
    end = std::min(end, hay.size());
    while (end > 0) {
        const void* hit = ::memrchr(hay.data(), needle.front(), end);
        if (hit == nullptr) return npos;
        const auto at = static_cast<std::size_t>(static_cast<const char*>(hit) - hay.data());
        if (hay.substr(at, needle.size()) == needle) return at;
        end = at;
    }
    return npos;
}

// Appends, growing the string's capacity to at most `cap` (a fresh string's reserve is exact,
// unlike growing in place, which may double past the cap).
void append_capped(std::string& s, std::string_view add, std::size_t cap) {
    const std::size_t needed = s.size() + add.size();
    if (needed > s.capacity()) {
        std::string grown;
        grown.reserve(std::min(cap, std::max(needed, 2 * s.capacity())));
        grown.append(s);
        s.swap(grown);
    }
    s.append(add);
}

void release(std::string& s) { std::string().swap(s); }

// A key: `stem` (`"usage` or `"model`), optionally `suffix` (`Metadata`, `Version`), then the
// closing quote, white space, a colon and white space. Where its value starts, and which key.
struct key_hit {
    std::size_t value;
    bool long_form;
};

std::optional<key_hit> key_at(std::string_view t, std::size_t pos, std::string_view stem, std::string_view suffix) {
    std::size_t i = pos + stem.size();
    bool long_form = false;
    if (t.substr(i, suffix.size()) == suffix) {
        i += suffix.size();
        long_form = true;
    }
    if (i >= t.size() || t[i] != '"') return std::nullopt;
    ++i;
    while (i < t.size() && is_ws(t[i])) ++i;
    if (i >= t.size() || t[i] != ':') return std::nullopt;
    ++i;
    while (i < t.size() && is_ws(t[i])) ++i;
    if (i >= t.size()) return std::nullopt;
    return key_hit{i, long_form};
}

constexpr std::string_view usage_stem = "\"usage", usage_suffix = "Metadata";
constexpr std::string_view model_stem = "\"model", model_suffix = "Version";

// True when `t` has a "usage" or "usageMetadata" key whose value is an object. A quote inside
// a JSON string is escaped, so this matches keys (or a string value "usage" followed by a
// colon, which is not JSON) and never the text of a message.
bool has_usage_object(std::string_view t) {
    for (std::size_t at = find_bytes(t, usage_stem); at != npos; at = find_bytes(t, usage_stem, at + 1)) {
        const auto k = key_at(t, at, usage_stem, usage_suffix);
        if (k && t[k->value] == '{') return true;
    }
    return false;
}

bool has_model_string(std::string_view t) {
    for (std::size_t at = find_bytes(t, model_stem); at != npos; at = find_bytes(t, model_stem, at + 1)) {
        const auto k = key_at(t, at, model_stem, model_suffix);
        if (k && t[k->value] == '"') return true;
    }
    return false;
}

json::parse_options parse_options() {
    json::parse_options o;
    o.max_depth = max_depth;
    return o;
}

// A token count: a non-negative integer (12 or 12.0); anything else is not a count.
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
        // 2^53: every integer below is exact in a double.
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

// Each usage object states some fields; a stated field replaces what an earlier one said.
class usage_reader {
public:
    explicit usage_reader(usage_result& r) : r_(r) {}

    // Anthropic, OpenAI Chat Completions or Responses `usage`, told apart by field names.
    // True when it stated a count.
    bool anthropic_or_openai(const json::object& u) {
        any_ = false;
        const auto prompt = count(u, "prompt_tokens"); // Chat Completions
        const auto input = prompt ? prompt : count(u, "input_tokens");
        // OpenAI counts cached tokens in the prompt; Anthropic's input_tokens excludes them.
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

    // Gemini `usageMetadata` (promptTokenCount includes cachedContentTokenCount).
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

    // One response object, message_start/message_delta event, chunk or Gemini response.
    void object(const json::object& o) {
        member_object(o);
        for (const std::string_view wrapper : {"message", "response"}) {
            const json::value* inner = o.if_contains(wrapper);
            if (inner != nullptr && inner->is_object()) member_object(inner->get_object());
        }
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

// Parses the one JSON value starting at t[pos] (text after it is ignored) and hands it to
// `use`; false when it does not parse or `use` says no.
template <class Use>
bool with_value_at(std::string_view t, std::size_t pos, Use&& use) {
    unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    unsigned char temp[1024];
    json::parser p(json::storage_ptr(), parse_options(), temp);
    p.reset(&mr);
    error_code ec;
    p.write_some(t.data() + pos, t.size() - pos, ec);
    if (ec) return false; // an incomplete value is an error too (the text ends here)
    return use(p.release());
}

} // namespace

// zlib's stream with its allocations counted (for retained_bytes()).
struct usage_meter::inflater {
    z_stream zs{};
    std::size_t allocated = 0;
    int window_bits = 0; // 0: "deflate" before its first two bytes say zlib or raw
    unsigned char header[2] = {};
    std::size_t header_size = 0;
    bool started = false;
    bool ended = false;

    static constexpr std::size_t prefix = alignof(std::max_align_t);

    static voidpf allocate(voidpf opaque, uInt items, uInt size) {
        if (size != 0 && items > (std::numeric_limits<std::size_t>::max() - prefix) / size) return Z_NULL;
        const std::size_t n = std::size_t{items} * size;
        auto* p = static_cast<unsigned char*>(std::malloc(n + prefix));
        if (p == nullptr) return Z_NULL;
        std::memcpy(p, &n, sizeof n);
        static_cast<inflater*>(opaque)->allocated += n + prefix;
        return p + prefix;
    }
    static void free(voidpf opaque, voidpf address) {
        auto* p = static_cast<unsigned char*>(address) - prefix;
        std::size_t n = 0;
        std::memcpy(&n, p, sizeof n);
        static_cast<inflater*>(opaque)->allocated -= n + prefix;
        std::free(p);
    }

    bool start() {
        zs.zalloc = &inflater::allocate;
        zs.zfree = &inflater::free;
        zs.opaque = this;
        started = inflateInit2(&zs, window_bits) == Z_OK;
        return started;
    }
    ~inflater() {
        if (started) inflateEnd(&zs);
    }
};

usage_meter::usage_meter(std::string_view content_type, std::string_view content_encoding) : mode_(mode::sniff) {
    const std::string media = ascii_lower(trim_ows(content_type.substr(0, content_type.find(';'))));
    if (media == "text/event-stream")
        mode_ = mode::sse;
    else if (media == "application/json" || (media.size() > 5 && media.ends_with("+json")))
        mode_ = mode::json;

    const std::string coding = ascii_lower(trim_ows(content_encoding));
    if (coding.empty() || coding == "identity") return;
    if (coding == "gzip" || coding == "x-gzip") {
        inflater_ = std::make_unique<inflater>();
        inflater_->window_bits = 15 + 32; // gzip, or zlib mislabelled as gzip
    } else if (coding == "deflate") {
        inflater_ = std::make_unique<inflater>();
    } else {
        mode_ = mode::off; // br, zstd, compress, a list of codings
    }
}

usage_meter::~usage_meter() = default;
usage_meter::usage_meter(usage_meter&&) noexcept = default;
usage_meter& usage_meter::operator=(usage_meter&&) noexcept = default;

bool usage_meter::metering() const noexcept { return mode_ != mode::off; }

std::size_t usage_meter::retained_bytes() const noexcept {
    // A string's capacity past its small-string buffer is on the heap.
    const std::size_t small = std::string().capacity();
    std::size_t n = 0;
    for (const std::string* s : {&head_, &tail_})
        if (s->capacity() > small) n += s->capacity();
    if (inflater_) n += inflater_->allocated;
    return n;
}

void usage_meter::stop() {
    mode_ = mode::off;
    inflater_.reset();
    release(head_);
    release(tail_);
    total_ = 0;
    seen_ = {};
}

void usage_meter::feed(std::string_view piece) noexcept {
    if (finished_ || mode_ == mode::off || piece.empty()) return;
    try {
        if (inflater_)
            decode(piece);
        else
            consume(piece);
    } catch (...) {
        stop(); // bad_alloc: give up on this response, never on the response itself
    }
}

void usage_meter::decode(std::string_view piece) {
    inflater& z = *inflater_;
    if (z.ended) return; // bytes after the end of the compressed stream are not read
    if (!z.started) {
        if (z.window_bits == 0) {
            // "deflate" is zlib-wrapped per RFC 9110, raw deflate from some servers; a gzip
            // header is read as gzip.
            const std::size_t take = std::min(piece.size(), 2 - z.header_size);
            std::memcpy(z.header + z.header_size, piece.data(), take);
            z.header_size += take;
            piece.remove_prefix(take);
            if (z.header_size < 2) return;
            const unsigned cmf = z.header[0], flg = z.header[1];
            if (cmf == 0x1f && flg == 0x8b)
                z.window_bits = 15 + 16;
            else if ((cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0)
                z.window_bits = 15;
            else
                z.window_bits = -15;
            if (!z.start()) return stop();
            // Feed the two header bytes, then the rest (inflate() copies nothing it is given).
            const std::string_view header(reinterpret_cast<const char*>(z.header), 2);
            for (std::string_view part : {header, piece}) {
                if (mode_ == mode::off || inflater_->ended) return;
                decode(part);
            }
            return;
        }
        if (!z.start()) return stop();
    }

    unsigned char out[8192];
    while (!piece.empty()) {
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(piece.size(), 1U << 30));
        z.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(piece.data())); // zlib never writes to it
        z.zs.avail_in = chunk;
        for (;;) {
            z.zs.next_out = out;
            z.zs.avail_out = sizeof out;
            const int rc = ::inflate(&z.zs, Z_NO_FLUSH);
            const std::size_t produced = sizeof out - z.zs.avail_out;
            if (produced > 0) {
                if (produced > max_decoded_bytes - decoded_) return stop();
                decoded_ += produced;
                consume(std::string_view(reinterpret_cast<const char*>(out), produced));
                if (mode_ == mode::off) return; // `z` is gone
            }
            if (rc == Z_STREAM_END) {
                z.ended = true;
                return;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) return stop(); // corrupt data, Z_NEED_DICT
            // inflate() returns with output room left only once its input is used up.
            if (z.zs.avail_out != 0) break;
        }
        piece.remove_prefix(chunk);
    }
}

void usage_meter::consume(std::string_view s) {
    if (mode_ == mode::sniff) {
        while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
        if (s.empty()) return;
        const char c = s.front();
        if (c == '{' || c == '[')
            mode_ = mode::json;
        else if (c == 'd' || c == 'e' || c == 'i' || c == 'r' || c == ':') // data, event, id, retry, comment
            mode_ = mode::sse;
        else
            return stop();
    }
    if (mode_ == mode::sse)
        consume_sse(s);
    else if (mode_ == mode::json)
        window_append(s);
}

void usage_meter::consume_sse(std::string_view s) {
    while (!s.empty()) {
        const void* nl = std::memchr(s.data(), '\n', s.size());
        if (nl == nullptr) {
            window_append(s); // a line continued in the next piece
            return;
        }
        const auto n = static_cast<std::size_t>(static_cast<const char*>(nl) - s.data());
        if (total_ == 0) {
            // The whole line is in this piece: read it in place (the common case).
            const std::string_view line = s.substr(0, n);
            if (line.size() <= whole_bytes)
                end_line(line, {}, line.size());
            else
                end_line(line.substr(0, whole_bytes), line.substr(std::max(whole_bytes, line.size() - tail_bytes)),
                         line.size());
        } else {
            window_append(s.substr(0, n));
            end_line(head_, window_tail(), total_);
            window_reset();
        }
        s.remove_prefix(n + 1);
    }
}

void usage_meter::window_append(std::string_view s) {
    total_ += s.size();
    if (head_.size() < whole_bytes) {
        const std::size_t take = std::min(s.size(), whole_bytes - head_.size());
        append_capped(head_, s.substr(0, take), whole_bytes);
        s.remove_prefix(take);
    }
    if (s.empty()) return;
    if (s.size() >= tail_bytes) {
        tail_.clear();
        append_capped(tail_, s.substr(s.size() - tail_bytes), 2 * tail_bytes);
        return;
    }
    // Keep at most twice tail_bytes: trimming to tail_bytes once per tail_bytes appended.
    if (tail_.size() + s.size() > 2 * tail_bytes) tail_.erase(0, tail_.size() + s.size() - tail_bytes);
    append_capped(tail_, s, 2 * tail_bytes);
}

// The last tail_bytes past the head (fewer when the text is shorter): the same bytes however
// the text was split into pieces.
std::string_view usage_meter::window_tail() const {
    if (total_ <= whole_bytes) return {};
    const std::size_t want = std::min(tail_bytes, total_ - whole_bytes);
    return std::string_view(tail_).substr(tail_.size() - want);
}

void usage_meter::window_reset() {
    total_ = 0;
    head_.clear();
    if (head_.capacity() > 16 * 1024) release(head_);
    release(tail_);
}

void usage_meter::end_line(std::string_view head, std::string_view tail, std::size_t total) {
    std::string_view& last = total <= whole_bytes ? head : tail;
    if (!last.empty() && last.back() == '\r') last.remove_suffix(1);
    if (first_line_) {
        first_line_ = false;
        if (head.starts_with("\xEF\xBB\xBF")) head.remove_prefix(3); // a byte order mark (SSE allows one)
    }
    if (!head.starts_with("data:")) return; // event:, id:, retry:, comments, blank lines
    head.remove_prefix(5);
    if (total > whole_bytes) return read_fragments(head, tail);
    if (has_usage_object(head) || (seen_.model.empty() && has_model_string(head))) read_document(head);
}

bool usage_meter::read_document(std::string_view text) {
    unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    error_code ec;
    const json::value v = json::parse(json::string_view(text.data(), text.size()), ec, &mr, parse_options());
    if (ec) return false;
    usage_reader(seen_).document(v);
    return true;
}

void usage_meter::read_fragments(std::string_view head, std::string_view tail) {
    usage_reader reader(seen_);
    int parses = 0;
    // Usage: the last object under a usage key that states a count, in the tail, else the head.
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
    if (!usage_in(tail)) usage_in(head);

    // Model: Gemini's modelVersion (last), else the first "model" key (the top level's comes
    // before any content in Anthropic's and OpenAI's objects).
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
    if (!model_in(tail, true, false) && !model_in(head, true, false) && !model_in(head, false, true))
        model_in(tail, false, false);
}

usage_result usage_meter::finish() noexcept {
    if (finished_) return seen_;
    finished_ = true;
    try {
        if (mode_ == mode::sse && total_ > 0) {
            end_line(head_, window_tail(), total_); // an unterminated last line
        } else if (mode_ == mode::json && total_ > 0) {
            if (total_ > whole_bytes)
                read_fragments(head_, window_tail());
            else if (!read_document(head_))
                read_fragments(head_, {}); // truncated or not JSON: what complete objects say
        }
    } catch (...) {
        stop();
    }
    inflater_.reset();
    release(head_);
    release(tail_);
    total_ = 0;
    return seen_;
}

} // namespace clipal::worker
