#include "worker/usage_meter.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

using clipal::worker::token_usage;
using clipal::worker::usage_meter;
using clipal::worker::usage_result;

namespace {

constexpr std::string_view sse_type = "text/event-stream; charset=utf-8";
constexpr std::string_view json_type = "application/json";

usage_result meter(std::string_view type, std::string_view encoding, const std::vector<std::string_view>& pieces) {
    usage_meter m(type, encoding);
    for (const auto p : pieces) m.feed(p);
    return m.finish();
}

usage_result meter(std::string_view type, std::string_view encoding, std::string_view body) {
    return meter(type, encoding, std::vector<std::string_view>{body});
}

usage_result meter(std::string_view type, std::string_view body) { return meter(type, "", body); }

// The result of `body` fed whole, and checks that every split into two pieces and the body
// fed one byte at a time give the same result.
usage_result meter_every_split(std::string_view type, std::string_view encoding, std::string_view body) {
    const usage_result whole = meter(type, encoding, body);
    for (std::size_t i = 0; i <= body.size(); ++i) {
        EXPECT_EQ(meter(type, encoding, {body.substr(0, i), body.substr(i)}), whole) << "split at " << i;
        if (testing::Test::HasFailure()) break;
    }
    usage_meter m(type, encoding);
    for (std::size_t i = 0; i < body.size(); ++i) m.feed(body.substr(i, 1));
    EXPECT_EQ(m.finish(), whole) << "one byte at a time";
    return whole;
}

token_usage tokens(std::optional<std::uint64_t> input, std::optional<std::uint64_t> output,
                   std::optional<std::uint64_t> cache_read = std::nullopt,
                   std::optional<std::uint64_t> cache_write = std::nullopt) {
    return token_usage{input, output, cache_read, cache_write};
}

// window_bits: 31 gzip, 15 zlib, -15 raw deflate.
std::string compress(std::string_view in, int window_bits, int level = Z_DEFAULT_COMPRESSION) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
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

std::string sse(std::string_view event, std::string_view data) {
    std::string out;
    if (!event.empty()) out.append("event: ").append(event).append("\n");
    return out.append("data: ").append(data).append("\n\n");
}

// Real shapes (fake upstream's canned responses, the APIs' documentation), with cache fields.
const std::string anthropic_json =
    R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",)"
    R"("content":[{"type":"text","text":"Hello! The \"usage\": {\"input_tokens\": 999} you asked about."}],)"
    R"("stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":100,)"
    R"("cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":0},)"
    R"("output_tokens":5,"service_tier":"standard"}})";

const std::string anthropic_stream =
    sse("message_start",
        R"({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant",)"
        R"("model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,)"
        R"("usage":{"input_tokens":12,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}})") +
    sse("content_block_start",
        R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
    sse("ping", R"({"type": "ping"})") +
    sse("content_block_delta",
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello \"usage\": {\"output_tokens\": 7} – ünïcödé"}})") +
    sse("content_block_stop", R"({"type":"content_block_stop","index":0})") +
    sse("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
                         R"("usage":{"output_tokens":42}})") +
    sse("message_stop", R"({"type":"message_stop"})");

const std::string chat_json =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1767225600,"model":"gpt-5-2025-08-07",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":120,"completion_tokens":30,"total_tokens":150,)"
    R"("prompt_tokens_details":{"cached_tokens":100,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":10}},)"
    R"("service_tier":"default","system_fingerprint":null})";

std::string chat_chunk(std::string_view rest) {
    return sse("", std::string(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1767225600,)"
                               R"("model":"gpt-4o-mini-2024-07-18",)") +
                       std::string(rest) + "}");
}

const std::string chat_stream_with_usage =
    chat_chunk(
        R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null)") +
    chat_chunk(R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],"usage":null)") +
    chat_chunk(R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null)") +
    chat_chunk(R"("choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,)"
               R"("prompt_tokens_details":{"cached_tokens":0}})") +
    sse("", "[DONE]");

