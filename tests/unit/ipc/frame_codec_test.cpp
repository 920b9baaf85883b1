#include "ipc/frame_codec.hpp"

#include <gtest/gtest.h>

using namespace clipal::ipc;

namespace {

bytes frame_of(std::uint16_t type, std::string_view payload) {
    return *encode_frame(type, byte_view(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
}

void put_u32(bytes& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

} // namespace

TEST(FrameCodec, HeaderIsLittleEndianWithMagicVersionTypeLength) {
    const auto f = frame_of(0x0102, "abc");
    const bytes expected{'C', 'L', 'P', 'I', 1, 0, 0x02, 0x01, 3, 0, 0, 0, 'a', 'b', 'c'};
    EXPECT_EQ(f, expected);
}

TEST(FrameCodec, DecodesACompleteFrame) {
    const auto f = frame_of(5, "payload");
    const auto r = decode_frame(f);
    ASSERT_EQ(r.status, decode_status::frame);
    EXPECT_EQ(r.type, 5);
    EXPECT_EQ(r.consumed, f.size());
    EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), "payload");
}

TEST(FrameCodec, EmptyPayloadIsAFrame) {
    const auto f = frame_of(13, "");
    const auto r = decode_frame(f);
    ASSERT_EQ(r.status, decode_status::frame);
    EXPECT_EQ(r.consumed, frame_header_size);
    EXPECT_TRUE(r.payload.empty());
}

TEST(FrameCodec, EveryPrefixNeedsMoreAndSaysHowMuch) {
    const auto f = frame_of(2, "0123456789");
    for (std::size_t n = 0; n < f.size(); ++n) {
        const auto r = decode_frame(byte_view(f).first(n));
        ASSERT_EQ(r.status, decode_status::need_more) << n;
        EXPECT_EQ(r.needed, n < frame_header_size ? frame_header_size : f.size()) << n;
    }
}

TEST(FrameCodec, DecodesOnlyTheFirstOfTwoFrames) {
    auto f = frame_of(4, "first");
    const auto second = frame_of(5, "second!");
    const std::size_t first_size = f.size();
    f.insert(f.end(), second.begin(), second.end());
    const auto r = decode_frame(f);
    ASSERT_EQ(r.status, decode_status::frame);
    EXPECT_EQ(r.consumed, first_size);
    const auto r2 = decode_frame(byte_view(f).subspan(r.consumed));
    ASSERT_EQ(r2.status, decode_status::frame);
    EXPECT_EQ(r2.type, 5);
    EXPECT_EQ(std::string(r2.payload.begin(), r2.payload.end()), "second!");
}

TEST(FrameCodec, BadMagicIsRejectedAtTheFirstWrongByte) {
    const bytes one{'X'};
    auto r = decode_frame(one);
    EXPECT_EQ(r.status, decode_status::error);
    EXPECT_EQ(r.error, errc::bad_magic);
    EXPECT_NE(r.reason.find("magic"), std::string::npos);

    const bytes http{'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1'};
    EXPECT_EQ(decode_frame(http).error, errc::bad_magic);

    const bytes partial_ok{'C', 'L'};
    EXPECT_EQ(decode_frame(partial_ok).status, decode_status::need_more);
}

TEST(FrameCodec, OtherProtocolVersionIsRejected) {
    auto f = frame_of(1, "x");
    f[4] = 2;
    const auto r = decode_frame(f);
    ASSERT_EQ(r.status, decode_status::error);
    EXPECT_EQ(r.error, errc::bad_version);
    EXPECT_NE(r.reason.find("version 2"), std::string::npos);
}

TEST(FrameCodec, OversizeLengthIsRejectedBeforeThePayloadArrives) {
    auto header = frame_of(2, "");
    put_u32(header, 8, static_cast<std::uint32_t>(max_payload_size + 1));
    const auto r = decode_frame(header);
    ASSERT_EQ(r.status, decode_status::error);
    EXPECT_EQ(r.error, errc::frame_too_large);

    put_u32(header, 8, 0xFFFFFFFFu);
    EXPECT_EQ(decode_frame(header).error, errc::frame_too_large);
}

TEST(FrameCodec, MaximumPayloadIsAccepted) {
    const std::string payload(max_payload_size, 'z');
    const auto f = frame_of(7, payload);
    EXPECT_EQ(f.size(), max_frame_size);
    const auto r = decode_frame(f);
    ASSERT_EQ(r.status, decode_status::frame);
    EXPECT_EQ(r.payload.size(), max_payload_size);
}

TEST(FrameCodec, EncodeRefusesOversizePayload) {
    const bytes payload(max_payload_size + 1, 0);
    EXPECT_FALSE(encode_frame(1, payload).has_value());
}

TEST(FrameCodec, UnknownTypeStillDecodesAsAFrame) {
    const auto f = frame_of(0xBEEF, "future");
    const auto r = decode_frame(f);
    ASSERT_EQ(r.status, decode_status::frame);
    EXPECT_EQ(r.type, 0xBEEF);
}
