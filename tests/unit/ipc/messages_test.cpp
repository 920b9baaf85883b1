#include "ipc/messages.hpp"

#include "fuzz/ipc_samples.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

using namespace clipal::ipc;
using clipal::test::sample_messages;

namespace {

// Decodes a frame produced by encode(), checking the framing on the way.
message_decode_result decode_frame_bytes(const bytes& f) {
    const auto r = decode_frame(f);
    EXPECT_EQ(r.status, decode_status::frame);
    EXPECT_EQ(r.consumed, f.size());
    return decode(r.type, r.payload);
}

bytes payload_of(const message& m) {
    const auto e = encode(m);
    return bytes(e.frame.begin() + frame_header_size, e.frame.end());
}

std::uint16_t wire(message_type t) { return static_cast<std::uint16_t>(t); }

} // namespace

TEST(Messages, EveryMessageRoundTrips) {
    for (const auto& m : sample_messages()) {
        const auto e = encode(m);
        ASSERT_TRUE(e) << to_string(type_of(m)) << ": " << e.reason;
        const auto d = decode_frame_bytes(e.frame);
        ASSERT_TRUE(d) << to_string(type_of(m)) << ": " << d.reason;
        EXPECT_EQ(*d.value, m) << to_string(type_of(m));
    }
}

TEST(Messages, SamplesCoverEveryType) {
    std::set<message_type> seen;
    for (const auto& m : sample_messages()) seen.insert(type_of(m));
    for (std::uint16_t t = 0; t < 100; ++t) {
        if (is_known_type(t)) {
            EXPECT_TRUE(seen.count(static_cast<message_type>(t))) << t;
        }
    }
}

TEST(Messages, TruncatedPayloadIsMalformedAndNamesTheField) {
    for (const auto& m : sample_messages()) {
        const auto p = payload_of(m);
        for (std::size_t n = 0; n < p.size(); ++n) {
            const auto d = decode(wire(type_of(m)), byte_view(p).first(n));
            ASSERT_FALSE(d) << to_string(type_of(m)) << " cut at " << n;
            EXPECT_EQ(d.error, errc::malformed_payload);
            EXPECT_NE(d.reason.find(to_string(type_of(m))), std::string::npos) << d.reason;
        }
    }
}

TEST(Messages, TrailingBytesAreMalformed) {
    for (const auto& m : sample_messages()) {
        auto p = payload_of(m);
        p.push_back(0);
        const auto d = decode(wire(type_of(m)), p);
        ASSERT_FALSE(d) << to_string(type_of(m));
        EXPECT_EQ(d.error, errc::malformed_payload);
        EXPECT_NE(d.reason.find("unexpected bytes"), std::string::npos) << d.reason;
    }
}

TEST(Messages, StringLengthIsNeverTrusted) {
    // status_reply: u64 id, then a u32 length that claims 4 GiB of JSON.
    bytes p{1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, '{', '}'};
    const auto d = decode(wire(message_type::status_reply), p);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error, errc::malformed_payload);
    EXPECT_NE(d.reason.find("json"), std::string::npos) << d.reason;

    // hello: a profile name longer than its bound, even though the bytes are present.
    bytes h{1, 0, 65, 0, 0, 0};
    h.resize(h.size() + 65, 'a');
    const auto dh = decode(wire(message_type::hello), h);
    ASSERT_FALSE(dh);
    EXPECT_NE(dh.reason.find("profile declares 65 bytes, the limit is 64"), std::string::npos) << dh.reason;
}

TEST(Messages, UnknownTypeIsReportedAsUnknownNotMalformed) {
    const auto d = decode(999, bytes{1, 2, 3});
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error, errc::unknown_message_type);
    EXPECT_FALSE(is_known_type(0));
    EXPECT_FALSE(is_known_type(0xFFFF));
}

TEST(Messages, HelloWithAnotherProtocolVersionIsAnError) {
    hello h;
    h.protocol_version = protocol_version + 1;
    h.profile = "codex";
    const auto d = decode(wire(message_type::hello), payload_of(h));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error, errc::bad_version);
    EXPECT_NE(d.reason.find("version 2"), std::string::npos) << d.reason;
}