std::string response_object(std::string_view status, std::string_view usage, std::string_view instructions = "") {
    return std::string(R"({"id":"resp_1","object":"response","created_at":1767225600,"status":")") +
           std::string(status) + R"(","error":null,"incomplete_details":null,"instructions":")" +
           std::string(instructions) + R"(","model":"gpt-5-codex","output":[],"parallel_tool_calls":true,)" +
           R"("tool_choice":"auto","tools":[],"usage":)" + std::string(usage) + R"(,"user":null,"metadata":{}})";
}

const std::string responses_usage =
    R"({"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},"output_tokens":300,)"
    R"("output_tokens_details":{"reasoning_tokens":256},"total_tokens":5300})";

const std::string responses_stream =
    sse("response.created", R"({"type":"response.created","sequence_number":0,"response":)" +
                                response_object("in_progress", "null") + "}") +
    sse("response.output_text.delta",
        R"({"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,)"
        R"("content_index":0,"delta":"Hi"})") +
    sse("response.completed", R"({"type":"response.completed","sequence_number":8,"response":)" +
                                  response_object("completed", responses_usage) + "}");

std::string gemini_object(std::string_view text, std::string_view usage) {
    return std::string(R"({"candidates":[{"content":{"parts":[{"text":")") + std::string(text) +
           R"("}],"role":"model"},"index":0}],"usageMetadata":)" + std::string(usage) +
           R"(,"modelVersion":"gemini-2.5-pro","responseId":"abc"})";
}

const std::string gemini_stream =
    "data: " + gemini_object("Hel", R"({"promptTokenCount":1200,"totalTokenCount":1200})") + "\r\n\r\n" + "data: " +
    gemini_object("lo", R"({"promptTokenCount":1200,"candidatesTokenCount":7,"totalTokenCount":1307,)"
                        R"("cachedContentTokenCount":1000,"thoughtsTokenCount":100})") +
    "\r\n\r\n";

} // namespace

TEST(UsageMeter, AnthropicJson) {
    const auto r = meter_every_split(json_type, "", anthropic_json);
    EXPECT_EQ(r.tokens, tokens(12, 5, 2000, 100));
    EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");
}

TEST(UsageMeter, AnthropicStreamMessageDeltaReplacesTheOutputSoFar) {
    const auto r = meter_every_split(sse_type, "", anthropic_stream);
    EXPECT_EQ(r.tokens, tokens(12, 42, 2000, 100));
    EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");
}

TEST(UsageMeter, AnthropicMessageDeltaFieldsWinFieldByField) {
    const std::string stream =
        anthropic_stream.substr(0, anthropic_stream.find("event: message_delta")) +
        sse("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},)"
                             R"("usage":{"input_tokens":15,"cache_read_input_tokens":null,"output_tokens":77}})");
    EXPECT_EQ(meter(sse_type, stream).tokens, tokens(15, 77, 2000, 100));
}

TEST(UsageMeter, OpenAiChatJsonInputExcludesCachedTokens) {
    const auto r = meter_every_split("application/json; charset=utf-8", "", chat_json);
    EXPECT_EQ(r.tokens, tokens(20, 30, 100));
    EXPECT_EQ(r.model, "gpt-5-2025-08-07");

    const std::string plain =
        R"({"object":"chat.completion","model":"m","usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})";
    EXPECT_EQ(meter(json_type, plain).tokens, tokens(12, 5));
}

TEST(UsageMeter, OpenAiChatStreamReadsTheFinalUsageChunk) {
    const auto r = meter_every_split(sse_type, "", chat_stream_with_usage);
    EXPECT_EQ(r.tokens, tokens(12, 5, 0));
    EXPECT_EQ(r.model, "gpt-4o-mini-2024-07-18");
}

TEST(UsageMeter, OpenAiChatStreamWithoutIncludeUsageHasOnlyTheModel) {
    std::string stream;
    for (const auto& chunk :
         {R"("choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}])",
          R"("choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}])",
          R"("choices":[{"index":0,"delta":{},"finish_reason":"stop"}])"})
        stream += chat_chunk(chunk);
    stream += sse("", "[DONE]");
    const auto r = meter(sse_type, stream);
    EXPECT_FALSE(r.tokens.known());
    EXPECT_EQ(r.model, "gpt-4o-mini-2024-07-18");
}

