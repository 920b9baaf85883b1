// Token usage read from a response body as it streams past (see usage_meter.hpp).
//
// Per byte the meter does: for SSE, one memchr for '\n' per line and, per `data:` line, a
// search for `"usage` (and for `"model` until a model is known); for JSON, a copy into the
// head window or the rolling tail. The lines that pass that check (Anthropic's message_start
// and message_delta, OpenAI's usage chunk, Responses' created/completed, every Gemini event)
// and a JSON body, once, at finish(), go through Boost.JSON's SAX parser (basic_parser) with
// a handler that keeps only the counts and model it is looking for: no DOM, no allocation.
#include "worker/usage_meter.hpp"

#include "shared/text.hpp"
#include "worker/json_key_scan.hpp"

#include <boost/json/basic_parser_impl.hpp>
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
// levels; the parser recurses once per level).
constexpr std::size_t max_depth = 256;
// Fragment reads parse at most this many candidate values per window (so a window full of
// `"usage":{` costs a bounded number of parses).
constexpr int max_fragment_parses = 8;

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

std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; }
std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return a > std::numeric_limits<std::uint64_t>::max() - b ? std::numeric_limits<std::uint64_t>::max() : a + b;
}

// The counts a member object's `usage` (Anthropic, OpenAI) and `usageMetadata` (Gemini) state;
// their field names differ, so one set holds both.
enum field : unsigned {
    prompt_tokens,
    input_tokens,
    prompt_cached, // prompt_tokens_details.cached_tokens
    input_cached,  // input_tokens_details.cached_tokens
    completion_tokens,
    output_tokens,
    cache_read_input_tokens,
    cache_creation_input_tokens,
    prompt_token_count,
    tool_use_prompt_token_count,
    cached_content_token_count,
    candidates_token_count,
    thoughts_token_count,
    field_count
};
constexpr unsigned usage_fields = (1U << prompt_token_count) - 1;
constexpr unsigned metadata_fields = ((1U << field_count) - 1) & ~usage_fields;

struct counts {
    std::uint64_t value[field_count];
    unsigned stated = 0; // bit per field

    std::optional<std::uint64_t> operator[](field f) const {
        if ((stated >> f & 1) == 0) return std::nullopt;
        return value[f];
    }
};

// A model name as read; size 0 when there is none (an empty name is none too).
struct model_text {
    std::size_t size = 0;
    char text[usage_meter::max_model_bytes];

    std::string_view view() const { return {text, size}; }
};

// Anthropic, OpenAI Chat Completions or Responses `usage`, told apart by field names; a
// stated field replaces what an earlier usage said. True when it stated a count.
bool apply_usage(const counts& u, token_usage& t) {
    bool any = false;
    auto set = [&any](std::optional<std::uint64_t>& to, std::uint64_t v) {
        to = v;
        any = true;
    };
    const auto prompt = u[prompt_tokens]; // Chat Completions
    const auto input = prompt ? prompt : u[input_tokens];
    // OpenAI counts cached tokens in the prompt; Anthropic's input_tokens excludes them.
    const auto cached = prompt ? u[prompt_cached] : u[input_cached];
    if (input) set(t.input, cached ? saturating_sub(*input, *cached) : *input);
    if (cached) set(t.cache_read, *cached);
    const auto completion = u[completion_tokens];
    if (const auto output = completion ? completion : u[output_tokens]) set(t.output, *output);
    if (const auto read = u[cache_read_input_tokens]) set(t.cache_read, *read);
    if (const auto write = u[cache_creation_input_tokens]) set(t.cache_write, *write);
    return any;
}

// Gemini `usageMetadata` (promptTokenCount includes cachedContentTokenCount).
bool apply_usage_metadata(const counts& u, token_usage& t) {
    bool any = false;
    auto set = [&any](std::optional<std::uint64_t>& to, std::uint64_t v) {
        to = v;
        any = true;
    };
    const auto prompt = u[prompt_token_count];
    const auto tool_prompt = u[tool_use_prompt_token_count];
    const auto cached = u[cached_content_token_count];
    if (prompt || tool_prompt)
        set(t.input, saturating_sub(saturating_add(prompt.value_or(0), tool_prompt.value_or(0)), cached.value_or(0)));
    if (cached) set(t.cache_read, *cached);
    const auto candidates = u[candidates_token_count];
    const auto thoughts = u[thoughts_token_count];
    if (candidates || thoughts) set(t.output, saturating_add(candidates.value_or(0), thoughts.value_or(0)));
    return any;
}

// The keys a reader looks for, by length first (one comparison per key read).
enum class name { other, usage, usage_metadata, model, version, message, response };

