// The usage meter's key scan: the SSE2 search against std::string_view's, and what counts as
// a key.
#include "worker/json_key_scan.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

using clipal::worker::find_bytes;
using clipal::worker::has_model_string;
using clipal::worker::has_usage_object;
using clipal::worker::key_at;
using clipal::worker::rfind_bytes;
using clipal::worker::usage_stem;
using clipal::worker::usage_suffix;

namespace {

constexpr auto npos = std::string_view::npos;

// The last start before `end` of a whole `needle` (which may run past `end`).
std::size_t reference_rfind(std::string_view hay, std::string_view needle, std::size_t end) {
    for (std::size_t i = std::min(end, hay.size()); i-- > 0;)
        if (hay.substr(i, needle.size()) == needle) return i;
    return npos;
}

} // namespace

TEST(JsonKeyScan, FindAndRfindAgreeWithStringViewAtEveryOffset) {
    // Haystacks of the needles' own bytes, so near-misses and overlaps are common; lengths
    // around the 16-byte blocks of the SSE2 search and its overlapping last block.
    std::mt19937 rng(3);
    const std::string alphabet = "\"usagemodl:{ ";
    int checked = 0;
    for (std::size_t size : {0, 1, 5, 6, 15, 20, 21, 22, 31, 37, 38, 53, 64, 100, 257}) {
        for (int round = 0; round < 20; ++round) {
            std::string hay(size, ' ');
            for (char& c : hay) c = alphabet[rng() % alphabet.size()];
            if (size >= 6 && round % 2 == 0) hay.replace(rng() % (size - 5), 6, "\"usage");
            for (std::string_view needle :
                 {std::string_view("\"usage"), std::string_view("\"model"), std::string_view("ag")}) {
                for (std::size_t from = 0; from <= size + 1; ++from) {
                    EXPECT_EQ(find_bytes(hay, needle, from), std::string_view(hay).find(needle, from))
                        << hay << " from " << from;
                    EXPECT_EQ(find_bytes(hay, needle, from, 4), std::string_view(hay).find(needle, from))
                        << hay << " from " << from << " probe 4";
                    EXPECT_EQ(rfind_bytes(hay, needle, from), reference_rfind(hay, needle, from))
                        << hay << " end " << from;
                    ++checked;
                }
            }
        }
    }
    EXPECT_GT(checked, 10000);
}

TEST(JsonKeyScan, AKeyIsTheStemItsSuffixAQuoteAndAColon) {
    const std::string_view t = R"({"usage" :	{"a":1},"usageMetadata":{},"usages":{},"usage")";
    const auto plain = key_at(t, t.find(usage_stem), usage_stem, usage_suffix);
    ASSERT_TRUE(plain);
    EXPECT_FALSE(plain->long_form);
    EXPECT_EQ(t[plain->value], '{');
    const auto meta = key_at(t, t.find("\"usageMetadata"), usage_stem, usage_suffix);
    ASSERT_TRUE(meta);
    EXPECT_TRUE(meta->long_form);
    EXPECT_FALSE(key_at(t, t.find("\"usages"), usage_stem, usage_suffix)) << "another key";
    EXPECT_FALSE(key_at(t, t.rfind(usage_stem), usage_stem, usage_suffix)) << "cut off before its colon";
    EXPECT_FALSE(key_at(R"("usage":)", 0, usage_stem, usage_suffix)) << "cut off before its value";
}

TEST(JsonKeyScan, MessageTextThatMentionsAKeyIsNoKey) {
    // Inside a string every quote is escaped: text quoting a usage object is not one.
    EXPECT_FALSE(has_usage_object(R"({"text":"the \"usage\": {\"input_tokens\": 5} field"})"));
    EXPECT_FALSE(has_usage_object(R"({"usage":null,"x":"usage"})"));
    EXPECT_TRUE(has_usage_object(R"({"x":"a","usage" : {"input_tokens":5}})"));
    EXPECT_TRUE(has_usage_object(R"({"usageMetadata":{"promptTokenCount":5}})"));
    EXPECT_FALSE(has_model_string(R"({"text":"\"model\": \"x\"","model":7})"));
    EXPECT_TRUE(has_model_string(R"({"modelVersion":"gemini-2.5-pro"})"));
}