TEST(UsageMeter, OpenAiResponsesJson) {
    const auto r = meter(json_type, response_object("completed", responses_usage));
    EXPECT_EQ(r.tokens, tokens(904, 300, 4096));
    EXPECT_EQ(r.model, "gpt-5-codex");
}

TEST(UsageMeter, OpenAiResponsesStreamReadsResponseCompleted) {
    const auto r = meter_every_split(sse_type, "", responses_stream);
    EXPECT_EQ(r.tokens, tokens(904, 300, 4096));
    EXPECT_EQ(r.model, "gpt-5-codex");
}

TEST(UsageMeter, OpenAiResponsesIncompleteCarriesUsageToo) {
    const std::string stream =
        sse("response.incomplete",
            R"({"type":"response.incomplete","sequence_number":3,"response":)" +
                response_object("incomplete", R"({"input_tokens":10,"output_tokens":64,"total_tokens":74})") + "}");
    EXPECT_EQ(meter(sse_type, stream).tokens, tokens(10, 64));
}

TEST(UsageMeter, GeminiJsonObjectOutputIncludesThoughts) {
    const auto r =
        meter_every_split("application/json; charset=UTF-8", "",
                          gemini_object("Hi",
                                        R"({"promptTokenCount":12,"candidatesTokenCount":5,"totalTokenCount":117,)"
                                        R"("thoughtsTokenCount":100,"toolUsePromptTokenCount":3})"));
    EXPECT_EQ(r.tokens, tokens(15, 105));
    EXPECT_EQ(r.model, "gemini-2.5-pro");
}

TEST(UsageMeter, GeminiJsonArrayLastElementWins) {
    const std::string body = "[" + gemini_object("Hel", R"({"promptTokenCount":12,"totalTokenCount":12})") + ",\r\n" +
                             gemini_object("lo", R"({"promptTokenCount":12,"candidatesTokenCount":5})") + "]";
    EXPECT_EQ(meter("application/json; charset=UTF-8", body).tokens, tokens(12, 5));
}

TEST(UsageMeter, GeminiStreamWithCrLfEventsLastWins) {
    const auto r = meter_every_split("text/event-stream", "", gemini_stream);
    EXPECT_EQ(r.tokens, tokens(200, 107, 1000));
    EXPECT_EQ(r.model, "gemini-2.5-pro");
}

TEST(UsageMeter, GzipStreamSplitAnywhere) {
    const auto r = meter_every_split(sse_type, "gzip", compress(anthropic_stream, 31));
    EXPECT_EQ(r.tokens, tokens(12, 42, 2000, 100));
    EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");
}

TEST(UsageMeter, GzipJsonSplitAnywhere) {
    EXPECT_EQ(meter_every_split(json_type, "x-gzip", compress(chat_json, 31)).tokens, tokens(20, 30, 100));
}

TEST(UsageMeter, DeflateAsZlibOrRawAndZlibLabelledGzip) {
    const auto expected = tokens(12, 5, 2000, 100);
    EXPECT_EQ(meter_every_split(json_type, "deflate", compress(anthropic_json, 15)).tokens, expected);
    EXPECT_EQ(meter_every_split(json_type, "Deflate", compress(anthropic_json, -15)).tokens, expected);
    EXPECT_EQ(meter(json_type, "deflate", compress(anthropic_json, 31)).tokens, expected);
    EXPECT_EQ(meter(json_type, "gzip", compress(anthropic_json, 15)).tokens, expected);
}

TEST(UsageMeter, BytesAfterTheCompressedStreamAreIgnored) {
    const std::string body = compress(anthropic_json, 31) + "trailing garbage";
    EXPECT_EQ(meter(json_type, "gzip", body).tokens, tokens(12, 5, 2000, 100));
}

TEST(UsageMeter, CorruptGzipStopsMetering) {
    std::string body = compress(anthropic_stream, 31);
    body[body.size() / 2] = static_cast<char>(body[body.size() / 2] ^ 0x55);
    body[body.size() / 2 + 1] = static_cast<char>(body[body.size() / 2 + 1] ^ 0x55);
    usage_meter m(sse_type, "gzip");
    m.feed(body);
    EXPECT_FALSE(m.metering());
    EXPECT_FALSE(m.finish().tokens.known());

    usage_meter not_gzip(sse_type, "gzip");
    not_gzip.feed(anthropic_stream);
    EXPECT_FALSE(not_gzip.metering());
    EXPECT_EQ(not_gzip.finish(), usage_result{});
}

