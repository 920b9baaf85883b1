#include "shared/usage_rows_codec.hpp"

#include "shared/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace clipal {
namespace {

constexpr std::uint64_t u32_max = std::numeric_limits<std::uint32_t>::max();

constexpr std::size_t varint_size(std::uint64_t v) {
    std::size_t n = 1;
    for (; v >= 0x80; v >>= 7) ++n;
    return n;
}
constexpr std::size_t max_varint_size = varint_size(std::numeric_limits<std::uint64_t>::max());
static_assert(max_varint_size == 10);

constexpr std::size_t header_size = 3;
// A new text (reference 0, length, bytes) is the longest a text field gets; a reference
// to an entry takes at most 3 bytes (a block defines fewer than 3 × 8192 < 2^21 entries).
constexpr std::size_t max_new_text_size(std::size_t limit) { return 1 + varint_size(limit) + limit; }
constexpr std::size_t max_row_size = 1 + max_varint_size + max_new_text_size(max_usage_provider_size) +
                                     max_new_text_size(max_usage_fingerprint_size) +
                                     max_new_text_size(max_usage_model_size) + varint_size(max_usage_status) +
                                     3 * varint_size(u32_max) + 4 * max_varint_size;
// The fewest bytes a row takes: flags, time, three references, status, attempts, duration.
constexpr std::size_t min_row_size = 8;
static_assert(header_size + max_report_usage_rows * min_row_size <= max_usage_rows_block_size);
// How many of a block's entries a text is looked up in after its field's previous one:
// a handful in practice; the bound keeps a block of all-different model names linear.
constexpr std::size_t entries_searched = 64;

enum flag : std::uint8_t {
    has_ttfb = 1,
    has_input = 2,
    has_output = 4,
    has_cache_read = 8,
    has_cache_write = 16,
};
constexpr std::uint8_t known_flags = 31;

inline std::uint8_t* put_varint(std::uint8_t* p, std::uint64_t v) {
    for (; v >= 0x80; v >>= 7) *p++ = static_cast<std::uint8_t>(v | 0x80);
    *p++ = static_cast<std::uint8_t>(v);
    return p;
}

std::uint64_t zigzag(std::int64_t v) {
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) { return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

constexpr std::string_view field_names[] = {"provider", "key_fingerprint", "model"};

} // namespace

usage_rows_encoder::usage_rows_encoder(std::size_t max_rows)
    : max_rows_(std::clamp(max_rows, std::size_t{1}, max_report_usage_rows)) {}

std::uint8_t* usage_rows_encoder::put_text(const std::uint8_t* row, std::uint8_t* p, std::string_view text,
                                           std::size_t limit, std::size_t field) {
    // Only entries already in out_ can be compared: one this row defined is still in the
    // caller's buffer (the next row finds it).
    const auto find = [&](std::string_view t) -> std::uint32_t {
        const auto same = [&](std::uint32_t k) {
            const entry& e = entries_[k - 1];
            return e.at + e.size <= out_.size() && std::string_view(out_.data() + e.at, e.size) == t;
        };
        if (last_[field] != 0 && same(last_[field])) return last_[field];
        const auto n = static_cast<std::uint32_t>(std::min(entries_.size(), entries_searched));
        for (std::uint32_t k = 1; k <= n; ++k)
            if (same(k)) return k;
        return 0;
    };
    std::uint32_t k = find(text);
    std::string cleaned;
    if (k == 0 && (text.size() > limit || !is_utf8(text))) {
        cleaned = clean_utf8(text, limit);
        text = cleaned;
        k = find(text);
    }
    if (k != 0) {
        last_[field] = k;
        return put_varint(p, k);
    }
    *p++ = 0;
    p = put_varint(p, text.size());
    const auto at = out_.size() + static_cast<std::size_t>(p - row);
    std::copy_n(text.data(), text.size(), p);
    entries_.push_back({static_cast<std::uint32_t>(at), static_cast<std::uint32_t>(text.size())});
    last_[field] = static_cast<std::uint32_t>(entries_.size());
    return p + text.size();
}

bool usage_rows_encoder::add(const usage_row_view& r) {
    if (rows_ >= max_rows_) return false;
    if (out_.empty()) {
        // Sized for rows of ~20 bytes, what repeated texts and small counts come to.
        out_.reserve(header_size + std::min(max_rows_, std::size_t{256}) * 20);
        entries_.reserve(8);
        out_.append(header_size, '\0');
        out_[0] = static_cast<char>(usage_rows_version);
    }
    if (out_.size() + max_row_size > max_usage_rows_block_size) return false;

    std::uint8_t row[max_row_size];
    std::uint8_t flags = 0;
    if (r.ttfb_ms) flags |= has_ttfb;
    if (r.input_tokens) flags |= has_input;
    if (r.output_tokens) flags |= has_output;
    if (r.cache_read_tokens) flags |= has_cache_read;
    if (r.cache_write_tokens) flags |= has_cache_write;
    std::uint8_t* p = row;
    *p++ = flags;
    p = put_varint(p, zigzag(static_cast<std::int64_t>(static_cast<std::uint64_t>(r.time_ms) -
                                                       static_cast<std::uint64_t>(previous_time_))));
    previous_time_ = r.time_ms;
    // Mostly the previous row's texts again: that is checked here, anything else in put_text.
    const auto text = [&](std::string_view t, std::size_t limit, std::size_t field) {
        const std::uint32_t k = last_[field]; // defined by an earlier row, so already in out_
        if (k != 0 && std::string_view(out_.data() + entries_[k - 1].at, entries_[k - 1].size) == t)
            return put_varint(p, k);
        return put_text(row, p, t, limit, field);
    };
    p = text(r.provider, max_usage_provider_size, 0);
    p = text(r.key_fingerprint, max_usage_fingerprint_size, 1);
    p = text(r.model, max_usage_model_size, 2);
    p = put_varint(p, static_cast<std::uint64_t>(std::clamp(r.status, 0, max_usage_status)));
    p = put_varint(p, r.attempts);
    if (r.ttfb_ms) p = put_varint(p, *r.ttfb_ms);
    p = put_varint(p, r.duration_ms);
    if (r.input_tokens) p = put_varint(p, *r.input_tokens);
    if (r.output_tokens) p = put_varint(p, *r.output_tokens);
    if (r.cache_read_tokens) p = put_varint(p, *r.cache_read_tokens);
    if (r.cache_write_tokens) p = put_varint(p, *r.cache_write_tokens);
    out_.append(reinterpret_cast<const char*>(row), static_cast<std::size_t>(p - row));
    ++rows_;
    return true;
}

std::string usage_rows_encoder::take() {
    std::string block;
    if (rows_ != 0) {
        out_[1] = static_cast<char>(rows_ & 0xFF);
        out_[2] = static_cast<char>(rows_ >> 8);
        block = std::move(out_);
    }
    out_ = std::string();
    entries_.clear();
    last_ = {};
    rows_ = 0;
    previous_time_ = 0;
    return block;
}

namespace {

// Reads one block; the first problem ends it, with the row and byte where it was found.
// The checks are inline and cheap; only a failure builds text (fail, out of line).
class block_reader {
public:
    // Starts after the header.
    explicit block_reader(std::string_view block)
        : begin_(reinterpret_cast<const std::uint8_t*>(block.data())),
          p_(begin_ + header_size),
          end_(begin_ + block.size()) {}

