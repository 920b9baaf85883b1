#include "shared/usage_rows_codec.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

using namespace clipal;

namespace clipal {
// Rows in test failures, field by field.
void PrintTo(const usage_row_view& r, std::ostream* os) {
    const auto opt = [](const auto& v) { return v ? std::to_string(*v) : std::string("-"); };
    *os << "{time_ms " << r.time_ms << ", profile \"" << r.profile << "\", provider \"" << r.provider
        << "\", key_fingerprint \"" << r.key_fingerprint << "\", model \"" << r.model << "\", status " << r.status
        << ", attempts " << r.attempts << ", ttfb_ms " << opt(r.ttfb_ms) << ", duration_ms " << r.duration_ms
        << ", tokens " << opt(r.input_tokens) << "/" << opt(r.output_tokens) << "/" << opt(r.cache_read_tokens) << "/"
        << opt(r.cache_write_tokens) << "}";
}
} // namespace clipal

namespace {

constexpr auto i64_min = std::numeric_limits<std::int64_t>::min();
constexpr auto i64_max = std::numeric_limits<std::int64_t>::max();
constexpr auto u32_max = std::numeric_limits<std::uint32_t>::max();
constexpr auto u64_max = std::numeric_limits<std::uint64_t>::max();

usage_record row(std::int64_t time_ms, std::string provider = "anthropic", std::string model = "claude-sonnet-4",
                 int status = 200) {
    usage_record u;
    u.time_ms = time_ms;
    u.profile = "not sent";
    u.provider = std::move(provider);
    u.key_fingerprint = "sk-…abcd";
    u.model = std::move(model);
    u.status = status;
    u.attempts = 1;
    u.ttfb_ms = 120;
    u.duration_ms = 3400;
    u.input_tokens = 1000;
    u.output_tokens = 20;
    u.cache_read_tokens = 0;
    u.cache_write_tokens = 7;
    return u;
}

// Rows with every field and its extremes: absent optionals in every combination, times
// that jump across the whole int64 range, empty and non-ASCII text, a text in two fields.
std::vector<usage_record> varied_rows() {
    std::vector<usage_record> rows;
    const std::int64_t times[] = {1'700'000'000'123, 1'700'000'000'123, 1'700'000'000'100, i64_min, i64_max, 0, -1};
    for (std::size_t i = 0; i < 40; ++i) {
        auto u = row(times[i % std::size(times)], i % 3 ? "anthropic" : "backup ✓", i % 5 ? "m" : "");
        if (i & 1) u.ttfb_ms.reset();
        if (i & 2) u.input_tokens.reset();
        if (i & 4) u.output_tokens.reset();
        if (i & 8) u.cache_read_tokens.reset();
        if (i & 16) u.cache_write_tokens.reset();
        u.status = static_cast<int>(i * 97 % 1000);
        u.attempts = i == 7 ? u32_max : static_cast<std::uint32_t>(i);
        u.duration_ms = i == 9 ? u32_max : static_cast<std::uint32_t>(i * 1000);
        if (i == 11) u.ttfb_ms = u32_max;
        if (i == 12) u.input_tokens = u64_max;
        if (i == 13) u.key_fingerprint = "";
        if (i == 14) u.model = u.provider; // one text, two fields
        rows.push_back(std::move(u));
    }
    return rows;
}

std::string encode(const std::vector<usage_record>& rows) {
    usage_rows_encoder e;
    for (const auto& r : rows) EXPECT_TRUE(e.add(r));
    return e.take();
}

// What the decoder gives back for `r`: the same row, with the profile the caller named.
usage_row_view as_decoded(const usage_record& r, std::string_view profile) {
    usage_row_view v = r;
    v.profile = profile;
    return v;
}

void expect_rows(const usage_rows_decode_result& got, const std::vector<usage_record>& want, std::string_view profile) {
    ASSERT_TRUE(got.ok()) << got.error;
    ASSERT_EQ(got.rows.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got.rows[i], as_decoded(want[i], profile)) << "row " << i;
}

std::size_t occurrences(std::string_view hay, std::string_view needle) {
    std::size_t n = 0;
    for (auto at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
    return n;
}

// Hand-made blocks, byte by byte.
struct block {
    std::string bytes;

    static block header(std::uint16_t rows, std::uint8_t version = 1) {
        block b;
        b.bytes = {static_cast<char>(version), static_cast<char>(rows & 0xFF), static_cast<char>(rows >> 8)};
        return b;
    }
    block& u8(std::uint8_t v) {
        bytes.push_back(static_cast<char>(v));
        return *this;
    }
    block& varint(std::uint64_t v) {
        for (; v >= 0x80; v >>= 7) u8(static_cast<std::uint8_t>(v | 0x80));
        return u8(static_cast<std::uint8_t>(v));
    }
    block& text(std::string_view s) {
        varint(0).varint(s.size());
        bytes += s;
        return *this;
    }
    // flags, time 0, three texts, then status, attempts, duration as given.
    block& row(std::string_view provider = "p", std::string_view fingerprint = "k", std::string_view model = "m") {
        return u8(0).varint(0).text(provider).text(fingerprint).text(model);
    }
    block& numbers(std::uint64_t status = 200, std::uint64_t attempts = 1, std::uint64_t duration = 5) {
        return varint(status).varint(attempts).varint(duration);
    }
};

std::string decode_error(std::string_view bytes) {
    usage_rows_decoder d;
    const auto r = d.decode(bytes, "codex");
    EXPECT_FALSE(r.ok()) << "decoded " << r.rows.size() << " rows";
    EXPECT_TRUE(r.rows.empty());
    return r.error;
}

} // namespace

TEST(UsageRowsCodec, RoundTripsEveryFieldAndTakesTheProfileFromTheCaller) {
    const auto rows = varied_rows();
    const auto bytes = encode(rows);
    usage_rows_decoder d;
    expect_rows(d.decode(bytes, "codex"), rows, "codex");
    EXPECT_EQ(occurrences(bytes, "not sent"), 0u) << "the profile is not on the wire";
}

TEST(UsageRowsCodec, NoRowsIsAnEmptyBlock) {
    usage_rows_encoder e;
    EXPECT_EQ(e.take(), "");
    usage_rows_decoder d;
    const auto r = d.decode(std::string_view(), "codex");
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_TRUE(r.rows.empty());
}

TEST(UsageRowsCodec, ATextIsWrittenOnceABlockAndTheEncoderStartsAfreshAfterTake) {
    usage_rows_encoder e;
    std::vector<usage_record> rows;
    for (int i = 0; i < 200; ++i) {
        rows.push_back(row(1'700'000'000'000 + i, i % 2 ? "primary" : "backup", "claude-sonnet-4-20250514"));
        ASSERT_TRUE(e.add(rows.back()));
    }
    auto bytes = e.take();
    EXPECT_EQ(occurrences(bytes, "claude-sonnet-4-20250514"), 1u);
    EXPECT_EQ(occurrences(bytes, "primary"), 1u);
    EXPECT_LT(bytes.size(), 200u * 20) << "a row that repeats its texts is some 16 bytes";
    usage_rows_decoder d;
    expect_rows(d.decode(bytes, "claude-code"), rows, "claude-code");

    // The next block defines its texts again: it is read on its own.
    ASSERT_TRUE(e.add(rows[0]));
    bytes = e.take();
    EXPECT_EQ(occurrences(bytes, "claude-sonnet-4-20250514"), 1u);
    expect_rows(d.decode(bytes, "claude-code"), {rows[0]}, "claude-code");
}

TEST(UsageRowsCodec, ManyDifferentTextsRoundTrip) {
    // More distinct models than the encoder looks up, recurring out of order.
    std::vector<usage_record> rows;
    for (int i = 0; i < 600; ++i)
        rows.push_back(row(i, "p" + std::to_string(i % 7), "model-" + std::to_string(i * 37 % 150)));
    usage_rows_decoder d;
    const auto bytes = encode(rows);
    expect_rows(d.decode(bytes, "gemini"), rows, "gemini");
}

TEST(UsageRowsCodec, TheEncoderMakesTextValidAndBoundedAndClampsTheStatus) {
    auto dirty = row(1, std::string(300, 'p'), std::string("bad\xff\xc3(\xed\xa0\x80") + std::string(1000, 'y'));
    dirty.key_fingerprint = std::string(63, 'k') + "é"; // 65 bytes: cut before the é
    dirty.status = 12345;
    auto again = dirty; // cleans to the same texts
    again.status = -5;
    usage_rows_encoder e;
    ASSERT_TRUE(e.add(dirty));
    ASSERT_TRUE(e.add(again));
    const auto bytes = e.take();
    usage_rows_decoder d;
    const auto r = d.decode(bytes, "codex");
    ASSERT_TRUE(r.ok()) << r.error;
    ASSERT_EQ(r.rows.size(), 2u);
    const auto& got = r.rows[0];
    EXPECT_EQ(got.provider, std::string(max_usage_provider_size, 'p'));
    EXPECT_EQ(got.key_fingerprint, std::string(63, 'k'));
    EXPECT_LE(got.model.size(), max_usage_model_size);
    EXPECT_EQ(got.model.substr(0, 10), "bad\xEF\xBF\xBD\xEF\xBF\xBD(") << "U+FFFD for each stray byte";
    EXPECT_EQ(got.status, max_usage_status);
    EXPECT_EQ(r.rows[1].status, 0);
    EXPECT_EQ(r.rows[1].model, got.model);
    EXPECT_EQ(occurrences(bytes, "bad"), 1u) << "the cleaned text is found again";
}

TEST(UsageRowsCodec, TheEncoderStopsAtItsRowsAndAtTheBlockSize) {
    usage_rows_encoder three(3);
    for (int i = 0; i < 3; ++i) EXPECT_TRUE(three.add(row(i)));
    EXPECT_FALSE(three.add(row(3)));
    EXPECT_EQ(three.rows(), 3u);
    usage_rows_decoder d;
    const auto first = three.take();
    EXPECT_EQ(d.decode(first, "codex").rows.size(), 3u);
    EXPECT_TRUE(three.add(row(4))) << "a new block after take";

    // Rows of texts at their bounds, each new: the block fills by size before its row count.
    usage_rows_encoder e;
    std::size_t n = 0;
    for (;; ++n) {
        auto u = row(static_cast<std::int64_t>(n));
        u.provider = std::string(max_usage_provider_size - 8, 'p') + std::to_string(10'000'000 + n);
        u.key_fingerprint = std::string(max_usage_fingerprint_size - 8, 'k') + std::to_string(10'000'000 + n);
        u.model = std::string(max_usage_model_size - 8, 'm') + std::to_string(10'000'000 + n);
        u.input_tokens = u.output_tokens = u.cache_read_tokens = u.cache_write_tokens = u64_max;
        u.time_ms = n % 2 ? i64_min : i64_max;
        if (!e.add(u)) break;
    }
    EXPECT_GT(n, 100u);
    EXPECT_EQ(e.rows(), n);
    const auto bytes = e.take();
    EXPECT_LE(bytes.size(), max_usage_rows_block_size);
    EXPECT_GT(bytes.size(), max_usage_rows_block_size - 1024) << "it stops near the bound, not far below";
    const auto r = d.decode(bytes, "codex");
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.rows.size(), n);
}