TEST(UsageMeter, DecodedSizeIsCapped) {
    // {"text":"aaaa…"} inflating past the cap; the usage after it is not read.
    z_stream zs{};
    ASSERT_EQ(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string packed;
    auto pack = [&](std::string_view in, int flush) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        zs.avail_in = static_cast<uInt>(in.size());
        do {
            char out[65536];
            zs.next_out = reinterpret_cast<Bytef*>(out);
            zs.avail_out = sizeof out;
            deflate(&zs, flush);
            packed.append(out, sizeof out - zs.avail_out);
        } while (zs.avail_out == 0);
    };
    pack(R"({"text":")", Z_NO_FLUSH);
    const std::string run(1024 * 1024, 'a');
    for (std::size_t n = 0; n <= usage_meter::max_decoded_bytes; n += run.size()) pack(run, Z_NO_FLUSH);
    pack(R"(","usage":{"input_tokens":1,"output_tokens":2}})", Z_FINISH);
    deflateEnd(&zs);

    usage_meter m(json_type, "gzip");
    for (std::size_t i = 0; i < packed.size(); i += 4096) {
        m.feed(std::string_view(packed).substr(i, 4096));
        ASSERT_LE(m.retained_bytes(), usage_meter::max_retained_bytes);
    }
    EXPECT_FALSE(m.metering());
    EXPECT_FALSE(m.finish().tokens.known());
}

TEST(UsageMeter, UnsupportedEncodingIsNotMetered) {
    for (const auto encoding : {"br", "zstd", "gzip, br", "compress"}) {
        usage_meter m(json_type, encoding);
        EXPECT_FALSE(m.metering()) << encoding;
        m.feed(anthropic_json);
        EXPECT_EQ(m.finish(), usage_result{}) << encoding;
    }
    usage_meter identity(json_type, " Identity ");
    EXPECT_TRUE(identity.metering());
}

TEST(UsageMeter, ContentTypeMissingOrOtherIsSniffed) {
    EXPECT_EQ(meter("", "\n  " + anthropic_json).tokens, tokens(12, 5, 2000, 100));
    EXPECT_EQ(meter("text/plain", anthropic_stream).tokens, tokens(12, 42, 2000, 100));
    EXPECT_EQ(meter("application/vnd.api+json", chat_json).tokens, tokens(20, 30, 100));
    usage_meter html("text/html", "");
    html.feed("<html><body>usage</body></html>");
    EXPECT_FALSE(html.metering());
    EXPECT_FALSE(html.finish().tokens.known());
}

TEST(UsageMeter, NoUsageIsUnknown) {
    const auto r = meter(json_type, R"({"ok":true})");
    EXPECT_FALSE(r.tokens.known());
    EXPECT_EQ(r.model, "");
    EXPECT_FALSE(meter(json_type, "").tokens.known());
    EXPECT_FALSE(meter(sse_type, sse("ping", R"({"type":"ping"})")).tokens.known());
    // A client's error body; Anthropic's count_tokens answer (input_tokens at the top level, not usage).
    EXPECT_FALSE(meter(json_type, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})")
                     .tokens.known());
    EXPECT_FALSE(meter(json_type, R"({"input_tokens":123})").tokens.known());
}

TEST(UsageMeter, TextThatMentionsUsageIsNotUsage) {
    const std::string stream =
        sse("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
                                   R"("text":"{\"usage\":{\"input_tokens\":999},\"model\":\"evil\"}"}})") +
        sse("", R"({"type":"content_block_delta","delta":{"text":"usage"}})");
    EXPECT_EQ(meter(sse_type, stream), usage_result{});
}