    std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }
    const std::string& error() const { return error_; }
    void start_row(std::size_t row) {
        row_ = row;
        row_start_ = static_cast<std::size_t>(p_ - begin_);
    }

    // `what` is a format string of the numbers a and b.
    [[gnu::cold, gnu::noinline]] bool fail(std::string_view field, std::string_view what, std::uint64_t a = 0,
                                           std::uint64_t b = 0) {
        error_ = fmt::format("usage rows: row {} (byte {}): {} {}", row_, row_start_, field,
                             fmt::format(fmt::runtime(what), a, b));
        return false;
    }

    bool byte(std::uint8_t& out, std::string_view field) {
        if (p_ == end_) return fail(field, "is missing: the block ends");
        out = *p_++;
        return true;
    }

    bool varint(std::uint64_t& out, std::string_view field) {
        if (p_ != end_ && *p_ < 0x80) {
            out = *p_++;
            return true;
        }
        std::uint64_t v = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (p_ == end_) return fail(field, "is cut off: the block ends inside it");
            const std::uint8_t b = *p_++;
            if (shift == 63 && b > 1) return fail(field, "is more than 2^64-1 (or longer than 10 bytes)");
            v |= std::uint64_t{b & 0x7Fu} << shift;
            if ((b & 0x80) == 0) break;
        }
        out = v;
        return true;
    }

    bool bounded(std::uint64_t& out, std::uint64_t max, std::string_view field) {
        if (!varint(out, field)) return false;
        if (out > max) return fail(field, "is {0}, more than {1}", out, max);
        return true;
    }