TEST(UsageRowsCodec, EveryTruncationIsAnError) {
    const auto bytes = encode(varied_rows());
    for (std::size_t n = 1; n < bytes.size(); ++n) {
        const auto error = decode_error(std::string_view(bytes).substr(0, n));
        EXPECT_EQ(error.rfind("usage rows: ", 0), 0u) << error;
    }
}

TEST(UsageRowsCodec, HostileBlocksAreClearErrors) {
    const std::string over_bound(max_usage_provider_size + 1, 'p');
    struct bad_case {
        std::string bytes;
        std::string error; // a part of the expected message
    };
    const std::vector<bad_case> cases = {
        {"\x01", "a block of 1 bytes ends inside its 3-byte header"},
        {block::header(1, 2).row().numbers().bytes, "format version 2 is not supported (this build reads 1)"},
        {block::header(8193).bytes + std::string(100'000, '\0'), "8193 rows, more than 8192"},
        {block::header(65535).bytes, "65535 rows, more than 8192"},
        {block::header(100).row().numbers().bytes, "100 rows cannot fit in the 15 bytes after the header"},
        {std::string(max_usage_rows_block_size + 1, '\x01'), "larger than 163840"},
        {block::header(1).u8(0x20).varint(0).text("p").text("k").text("m").numbers().bytes,
         "row 0 (byte 3): flags 0x20 has bits this build does not know"},
        {block::header(1).u8(0).varint(0).text(over_bound).text("k").text("m").numbers().bytes,
         "row 0 (byte 3): provider is 257 bytes, more than 256"},
        {block::header(1).u8(0).varint(0).varint(0).varint(u64_max).u8(0).u8(0).u8(0).u8(0).u8(0).bytes,
         "provider is 18446744073709551615 bytes, more than 256"},
        {block::header(1).u8(0).varint(0).varint(0).varint(200).u8(0).u8(0).u8(0).u8(0).u8(0).bytes,
         "provider is 200 bytes, and the block ends after 5"},
        {block::header(1).u8(0).varint(0).varint(5).varint(1).varint(1).numbers().bytes,
         "provider refers to text 5, and the block has defined 0"},
        {block::header(1).u8(0).varint(0).text("p").varint(2).varint(1).numbers().bytes,
         "key_fingerprint refers to text 2, and the block has defined 1"},
        {block::header(1).u8(0).varint(0).text(std::string(100, 'x')).varint(1).varint(1).numbers().bytes,
         "key_fingerprint refers to text 1 of 100 bytes, more than the field holds"},
        {block::header(1).u8(0).varint(0).text("p").text("k").text("\xc0\xaf").numbers().bytes, "model is not UTF-8"},
        {block::header(1).row().numbers(1000).bytes, "status is 1000, more than 999"},
        {block::header(1).row().numbers(200, 4294967296).bytes, "attempts is 4294967296, more than 4294967295"},
        {block::header(1).row().numbers(200, 1, std::uint64_t{1} << 40).bytes, "duration_ms is 1099511627776"},
        {block::header(1)
             .u8(1)
             .varint(0)
             .text("p")
             .text("k")
             .text("m")
             .varint(200)
             .varint(1)
             .varint(u32_max + 1ull)
             .varint(5)
             .bytes,
         "ttfb_ms is 4294967296"},
        {block::header(1).u8(0).bytes + std::string(10, '\xff') + std::string(20, '\0'),
         "time_ms is more than 2^64-1 (or longer than 10 bytes)"},
        {block::header(1).u8(0).bytes + std::string(9, '\xff') + "\x02" + std::string(20, '\0'),
         "time_ms is more than 2^64-1"},
        {block::header(1).row().numbers().u8(2).bytes, "1 bytes after the last of its 1 rows"},
        {block::header(1).u8(2).varint(0).text("p").text("k").text("m").numbers().bytes,
         "input_tokens is cut off: the block ends inside it"},
        {block::header(2).row().numbers().u8(0).varint(0).text("p").text("k").text("m").numbers().bytes.substr(0, 32),
         "row 1 (byte 18): duration_ms is cut off"},
    };
    for (const auto& c : cases) {
        const auto error = decode_error(c.bytes);
        EXPECT_NE(error.find(c.error), std::string::npos)
            << "bytes: " << c.bytes.substr(0, 60) << "\nerror: " << error << "\nwanted: " << c.error;
    }
    // The hand-made blocks are right but for their one fault.
    usage_rows_decoder d;
    const auto good = block::header(1).row().numbers().bytes;
    ASSERT_TRUE(d.decode(good, "codex").ok());
    // Every flag; time -2 (zigzag 3); one text for all three fields; status 0, attempts 0,
    // ttfb 5, duration 9, tokens 1 to 4.
    const auto all = block::header(1)
                         .u8(31)
                         .varint(3)
                         .text("p")
                         .varint(1)
                         .varint(1)
                         .varint(0)
                         .varint(0)
                         .varint(5)
                         .varint(9)
                         .varint(1)
                         .varint(2)
                         .varint(3)
                         .varint(4)
                         .bytes;
    const auto r = d.decode(all, "codex");
    ASSERT_TRUE(r.ok()) << r.error;
    usage_row_view want;
    want.time_ms = -2;
    want.profile = "codex";
    want.provider = want.key_fingerprint = want.model = "p";
    want.ttfb_ms = 5;
    want.duration_ms = 9;
    want.input_tokens = 1;
    want.output_tokens = 2;
    want.cache_read_tokens = 3;
    want.cache_write_tokens = 4;
    EXPECT_EQ(r.rows[0], want);
}

TEST(UsageRowsCodec, MutatedBlocksAreRowsOrErrorsAndReencodeToTheSameRows) {
    const auto base = encode(varied_rows());
    std::mt19937 rng(15);
    usage_rows_decoder d, again;
    int decoded = 0;
    for (int n = 0; n < 5000; ++n) {
        std::string s = base;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits && !s.empty(); ++e) {
            const std::size_t at = rng() % s.size();
            switch (rng() % 5) {
            case 0: s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8))); break;
            case 1: s[at] = static_cast<char>(rng() % 256); break;
            case 2: s.erase(at, 1 + rng() % 4); break;
            case 3: s.insert(at, 1, static_cast<char>(rng() % 256)); break;
            case 4: s.resize(at); break;
            }
        }
        const auto r = d.decode(s, "codex");
        if (!r.ok()) {
            EXPECT_TRUE(r.rows.empty());
            EXPECT_EQ(r.error.rfind("usage rows: ", 0), 0u) << r.error;
            continue;
        }
        ++decoded;
        usage_rows_encoder e;
        for (const auto& row : r.rows) ASSERT_TRUE(e.add(row));
        const auto reencoded = e.take();
        const auto back = again.decode(reencoded, "codex");
        ASSERT_TRUE(back.ok()) << back.error;
        ASSERT_EQ(back.rows.size(), r.rows.size());
        for (std::size_t i = 0; i < r.rows.size(); ++i) EXPECT_EQ(back.rows[i], r.rows[i]);
    }
    EXPECT_GT(decoded, 0);
}