TEST(UsageMeter, InvalidCountsAndModelsAreNotStated) {
    const std::string body =
        R"({"model":")" + std::string(usage_meter::max_model_bytes + 1, 'm') +
        R"(","usage":{"input_tokens":-1,"output_tokens":2.5,"cache_read_input_tokens":"7","cache_creation_input_tokens":3.0}})";
    const auto r = meter(json_type, body);
    EXPECT_EQ(r.tokens, tokens(std::nullopt, std::nullopt, std::nullopt, 3));
    EXPECT_EQ(r.model, "");
    // Cached tokens above the prompt do not wrap around.
    EXPECT_EQ(meter(json_type, R"({"usage":{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":9}}})").tokens,
              tokens(0, std::nullopt, 9));
    EXPECT_EQ(meter(json_type, R"({"usage":{"input_tokens":18446744073709551615,"output_tokens":0}})").tokens,
              tokens(18446744073709551615ULL, 0));
}

TEST(UsageMeter, GarbageNeverCrashesAndSaysNothing) {
    std::string garbage;
    std::uint32_t x = 12345;
    for (int i = 0; i < 200000; ++i) {
        x = x * 1664525 + 1013904223;
        garbage += static_cast<char>(x >> 24);
    }
    for (const auto type : {sse_type, json_type, std::string_view("")}) {
        for (const auto encoding : {"", "gzip", "deflate"}) {
            usage_meter m(type, encoding);
            for (std::size_t i = 0; i < garbage.size(); i += 777) m.feed(std::string_view(garbage).substr(i, 777));
            EXPECT_LE(m.retained_bytes(), usage_meter::max_retained_bytes);
            EXPECT_FALSE(m.finish().tokens.known()) << type << " " << encoding;
        }
    }
    // Broken JSON in lines that pass the substring check.
    const std::string broken = "data: {\"usage\":{\"input_tokens\":1\n\ndata: {\"usage\":{}}}\n\ndata: \"usage\":{\n\n"
                               "data: {\"model\":\"\\ud800\"}\n\ndata: {\"usage\":{\"input_tokens\":[1]}}\n\n";
    EXPECT_EQ(meter(sse_type, broken), usage_result{});
}

TEST(UsageMeter, TruncatedStreamGivesWhatItsLinesSaid) {
    const auto cut = anthropic_stream.find("\"usage\":{\"output_tokens\":42");
    ASSERT_NE(cut, std::string::npos);
    const auto r = meter(sse_type, std::string_view(anthropic_stream).substr(0, cut + 20));
    EXPECT_EQ(r.tokens, tokens(12, 1, 2000, 100));
    EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");

    // A truncated JSON body: its usage (at the end) is lost; a Gemini array keeps its complete elements.
    EXPECT_FALSE(
        meter(json_type, std::string_view(anthropic_json).substr(0, anthropic_json.size() - 40)).tokens.known());
    const std::string array = "[" + gemini_object("Hi", R"({"promptTokenCount":12,"candidatesTokenCount":5})") +
                              ",\r\n" + gemini_object("there", R"({"promptTokenCount":12,"candidatesTokenCount":9})");
    const auto g = meter(json_type, std::string_view(array).substr(0, array.size() - 60));
    EXPECT_EQ(g.tokens, tokens(12, 5));
    EXPECT_EQ(g.model, "gemini-2.5-pro");
}

TEST(UsageMeter, UnterminatedLastLineIsRead) {
    std::string stream = chat_stream_with_usage.substr(0, chat_stream_with_usage.find("data: [DONE]"));
    while (stream.back() == '\n') stream.pop_back();
    EXPECT_EQ(meter(sse_type, stream).tokens, tokens(12, 5, 0));
}

TEST(UsageMeter, ByteOrderMarkBeforeTheFirstLine) {
    EXPECT_EQ(meter(sse_type, "\xEF\xBB\xBF" + chat_stream_with_usage).tokens, tokens(12, 5, 0));
}

TEST(UsageMeter, FinishOnceThenFeedsAreIgnored) {
    usage_meter m(sse_type, "");
    m.feed(anthropic_stream);
    const auto first = m.finish();
    m.feed(sse("message_delta", R"({"type":"message_delta","usage":{"output_tokens":1000}})"));
    EXPECT_EQ(m.finish(), first);
    EXPECT_EQ(m.retained_bytes(), 0u);
}