name member_key(std::string_view k, bool entry) {
    switch (k.size()) {
    case 5: return k == "usage" ? name::usage : k == "model" ? name::model : name::other;
    case 7: return entry && k == "message" ? name::message : name::other;
    case 8: return entry && k == "response" ? name::response : name::other;
    case 12: return k == "modelVersion" ? name::version : name::other;
    case 13: return k == "usageMetadata" ? name::usage_metadata : name::other;
    default: return name::other;
    }
}

// The count a key of `usage` names (prompt_cached, input_cached: its *_details object), or
// field_count.
field usage_key(std::string_view k) {
    switch (k.size()) {
    case 12: return k == "input_tokens" ? input_tokens : field_count;
    case 13: return k == "prompt_tokens" ? prompt_tokens : k == "output_tokens" ? output_tokens : field_count;
    case 17: return k == "completion_tokens" ? completion_tokens : field_count;
    case 20: return k == "input_tokens_details" ? input_cached : field_count;
    case 21: return k == "prompt_tokens_details" ? prompt_cached : field_count;
    case 23: return k == "cache_read_input_tokens" ? cache_read_input_tokens : field_count;
    case 27: return k == "cache_creation_input_tokens" ? cache_creation_input_tokens : field_count;
    default: return field_count;
    }
}

field usage_metadata_key(std::string_view k) {
    switch (k.size()) {
    case 16: return k == "promptTokenCount" ? prompt_token_count : field_count;
    case 18: return k == "thoughtsTokenCount" ? thoughts_token_count : field_count;
    case 20: return k == "candidatesTokenCount" ? candidates_token_count : field_count;
    case 23:
        return k == "toolUsePromptTokenCount"   ? tool_use_prompt_token_count
               : k == "cachedContentTokenCount" ? cached_content_token_count
                                                : field_count;
    default: return field_count;
    }
}

// Boost.JSON parse events in, the usage and model of one JSON text out. It follows only the
// paths where they live: the root object, or each object of a root array (an "entry"), and
// its `message` and `response` objects (the three "members" of an entry), each with `usage`,
// `usageMetadata`, `model` and `modelVersion`; in a usage object its counts and their
// `*_tokens_details.cached_tokens`. Everything else is skipped by depth alone. Values are
// kept in fixed slots per member: a repeated key clears its slot, so the last one is read,
// as Boost.JSON's DOM keeps the last of duplicate keys. An entry's members are applied in
// order when it ends (later fields win field by field); nothing is kept unless the whole
// text parses (see read_json).
class usage_handler {
public:
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);

    // What the text is: a whole line or body, or (fragments) the value of a `usage` key, a
    // `usageMetadata` key or a `model`/`modelVersion` key.
    enum class root { document, usage, usage_metadata, model };

    usage_handler(root r, const token_usage& so_far) : tokens_(so_far), root_(r) {
        for (member& m : members_) m.reset();
        switch (r) {
        case root::document: pending_ = {slot::document}; break;
        case root::usage: pending_ = {slot::usage}; break;
        case root::usage_metadata: pending_ = {slot::usage_metadata}; break;
        case root::model: pending_ = {slot::model}; break;
        }
    }

    // After a parse that succeeded: the counts so far with this text's applied, its model
    // (size 0: none), and whether it stated any count or model.
    const token_usage& tokens() const { return tokens_; }
    const model_text& model() const { return model_; }
    bool stated() const { return stated_; }

    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) {
        if (root_ != root::document) read_entry(); // a fragment's value is member 0 of no entry
        return true;
    }
    bool on_object_begin(error_code&) {
        if (depth_++ != open_) return true; // inside a value nobody reads
        const pending p = take();
        switch (p.what) {
        case slot::document:
        case slot::entry:
            for (member& m : members_) m.reset();
            push(role::entry);
            break;
        case slot::wrapper: push(role::wrapper, p.member); break;
        case slot::usage:
            members_[p.member].usage = true;
            push(role::usage, p.member);
            break;
        case slot::usage_metadata:
            members_[p.member].usage_metadata = true;
            push(role::usage_metadata, p.member);
            break;
        case slot::details: push(role::details, p.member, p.f); break;
        default: break;
        }
        return true;
    }
    bool on_object_end(std::size_t, error_code&) {
        if (depth_-- == open_ && frames_[--open_].r == role::entry) read_entry();
        return true;
    }
    bool on_array_begin(error_code&) {
        if (depth_++ != open_) return true;
        if (take().what == slot::document) push(role::list);
        return true;
    }
    bool on_array_end(std::size_t, error_code&) {
        if (depth_-- == open_) --open_;
        return true;
    }
    bool on_key_part(json::string_view s, std::size_t n, error_code&) {
        if (depth_ == open_ && n <= sizeof key_) std::memcpy(key_ + (n - s.size()), s.data(), s.size());
        return true;
    }
    bool on_key(json::string_view s, std::size_t n, error_code&) {
        if (depth_ != open_ || n > sizeof key_) return true;
        if (n == s.size()) return on_member({s.data(), n});
        std::memcpy(key_ + (n - s.size()), s.data(), s.size());
        return on_member({key_, n});
    }
    bool on_string_part(json::string_view s, std::size_t n, error_code&) {
        if (depth_ == open_) model_part(s, n);
        return true;
    }
    bool on_string(json::string_view s, std::size_t n, error_code&) {
        if (depth_ != open_) return true;
        if (model_text* t = model_part(s, n)) t->size = n <= sizeof t->text ? n : 0;
        take();
        return true;
    }
    bool on_number_part(json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t v, json::string_view, error_code&) {
        // A token count: a non-negative integer (12 or 12.0); anything else is not a count.
        if (depth_ == open_) count(v >= 0, static_cast<std::uint64_t>(v));
        return true;
    }
    bool on_uint64(std::uint64_t v, json::string_view, error_code&) {
        if (depth_ == open_) count(true, v);
        return true;
    }
    bool on_double(double v, json::string_view, error_code&) {
        if (depth_ != open_) return true;
        // 2^53: every integer below is exact in a double.
        const bool whole = v >= 0 && v <= 9007199254740992.0 && std::floor(v) == v;
        count(whole, whole ? static_cast<std::uint64_t>(v) : 0);
        return true;
    }
    bool on_bool(bool, error_code&) {
        if (depth_ == open_) take();
        return true;
    }
    bool on_null(error_code&) {
        if (depth_ == open_) take();
        return true;
    }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }

private:
    // What the next value is, when it is read at all.
    enum class slot { none, document, entry, wrapper, usage, usage_metadata, model, version, count, details };
    // An open object or array whose members are read.
    enum class role { list, entry, wrapper, usage, usage_metadata, details };
    struct pending {
        slot what = slot::none;
        unsigned member = 0; // 0: the entry itself, 1: its message, 2: its response
        field f = field_count;
    };
    struct frame {
        role r;
        unsigned member;
        field f; // details: the count its cached_tokens is
    };
    // What one member object says.
    struct member {
        bool usage, usage_metadata; // the key's value is an object (its counts are in `c`)
        counts c;
        model_text model, version;

        void reset() {
            usage = usage_metadata = false;
            c.stated = 0;
            model.size = version.size = 0;
        }
    };

    void push(role r, unsigned m = 0, field f = field_count) { frames_[open_++] = {r, m, f}; }

    // The next value's slot (each element of a root array is an entry).
    pending take() {
        if (open_ > 0 && frames_[open_ - 1].r == role::list) return {slot::entry};
        const pending p = pending_;
        pending_ = {};
        return p;
    }

    void count(bool valid, std::uint64_t v) {
        const pending p = take();
        if (p.what != slot::count || !valid) return;
        counts& c = members_[p.member].c;
        c.value[p.f] = v;
        c.stated |= 1U << p.f;
    }

    // Copies a part of a string that is a model name; the slot it goes to, or null.
    model_text* model_part(json::string_view s, std::size_t n) {
        if (pending_.what != slot::model && pending_.what != slot::version) return nullptr;
        if (open_ > 0 && frames_[open_ - 1].r == role::list) return nullptr;
        member& m = members_[pending_.member];
        model_text& t = pending_.what == slot::model ? m.model : m.version;
        if (n <= sizeof t.text) std::memcpy(t.text + (n - s.size()), s.data(), s.size());
        return &t;
    }

    void expect(slot what, unsigned m, field f = field_count) { pending_ = {what, m, f}; }
    void expect_count(unsigned m, field f) {
        members_[m].c.stated &= ~(1U << f);
        expect(slot::count, m, f);
    }

    bool on_member(std::string_view key) {
        const frame& at = frames_[open_ - 1];
        member& m = members_[at.member];
        switch (at.r) {
        case role::entry:
        case role::wrapper:
            switch (member_key(key, at.r == role::entry)) {
            case name::usage:
                m.usage = false;
                m.c.stated &= ~usage_fields;
                expect(slot::usage, at.member);
                break;
            case name::usage_metadata:
                m.usage_metadata = false;
                m.c.stated &= ~metadata_fields;
                expect(slot::usage_metadata, at.member);
                break;
            case name::model:
                m.model.size = 0;
                expect(slot::model, at.member);
                break;
            case name::version:
                m.version.size = 0;
                expect(slot::version, at.member);
                break;
            case name::message:
                members_[1].reset();
                expect(slot::wrapper, 1);
                break;
            case name::response:
                members_[2].reset();
                expect(slot::wrapper, 2);
                break;
            case name::other: break;
            }
            return true;
        case role::usage:
            if (const field f = usage_key(key); f == prompt_cached || f == input_cached) {
                m.c.stated &= ~(1U << f);
                expect(slot::details, at.member, f);
            } else if (f != field_count) {
                expect_count(at.member, f);
            }
            return true;
        case role::usage_metadata:
            if (const field f = usage_metadata_key(key); f != field_count) expect_count(at.member, f);
            return true;
        case role::details:
            if (key == "cached_tokens") expect_count(at.member, at.f);
            return true;
        case role::list: return true;
        }
        return true;
    }

    // An entry ended: its members, in order, as the response it is.
    void read_entry() {
        for (const member& m : members_) {
            if (m.usage && apply_usage(m.c, tokens_)) stated_ = true;
            if (m.usage_metadata && apply_usage_metadata(m.c, tokens_)) stated_ = true;
            for (const model_text* t : {&m.model, &m.version}) {
                if (t->size == 0) continue;
                model_.size = t->size;
                std::memcpy(model_.text, t->text, t->size);
                stated_ = true;
            }
        }
    }

    token_usage tokens_;
    model_text model_;
    bool stated_ = false;
    root root_;
    member members_[3];
    // The open containers that are read: list, entry, wrapper, usage, details at most.
    frame frames_[5];
    std::size_t open_ = 0;  // how many of the open containers are read (the outermost ones)
    std::size_t depth_ = 0; // how many containers are open
    pending pending_;
    char key_[32]; // a key given in parts (longer ones are none of the above)
};