TEST(Messages, InvalidLogLevelAndBooleanAreMalformed) {
    auto l = payload_of(log_record{});
    l[0] = 4;
    const auto dl = decode(wire(message_type::log_record), l);
    ASSERT_FALSE(dl);
    EXPECT_NE(dl.reason.find("level 4"), std::string::npos) << dl.reason;

    auto a = payload_of(config_ack{});
    a[8] = 2;
    const auto da = decode(wire(message_type::config_ack), a);
    ASSERT_FALSE(da);
    EXPECT_NE(da.reason.find("ok is 2"), std::string::npos) << da.reason;
}

TEST(Messages, EncodeRefusesFieldsBeyondTheirBounds) {
    handoff h;
    h.initial_bytes.assign(max_handoff_bytes + 1, 'x');
    auto e = encode(h);
    EXPECT_FALSE(e);
    EXPECT_EQ(e.error, errc::field_too_large);
    EXPECT_NE(e.reason.find("handoff.initial_bytes"), std::string::npos) << e.reason;

    h.initial_bytes.assign(max_handoff_bytes, 'x');
    EXPECT_TRUE(encode(h));

    config_push c;
    c.config_json.assign(max_payload_size, '{');
    e = encode(c);
    EXPECT_FALSE(e);
    EXPECT_NE(e.reason.find("config_push payload"), std::string::npos) << e.reason;

    // The fullest block of usage rows a worker makes, beside a report's JSON, is one frame.
    worker_report r{std::string(64 * 1024, ' '), std::string(max_report_rows_size + 1, 'x')};
    e = encode(r);
    EXPECT_FALSE(e);
    EXPECT_NE(e.reason.find("worker_report.rows"), std::string::npos) << e.reason;
    r.rows.pop_back();
    EXPECT_TRUE(encode(r)) << encode(r).reason;
}

TEST(Messages, OnlyHandoffsCarryDescriptors) {
    for (const auto& m : sample_messages()) {
        const auto t = type_of(m);
        EXPECT_EQ(carries_descriptor(t), t == message_type::handoff || t == message_type::handoff_back);
    }
}

TEST(Messages, LongLogMessageIsCutOnAUtf8Boundary) {
    clipal::log_record r;
    r.tag = "codex";
    // Placed so that the cut point falls on the second byte of an "é".
    r.message = std::string(max_log_message_size - 21, 'a');
    for (int i = 0; i < 20; ++i) r.message += "\xC3\xA9"; // é, two bytes each
    const auto w = to_wire(r);
    EXPECT_LE(w.message.size(), max_log_message_size);
    EXPECT_NE(w.message.find("[truncated]"), std::string::npos);
    // The byte before the marker must not be the first half of "é".
    const auto cut = w.message.find("\xE2\x80\xA6[truncated]");
    ASSERT_NE(cut, std::string::npos);
    EXPECT_NE(static_cast<unsigned char>(w.message[cut - 1]), 0xC3);
    EXPECT_TRUE(encode(w));
}

TEST(Messages, LogRecordKeepsTimeLevelTagAndText) {
    clipal::log_record r;
    r.level = clipal::log_level::warn;
    r.time = clipal::clock::time_point(std::chrono::seconds(1704110406) + std::chrono::microseconds(5));
    r.tag = "gemini";
    r.message = "switching";
    const auto back = from_wire(to_wire(r));
    EXPECT_EQ(back.level, r.level);
    EXPECT_EQ(back.time, r.time);
    EXPECT_EQ(back.tag, r.tag);
    EXPECT_EQ(back.message, r.message);
}

// The checked-in fuzz seeds must be what this build encodes; regenerate them with
// `fuzz_ipc_write_corpus tests/fuzz/corpus/ipc` after a format change.
TEST(Messages, FuzzSeedCorpusMatchesTheCurrentEncoding) {
    const auto samples = sample_messages();
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const auto name = std::to_string(i) + "-" + std::string(to_string(type_of(samples[i]))) + ".bin";
        std::ifstream in(std::filesystem::path(CLIPAL_IPC_CORPUS_DIR) / name, std::ios::binary);
        ASSERT_TRUE(in) << name;
        const bytes file{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        EXPECT_EQ(file, encode(samples[i]).frame) << name;
    }
}