TEST(UsageMeter, TenMiBOfTextDeltasKeepsMemoryBounded) {
    const std::string delta =
        sse("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta",)"
                                   R"("text":"Some generated code: for (int i = 0; i < n; ++i) sum += a[i];\n"}})");
    std::string stream = anthropic_stream.substr(0, anthropic_stream.find("event: content_block_delta"));
    while (stream.size() < 10 * 1024 * 1024) stream += delta;
    stream += anthropic_stream.substr(anthropic_stream.find("event: content_block_stop"));
    for (const auto encoding : {"", "gzip"}) {
        const std::string body = *encoding ? compress(stream, 31) : stream;
        usage_meter m(sse_type, encoding);
        std::size_t peak = 0;
        // Pieces of a prime size, so lines split everywhere.
        for (std::size_t i = 0; i < body.size(); i += 1021) {
            m.feed(std::string_view(body).substr(i, 1021));
            peak = std::max(peak, m.retained_bytes());
        }
        EXPECT_LE(peak, usage_meter::max_retained_bytes) << encoding;
        EXPECT_LE(peak, (*encoding ? 48 * 1024 : 0) + 1024) << encoding; // a partial line at a time, plus zlib
        EXPECT_EQ(m.finish().tokens, tokens(12, 42, 2000, 100)) << encoding;
    }
}

TEST(UsageMeter, OverlongTextLineIsSkipped) {
    const std::string huge_delta =
        sse("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" +
                                       std::string(300 * 1024, 'x') + R"("}})");
    const auto at = anthropic_stream.find("event: content_block_stop");
    const std::string stream = anthropic_stream.substr(0, at) + huge_delta + anthropic_stream.substr(at);
    for (const std::size_t piece : {std::size_t{1000}, stream.size()}) {
        usage_meter m(sse_type, "");
        for (std::size_t i = 0; i < stream.size(); i += piece) {
            m.feed(std::string_view(stream).substr(i, piece));
            ASSERT_LE(m.retained_bytes(), usage_meter::max_retained_bytes);
        }
        EXPECT_EQ(m.finish().tokens, tokens(12, 42, 2000, 100)) << piece;
    }
}

TEST(UsageMeter, OverlongResponseCompletedIsReadByItsEnds) {
    // Codex's instructions and tool schemas make response.completed long.
    const std::string instructions(200 * 1024, 'i');
    const std::string stream =
        sse("response.output_text.delta", R"({"type":"response.output_text.delta","delta":"Hi"})") +
        sse("response.completed", R"({"type":"response.completed","sequence_number":8,"response":)" +
                                      response_object("completed", responses_usage, instructions) + "}");
    for (const std::size_t piece : {std::size_t{4093}, stream.size()}) {
        usage_meter m(sse_type, "");
        for (std::size_t i = 0; i < stream.size(); i += piece) {
            m.feed(std::string_view(stream).substr(i, piece));
            ASSERT_LE(m.retained_bytes(), usage_meter::max_retained_bytes);
        }
        const auto r = m.finish();
        EXPECT_EQ(r.tokens, tokens(904, 300, 4096)) << piece;
        EXPECT_EQ(r.model, "gpt-5-codex") << piece; // the model is past 64 KiB: read from the tail
    }
}

TEST(UsageMeter, LargeJsonBodiesAreReadByTheirEnds) {
    // A long Anthropic answer: model in the head, usage in the tail.
    std::string body = anthropic_json;
    body.insert(body.find("Hello!") + 6, std::string(1024 * 1024, ' '));
    usage_meter m(json_type, "");
    for (std::size_t i = 0; i < body.size(); i += 8191) {
        m.feed(std::string_view(body).substr(i, 8191));
        ASSERT_LE(m.retained_bytes(), usage_meter::max_retained_bytes);
    }
    const auto r = m.finish();
    EXPECT_EQ(r.tokens, tokens(12, 5, 2000, 100));
    EXPECT_EQ(r.model, "claude-sonnet-4-5-20250929");

    // A long Gemini array (non-SSE streamGenerateContent): the last usageMetadata.
    std::string array = "[";
    for (int i = 0; i < 2000; ++i)
        array += gemini_object("chunk of text",
                               R"({"promptTokenCount":12,"candidatesTokenCount":)" + std::to_string(i) + "}") +
                 ",\r\n";
    array += gemini_object("end", R"({"promptTokenCount":12,"candidatesTokenCount":5000})") + "]";
    const auto big =
        meter(json_type, "", {std::string_view(array).substr(0, 100000), std::string_view(array).substr(100000)});
    EXPECT_EQ(big.tokens, tokens(12, 5000));
    EXPECT_EQ(big.model, "gemini-2.5-pro");
    EXPECT_EQ(meter(json_type, array), big);
}