json::parse_options parse_options() {
    json::parse_options o;
    o.max_depth = max_depth;
    return o;
}

// Reads the JSON text t[pos...] as `what` into `r`. With `whole`, the text must be one JSON
// value with white space around it only; without, it is the value at pos and what follows is
// ignored. False, and `r` is unchanged, when it does not parse (an incomplete value is an
// error: the text ends here); a fragment (not `whole`) must also state something.
bool read_json(std::string_view t, std::size_t pos, usage_handler::root what, bool whole, usage_result& r) {
    json::basic_parser<usage_handler> p(parse_options(), what, r.tokens);
    error_code ec;
    const std::size_t used = p.write_some(false, t.data() + pos, t.size() - pos, ec);
    if (ec || (whole ? used != t.size() - pos : !p.handler().stated())) return false;
    r.tokens = p.handler().tokens();
    if (p.handler().model().size != 0) r.model.assign(p.handler().model().view());
    return true;
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
    // Compared in place (a lower-cased copy of "application/json" is past the small-string
    // size: an allocation per response), the lower case first (what servers send).
    auto is = [](std::string_view value, std::string_view token) {
        return value == token || ascii_iequals(value, token);
    };
    const std::string_view media = trim_ows(content_type.substr(0, content_type.find(';')));
    if (is(media, "text/event-stream"))
        mode_ = mode::sse;
    else if (is(media, "application/json") || (media.size() > 5 && is(media.substr(media.size() - 5), "+json")))
        mode_ = mode::json;

    const std::string_view coding = trim_ows(content_encoding);
    if (coding.empty() || is(coding, "identity")) return;
    if (is(coding, "gzip") || is(coding, "x-gzip")) {
        inflater_ = std::make_unique<inflater>();
        inflater_->window_bits = 15 + 32; // gzip, or zlib mislabelled as gzip
    } else if (is(coding, "deflate")) {
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
        while (!s.empty() && is_json_ws(s.front())) s.remove_prefix(1);
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
    return read_json(text, 0, usage_handler::root::document, true, seen_);
}

void usage_meter::read_fragments(std::string_view head, std::string_view tail) {
    using root = usage_handler::root;
    int parses = 0;
    // Usage: the last object under a usage key that states a count, in the tail, else the head.
    auto usage_in = [&](std::string_view t) {
        for (std::size_t at = rfind_bytes(t, usage_stem, t.size()); at != npos && parses < max_fragment_parses;
             at = rfind_bytes(t, usage_stem, at)) {
            const auto k = key_at(t, at, usage_stem, usage_suffix);
            if (!k || t[k->value] != '{') continue;
            ++parses;
            if (read_json(t, k->value, k->long_form ? root::usage_metadata : root::usage, false, seen_)) return true;
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
            if (read_json(t, k->value, root::model, false, seen_)) return true;
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