    bool text(std::string_view& out, std::size_t limit, std::string_view field,
              std::vector<std::string_view>& entries) {
        std::uint64_t ref = 0;
        if (!varint(ref, field)) return false;
        if (ref != 0) {
            if (ref > entries.size())
                return fail(field, "refers to text {0}, and the block has defined {1}", ref, entries.size());
            out = entries[ref - 1];
            if (out.size() > limit)
                return fail(field, "refers to text {0} of {1} bytes, more than the field holds", ref, out.size());
            return true;
        }
        std::uint64_t size = 0;
        if (!varint(size, field)) return false;
        if (size > limit) return fail(field, "is {0} bytes, more than {1}", size, limit);
        if (size > left()) return fail(field, "is {0} bytes, and the block ends after {1}", size, left());
        out = std::string_view(reinterpret_cast<const char*>(p_), size);
        if (!is_utf8(out)) return fail(field, "is not UTF-8");
        p_ += size;
        entries.push_back(out);
        return true;
    }

private:
    const std::uint8_t* begin_;
    const std::uint8_t* p_;
    const std::uint8_t* end_;
    std::size_t row_ = 0;
    std::size_t row_start_ = 0;
    std::string error_;
};

} // namespace

usage_rows_decode_result usage_rows_decoder::decode(std::string_view block, std::string_view profile) {
    rows_.clear();
    entries_.clear();
    usage_rows_decode_result result;
    if (block.empty()) return result;
    const auto fail = [&](std::string error) {
        rows_.clear();
        result.error = std::move(error);
        return result;
    };
    if (block.size() > max_usage_rows_block_size)
        return fail(
            fmt::format("usage rows: a block of {} bytes is larger than {}", block.size(), max_usage_rows_block_size));
    if (block.size() < header_size)
        return fail(
            fmt::format("usage rows: a block of {} bytes ends inside its {}-byte header", block.size(), header_size));
    const auto version = static_cast<std::uint8_t>(block[0]);
    if (version != usage_rows_version)
        return fail(fmt::format("usage rows: format version {} is not supported (this build reads {})", version,
                                usage_rows_version));
    const std::size_t count =
        static_cast<std::uint8_t>(block[1]) + std::size_t{256} * static_cast<std::uint8_t>(block[2]);
    if (count > max_report_usage_rows)
        return fail(fmt::format("usage rows: {} rows, more than {}", count, max_report_usage_rows));
    if (count * min_row_size > block.size() - header_size)
        return fail(fmt::format("usage rows: {} rows cannot fit in the {} bytes after the header", count,
                                block.size() - header_size));

    block_reader in(block);
    rows_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
        in.start_row(i);
        usage_row_view& r = rows_.emplace_back();
        r.profile = profile;
        std::uint8_t flags = 0;
        std::uint64_t time = 0, status = 0, attempts = 0, duration = 0, ttfb = 0;
        if (!in.byte(flags, "flags")) return fail(in.error());
        if ((flags & ~known_flags) != 0) {
            in.fail("flags", "{0:#04x} has bits this build does not know", flags);
            return fail(in.error());
        }
        if (!in.varint(time, "time_ms") || !in.text(r.provider, max_usage_provider_size, field_names[0], entries_) ||
            !in.text(r.key_fingerprint, max_usage_fingerprint_size, field_names[1], entries_) ||
            !in.text(r.model, max_usage_model_size, field_names[2], entries_) ||
            !in.bounded(status, max_usage_status, "status") || !in.bounded(attempts, u32_max, "attempts") ||
            ((flags & has_ttfb) != 0 && !in.bounded(ttfb, u32_max, "ttfb_ms")) ||
            !in.bounded(duration, u32_max, "duration_ms"))
            return fail(in.error());
        const std::int64_t previous = i == 0 ? 0 : rows_[i - 1].time_ms;
        r.time_ms = static_cast<std::int64_t>(static_cast<std::uint64_t>(previous) +
                                              static_cast<std::uint64_t>(unzigzag(time)));
        r.status = static_cast<int>(status);
        r.attempts = static_cast<std::uint32_t>(attempts);
        if ((flags & has_ttfb) != 0) r.ttfb_ms = static_cast<std::uint32_t>(ttfb);
        r.duration_ms = static_cast<std::uint32_t>(duration);
        const auto tokens = [&](std::uint8_t bit, std::optional<std::uint64_t>& out, std::string_view name) {
            std::uint64_t n = 0;
            if ((flags & bit) == 0) return true;
            if (!in.varint(n, name)) return false;
            out = n;
            return true;
        };
        if (!tokens(has_input, r.input_tokens, "input_tokens") ||
            !tokens(has_output, r.output_tokens, "output_tokens") ||
            !tokens(has_cache_read, r.cache_read_tokens, "cache_read_tokens") ||
            !tokens(has_cache_write, r.cache_write_tokens, "cache_write_tokens"))
            return fail(in.error());
    }
    if (in.left() != 0)
        return fail(fmt::format("usage rows: {} bytes after the last of its {} rows", in.left(), count));
    result.rows = rows_;
    return result;
}

} // namespace clipal