TEST(UsageMeter, MovedMeterKeepsMetering) {
    usage_meter a(sse_type, "gzip");
    const std::string body = compress(anthropic_stream, 31);
    a.feed(std::string_view(body).substr(0, 40));
    usage_meter b = std::move(a);
    b.feed(std::string_view(body).substr(40));
    EXPECT_EQ(b.finish().tokens, tokens(12, 42, 2000, 100));
}

TEST(UsageMeter, UsageIsReadOnlyWhereTheResponseKeepsIt) {
    // Keys named like usage's, as real keys: in a content block, a tool call's input, a
    // message inside the message, a Gemini candidate. Only the response's own usage counts.
    const std::string body =
        R"({"model":"claude-x","content":[{"type":"text","text":"a","usage":{"input_tokens":900}},)"
        R"({"type":"tool_use","name":"f","input":{"usage":{"output_tokens":901},"model":"evil",)"
        R"("message":{"usage":{"input_tokens":902}}}}],"message":{"message":{"usage":{"input_tokens":903}}},)"
        R"("candidates":[{"usageMetadata":{"promptTokenCount":904}}],"usage":{"input_tokens":1,"output_tokens":2}})";
    for (const auto type : {json_type, sse_type}) {
        const auto r = meter(type, std::string(type == sse_type ? "data: " : "") + body + "\n");
        EXPECT_EQ(r.tokens, tokens(1, 2)) << type;
        EXPECT_EQ(r.model, "claude-x") << type;
    }
    EXPECT_FALSE(meter(json_type, R"({"content":[{"usage":{"input_tokens":900}}],"model":"m"})").tokens.known());
}

TEST(UsageMeter, RepeatedKeysCountByTheirLastValue) {
    EXPECT_EQ(meter(json_type, R"({"usage":{"input_tokens":1},"usage":{"output_tokens":2}})").tokens,
              tokens(std::nullopt, 2));
    EXPECT_FALSE(meter(json_type, R"({"usage":{"input_tokens":1},"usage":null})").tokens.known());
    EXPECT_EQ(meter(json_type, R"({"usage":{"input_tokens":5,"output_tokens":1,"input_tokens":"5"}})").tokens,
              tokens(std::nullopt, 1));
    EXPECT_EQ(meter(json_type, R"({"usage":{"prompt_tokens":10,"prompt_tokens_details":{"cached_tokens":4},)"
                               R"("prompt_tokens_details":{}}})")
                  .tokens,
              tokens(10, std::nullopt));
    EXPECT_EQ(meter(json_type, R"({"message":{"usage":{"input_tokens":1}},"message":{"model":"m"}})"),
              (usage_result{tokens(std::nullopt, std::nullopt), "m"}));
    EXPECT_EQ(meter(json_type, R"({"model":"a","model":7})").model, "");
    EXPECT_EQ(meter(json_type, R"({"model":7,"model":"b"})").model, "b");
}

TEST(UsageMeter, NumbersThatAreNotWholeNonNegativeCountsAreNotStated) {
    auto input = [](std::string_view count) {
        return meter(json_type, R"({"usage":{"input_tokens":)" + std::string(count) + "}}").tokens.input;
    };
    EXPECT_EQ(input("12"), 12u);
    EXPECT_EQ(input("1e2"), 100u);
    EXPECT_EQ(input("12.0"), 12u);
    EXPECT_EQ(input("-0"), 0u);
    EXPECT_EQ(input("9007199254740993"), 9007199254740993u); // an integer: exact
    EXPECT_EQ(input("18446744073709551615"), 18446744073709551615u);
    for (const auto not_a_count :
         {"-1", "2.5", "1e-2", "18446744073709551616", "99999999999999999999999", "9007199254740994.0",
          "-9223372036854775809", "\"12\"", "true", "null", "[12]", "{\"value\":12}"})
        EXPECT_EQ(input(not_a_count), std::nullopt) << not_a_count;
}

