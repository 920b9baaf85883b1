#include "shared/gzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

namespace {

// Compresses with gzip (window_bits 31) or zlib (15) framing.
std::string deflate_with(std::string_view in, int window_bits) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

} // namespace

TEST(Gunzip, DecodesGzip) {
    const std::string text = R"({"error":{"code":"insufficient_quota"}})";
    EXPECT_EQ(clipal::gunzip(deflate_with(text, 31), 1024), text);
}

TEST(Gunzip, DecodesZlib) {
    const std::string text = "hello hello hello";
    EXPECT_EQ(clipal::gunzip(deflate_with(text, 15), 1024), text);
}

TEST(Gunzip, OutputLargerThanOneChunk) {
    std::string text;
    for (int i = 0; i < 10000; ++i) text += std::to_string(i) + ",";
    EXPECT_EQ(clipal::gunzip(deflate_with(text, 31), text.size()), text);
}

TEST(Gunzip, RefusesOutputBeyondLimit) {
    const std::string bomb(1 << 20, 'a');
    const auto packed = deflate_with(bomb, 31);
    EXPECT_LT(packed.size(), 4096u);
    EXPECT_FALSE(clipal::gunzip(packed, 64 * 1024));
    EXPECT_FALSE(clipal::gunzip(packed, bomb.size() - 1));
    EXPECT_TRUE(clipal::gunzip(packed, bomb.size()));
}

TEST(Gunzip, CorruptTruncatedOrEmptyIsNullopt) {
    const auto packed = deflate_with("some text that compresses", 31);
    EXPECT_FALSE(clipal::gunzip(packed.substr(0, packed.size() / 2), 1024));
    EXPECT_FALSE(clipal::gunzip("not compressed at all", 1024));
    EXPECT_FALSE(clipal::gunzip("", 1024));
    std::string flipped = packed;
    flipped[packed.size() / 2] = static_cast<char>(flipped[packed.size() / 2] ^ 0x55);
    EXPECT_FALSE(clipal::gunzip(flipped, 1024));
}