TEST(UsageMeter, NestingPastTheParserLimitIsNotReadAsAWhole) {
    // 256 levels are read; a line nested deeper is not JSON to the meter. A JSON body nested
    // deeper is read by fragments, which still find its usage object.
    const std::string usage = R"("usage":{"input_tokens":1,"output_tokens":2})";
    auto deep = [&](std::size_t levels) {
        return R"({"x":)" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "," + usage + "}";
    };
    EXPECT_EQ(meter(sse_type, "data: " + deep(256) + "\n").tokens, tokens(1, 2));
    EXPECT_FALSE(meter(sse_type, "data: " + deep(257) + "\n").tokens.known());
    EXPECT_EQ(meter(json_type, deep(100000)).tokens, tokens(1, 2));
}

TEST(UsageMeter, TruncatedLineOrBodyKeepsWhatParsed) {
    const std::string line = R"(data: {"type":"message_delta","usage":{"output_tokens":42}})";
    for (std::size_t n = 0; n < line.size(); ++n) EXPECT_FALSE(meter(sse_type, line.substr(0, n)).tokens.known()) << n;
    // A JSON body cut after its usage object: the object itself still parses.
    const std::string body = R"({"model":"m","usage":{"input_tokens":3,"output_tokens":4},"stop_reason":"end)";
    EXPECT_EQ(meter(json_type, body), (usage_result{tokens(3, 4), "m"}));
}

TEST(UsageMeter, KeysAreFoundAtEveryOffsetOfALine) {
    // The key search looks at sixteen positions at a time and at the last ones separately:
    // a key anywhere in a line, lines of every length around those blocks, and near misses.
    for (std::size_t filler = 0; filler < 80; ++filler) {
        const std::string pad(filler, 'g');
        const std::string line =
            R"(data: {"x":")" + pad + R"(","usage":{"output_tokens":)" + std::to_string(filler) + "}}\n";
        EXPECT_EQ(meter(sse_type, line).tokens, tokens(std::nullopt, filler)) << filler;
        // A model key is short enough to sit among a line's last sixteen positions.
        EXPECT_EQ(meter(sse_type, R"(data: {"x":")" + pad + R"(","model":"m"})").model, "m") << filler;
        for (const auto miss : {R"("usag":{"output_tokens":1})", R"("Usage":{"output_tokens":1})",
                                R"("usagex":{"output_tokens":1})", R"(" usage":{"output_tokens":1})"})
            EXPECT_FALSE(meter(sse_type, R"(data: {"x":")" + pad + R"(",)" + miss + "}\n").tokens.known())
                << filler << miss;
    }
}

TEST(UsageMeter, MediaTypeAndCodingAreCaseInsensitive) {
    EXPECT_EQ(meter(" Text/Event-Stream ;charset=utf-8", anthropic_stream).tokens, tokens(12, 42, 2000, 100));
    EXPECT_EQ(meter("APPLICATION/JSON", "\n" + anthropic_json).tokens, tokens(12, 5, 2000, 100));
    EXPECT_EQ(meter("application/problem+JSON", chat_json).tokens, tokens(20, 30, 100));
    EXPECT_EQ(meter(json_type, "GZip", compress(chat_json, 31)).tokens, tokens(20, 30, 100));
    EXPECT_EQ(meter(json_type, "X-GZIP", compress(chat_json, 31)).tokens, tokens(20, 30, 100));
    EXPECT_EQ(meter(json_type, "IDENTITY", chat_json).tokens, tokens(20, 30, 100));
    // A JSON type is taken at its word: SSE under it is read as a (broken) JSON body, whose
    // last usage object counts.
    EXPECT_EQ(meter("Application/Json", anthropic_stream).tokens, tokens(std::nullopt, 42));
}
