#include "worker/request_body.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

#include <string>

using clipal::protocol;
using clipal::worker::body_with_model;
using clipal::worker::gemini_rest_with_model;
using clipal::worker::is_streaming_request;
using clipal::worker::max_json_depth;

namespace {

// Shapes of the bodies the real clients send (REAL-CLIENTS.md), cut down.
const std::string claude_code_body =
    R"({"model":"claude-sonnet-4-5-20250929","messages":[{"role":"user","content":[{"type":"text",)"
    R"("text":"<system-reminder>\nAs you answer the user's questions, you can use the following context:\n)"
    R"(# claudeMd\nThe \"model\": \"x\" key is documented in README.md\n</system-reminder>\n"},)"
    R"({"type":"text","text":"Reply with a short greeting.","cache_control":{"type":"ephemeral"}}]}],)"
    R"("temperature":1,"system":[{"type":"text","text":"You are Claude Code, Anthropic's official CLI for Claude.",)"
    R"("cache_control":{"type":"ephemeral"}}],"tools":[{"name":"Task","description":"Launch a new agent",)"
    R"("input_schema":{"type":"object","properties":{"description":{"type":"string"},"model":{"type":"string",)"
    R"("enum":["sonnet","opus","haiku"]}},"required":["description"],"additionalProperties":false,)"
    R"("$schema":"http://json-schema.org/draft-07/schema#"}}],"metadata":{"user_id":"user_0123_account__session_4567"},)"
    R"("max_tokens":32000,"stream":true})";

const std::string codex_body =
    R"({"model":"gpt-5-codex","instructions":"You are Codex, based on GPT-5.","input":[{"type":"message",)"
    R"("role":"user","content":[{"type":"input_text","text":"Reply with a short greeting."}]}],"tools":[{"type":)"
    R"("function","name":"shell","parameters":{"type":"object","properties":{"command":{"type":"array","items":)"
    R"({"type":"string"}}},"required":["command"]}}],"tool_choice":"auto","parallel_tool_calls":false,)"
    R"("reasoning":{"effort":"medium","summary":"auto"},"store":false,"stream":true,)"
    R"("include":["reasoning.encrypted_content"],"prompt_cache_key":"0199a8f2-7c1e-7d62-9d1b-4e1f0c6a2b3d"})";

const std::string chat_body =
    R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}})";

const std::string gemini_body =
    R"({"contents":[{"role":"user","parts":[{"text":"Reply with a short greeting."}]}],"systemInstruction":)"
    R"({"role":"user","parts":[{"text":"You are an interactive CLI agent."}]},"generationConfig":{"temperature":0,)"
    R"("topP":1,"thinkingConfig":{"includeThoughts":true}}})";

// `body` with its first occurrence of `from` replaced by `to`.
std::string replaced(std::string body, std::string_view from, std::string_view to) {
    const auto at = body.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    body.replace(at, from.size(), to);
    return body;
}

bool streams(std::string_view body, protocol p = protocol::anthropic) {
    return is_streaming_request(p, "POST", "/v1/messages?beta=true", body);
}

bool gemini_streams(std::string_view rest, std::string_view body = gemini_body) {
    return is_streaming_request(protocol::gemini, "POST", rest, body);
}

// A body of about `size` bytes like a long Claude Code conversation: many messages full of
// escaped code, `tail` before the closing brace.
std::string huge_body(std::size_t size, std::string_view tail) {
    std::string body = R"({"model":"claude-opus-4-1","max_tokens":32000,"messages":[)";
    const std::string message =
        R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"int main() {\n)"
        R"(    printf(\"%d \\\"model\\\"\\n\", 42); // caf\u00e9 \ud83d\ude00\n    return 0;\n}\n"}]},)";
    while (body.size() < size) body += message;
    body += R"({"role":"user","content":"go on"}])";
    body += tail;
    body += '}';
    return body;
}

std::string model_of(std::string_view json) {
    const auto v = boost::json::parse(json);
    return std::string(v.as_object().at("model").as_string());
}

// A root object holding `levels` nested arrays (so `levels + 1` levels in all).
std::string nested(std::size_t levels, std::string_view members) {
    std::string body = "{" + std::string(members) + R"(,"deep":)";
    body.append(levels, '[');
    body.append(levels, ']');
    body += '}';
    return body;
}

} // namespace

// ---- is_streaming_request

TEST(RequestBody, RealClientBodiesWithStreamTrueStream) {
    EXPECT_TRUE(streams(claude_code_body));
    EXPECT_TRUE(is_streaming_request(protocol::openai, "POST", "/v1/responses", codex_body));
    EXPECT_TRUE(is_streaming_request(protocol::openai, "POST", "/v1/chat/completions", chat_body));
}

TEST(RequestBody, StreamFalseOrAbsentDoesNotStream) {
    EXPECT_FALSE(streams(replaced(claude_code_body, R"("stream":true)", R"("stream":false)")));
    EXPECT_FALSE(streams(R"({"model":"claude-haiku-4-5","max_tokens":1,"messages":[]})"));
    // count_tokens bodies have no "stream" at all.
    EXPECT_FALSE(is_streaming_request(protocol::anthropic, "POST", "/v1/messages/count_tokens?beta=true",
                                      R"({"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]})"));
}

TEST(RequestBody, OnlyTheLiteralTrueAtTheTopLevelStreams) {
    for (std::string_view body : {
             R"({"stream":"true"})",
             R"({"stream":1})",
             R"({"stream":null})",
             R"({"stream":{"enabled":true}})",
             R"({"stream":[true]})",
             R"({"metadata":{"stream":true}})",
             R"({"messages":[{"stream":true}]})",
             R"({"text":"\"stream\":true"})",
             R"({"Stream":true})",
             R"({"stream ":true})",
             R"({"streams":true})",
             R"({"strea":true})",
             R"([{"stream":true}])",
             R"("stream")",
             "true",
         })
        EXPECT_FALSE(streams(body)) << body;
    EXPECT_TRUE(streams(R"({"stream":true})"));
    EXPECT_TRUE(streams(" \r\n\t{ \"stream\" :\n true } \n"));
    EXPECT_TRUE(streams(R"({"str\u0065am":true})")) << "an escaped key is the same key";
    EXPECT_TRUE(streams(R"({"metadata":{"stream":false},"stream":true})"));
}

TEST(RequestBody, ADuplicatedStreamCountsByItsLastValue) {
    EXPECT_TRUE(streams(R"({"stream":false,"stream":true})"));
    EXPECT_FALSE(streams(R"({"stream":true,"stream":false})"));
    EXPECT_FALSE(streams(R"({"stream":true,"stream":{}})"));
}

TEST(RequestBody, InvalidJsonDoesNotStream) {
    for (std::string_view body : {
             "",
             R"({"stream":true)",
             R"({"stream":true,})",
             R"({"stream":true} {})",
             R"({"stream":true} x)",
             R"({"stream":tru})",
             R"({'stream':true})",
             R"({stream:true})",
             R"({"stream":true /* c */})",
             "{\"stream\":true,\"x\":\"\xff\"}",
             "{\"stream\":true,\"x\":\"a\nb\"}",
             R"({"stream":true,"x":"\q"})",
             R"({"stream":true,"x":01})",
         })
        EXPECT_FALSE(streams(body)) << body;
}

TEST(RequestBody, OnlyPostStreams) {
    EXPECT_FALSE(is_streaming_request(protocol::anthropic, "GET", "/v1/messages", R"({"stream":true})"));
    EXPECT_FALSE(is_streaming_request(protocol::anthropic, "post", "/v1/messages", R"({"stream":true})"));
    EXPECT_FALSE(is_streaming_request(protocol::gemini, "GET", "/v1beta/models/x:streamGenerateContent?alt=sse", ""));
}

TEST(RequestBody, GeminiStreamsByPathOrAltSse) {
    EXPECT_TRUE(gemini_streams("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"));
    EXPECT_TRUE(gemini_streams("/v1beta/models/gemini-2.5-pro:streamGenerateContent"));
    EXPECT_TRUE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?alt=sse"));
    EXPECT_TRUE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?foo=1&alt=sse&bar=2"));
    EXPECT_TRUE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?$alt=sse"));
    EXPECT_TRUE(gemini_streams("/v1/projects/p/locations/l/publishers/google/models/g:streamGenerateContent"));
    // The body does not matter to these (Gemini bodies have no "stream"), not even invalid.
    EXPECT_TRUE(gemini_streams("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "not json"));
}

TEST(RequestBody, GeminiWithoutTheStreamingFormsDoesNotStream) {
    // Gemini CLI's routing call.
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-flash-lite:generateContent"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:countTokens"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?alt=json"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?alt=ssex"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?xalt=sse"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?alt=SSE"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:generateContent?q=:streamGenerateContent"));
    EXPECT_FALSE(gemini_streams("/v1beta/alt=sse/models/gemini-2.5-pro:generateContent"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:streamGenerateContentX"));
    EXPECT_FALSE(gemini_streams("/v1beta/models/gemini-2.5-pro:streamgeneratecontent"));
}

TEST(RequestBody, GeminiBodiesWithStreamTrueStream) {
    // Gemini's OpenAI-compatible endpoint, reached through the gemini profile.
    EXPECT_TRUE(is_streaming_request(protocol::gemini, "POST", "/v1beta/openai/chat/completions", chat_body));
}

TEST(RequestBody, GeminiPathFormsMeanNothingToOtherProtocols) {
    for (auto p : {protocol::anthropic, protocol::openai})
        EXPECT_FALSE(is_streaming_request(p, "POST", "/v1beta/models/g:streamGenerateContent?alt=sse", "{}"));
}

TEST(RequestBody, AHugeBodyIsReadToTheEnd) {
    const std::string tail_stream = huge_body(4 << 20, R"(,"stream":true)");
    ASSERT_GE(tail_stream.size(), 4u << 20);
    EXPECT_TRUE(streams(tail_stream));
    EXPECT_FALSE(streams(huge_body(4 << 20, R"(,"stream":false)")));
    // Broken at the very end: not JSON, so not streaming.
    EXPECT_FALSE(streams(tail_stream.substr(0, tail_stream.size() - 1)));
}

TEST(RequestBody, NestingIsBoundedByMaxJsonDepth) {
    EXPECT_TRUE(streams(nested(max_json_depth - 1, R"("stream":true)")));
    EXPECT_FALSE(streams(nested(max_json_depth, R"("stream":true)")));
    EXPECT_TRUE(body_with_model(nested(max_json_depth - 1, R"("model":"a")"), "b"));
    EXPECT_FALSE(body_with_model(nested(max_json_depth, R"("model":"a")"), "b"));
}

// ---- body_with_model

TEST(RequestBody, ModelOfRealClientBodiesIsReplaced) {
    EXPECT_EQ(body_with_model(claude_code_body, "glm-4.6"),
              replaced(claude_code_body, R"("model":"claude-sonnet-4-5-20250929")", R"("model":"glm-4.6")"));
    EXPECT_EQ(body_with_model(codex_body, "gpt-5"), replaced(codex_body, R"("gpt-5-codex")", R"("gpt-5")"));
    EXPECT_EQ(body_with_model(chat_body, "deepseek-chat"), replaced(chat_body, R"("gpt-4o")", R"("deepseek-chat")"));
}

TEST(RequestBody, NestedModelKeysAreNotTouched) {
    // claude_code_body has "model" in a tool schema and inside a message's text.
    const auto out = body_with_model(claude_code_body, "other");
    ASSERT_TRUE(out);
    EXPECT_NE(out->find(R"("model":{"type":"string",)"), std::string::npos);
    EXPECT_NE(out->find(R"(The \"model\": \"x\" key)"), std::string::npos);
    const std::string body = R"({"metadata":{"model":"keep"},"model":"old","tools":[{"model":"keep2"}]})";
    EXPECT_EQ(body_with_model(body, "new"),
              R"({"metadata":{"model":"keep"},"model":"new","tools":[{"model":"keep2"}]})");
}

TEST(RequestBody, ModelInsideStringsIsNotAKey) {
    EXPECT_EQ(body_with_model(R"({"text":"\"model\":\"old\"","model":"old"})", "new"),
              R"({"text":"\"model\":\"old\"","model":"new"})");
    // Backslash runs before quotes: even runs end the string, odd ones do not.
    EXPECT_EQ(body_with_model(R"({"a":"\\","model":"m","b":"x\\\"model\\\":\"y\\"})", "n"),
              R"({"a":"\\","model":"n","b":"x\\\"model\\\":\"y\\"})");
    EXPECT_EQ(body_with_model(R"({"a":"\\\\\"","model":"m"})", "n"), R"({"a":"\\\\\"","model":"n"})");
    EXPECT_FALSE(body_with_model(R"({"text":"\"model\":\"old\""})", "new"));
    EXPECT_FALSE(body_with_model(R"({"model\"":"old"})", "new"));
}

TEST(RequestBody, EveryOtherByteIsKept) {
    const std::string body = " \r\n{ \"max_tokens\" : 1.50E+3 ,\n\t\"model\"\t:\t\"claude-\\u0078\" ,"
                             " \"text\" : \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\" , \"n\":-0.0e-0 ,"
                             "\"u\":\"\xc3\xa9\"}\n ";
    const std::string expected = " \r\n{ \"max_tokens\" : 1.50E+3 ,\n\t\"model\"\t:\t\"new\" ,"
                                 " \"text\" : \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\" , \"n\":-0.0e-0 ,"
                                 "\"u\":\"\xc3\xa9\"}\n ";
    EXPECT_EQ(body_with_model(body, "new"), expected);
}

TEST(RequestBody, AModelKeyWrittenWithEscapesIsTheModelKey) {
    EXPECT_EQ(body_with_model(R"({"mod\u0065l":"old"})", "new"), R"({"mod\u0065l":"new"})");
    EXPECT_EQ(body_with_model(R"({"\u006d\u006F\u0064\u0065\u006c":"old"})", "new"),
              R"({"\u006d\u006F\u0064\u0065\u006c":"new"})");
}

TEST(RequestBody, EveryDuplicateModelIsReplaced) {
    EXPECT_EQ(body_with_model(R"({"model":"a","x":1,"model":"b"})", "c"), R"({"model":"c","x":1,"model":"c"})");
    EXPECT_EQ(body_with_model(R"({"model":"a","mod\u0065l":"b"})", "c"), R"({"model":"c","mod\u0065l":"c"})");
    // One of them not a string: the body is not rewritten at all.
    EXPECT_FALSE(body_with_model(R"({"model":"a","model":2})", "c"));
    EXPECT_FALSE(body_with_model(R"({"model":null,"model":"b"})", "c"));
}

TEST(RequestBody, TheOldValueMayBeEmptyOrEscaped) {
    EXPECT_EQ(body_with_model(R"({"model":""})", "m"), R"({"model":"m"})");
    EXPECT_EQ(body_with_model(R"({"model":"a\"b\\"})", "m"), R"({"model":"m"})");
    EXPECT_EQ(body_with_model(R"({"model":"x","stream":true})", ""), R"({"model":"","stream":true})");
}

TEST(RequestBody, ModelThatIsNotAStringIsLeftAlone) {
    for (std::string_view body : {
             R"({"model":null})",
             R"({"model":1})",
             R"({"model":true})",
             R"({"model":["a"]})",
             R"({"model":{"name":"a"}})",
         })
        EXPECT_FALSE(body_with_model(body, "new")) << body;
}

TEST(RequestBody, BodiesWithoutATopLevelModelAreLeftAlone) {
    for (std::string_view body : {
             std::string_view(gemini_body),
             std::string_view(R"({})"),
             std::string_view(R"({"Model":"a"})"),
             std::string_view(R"({"models":"a"})"),
             std::string_view(R"({"mode":"a"})"),
             std::string_view(R"(["model","a"])"),
             std::string_view(R"([{"model":"a"}])"),
             std::string_view(R"("model")"),
             std::string_view("null"),
         })
        EXPECT_FALSE(body_with_model(body, "new")) << body;
}

TEST(RequestBody, InvalidJsonIsNeverRewritten) {
    for (std::string_view body : {
             "",
             " ",
             R"({"model":"a")",
             R"({"model":"a",})",
             R"({"model":"a"}})",
             R"({"model":"a"} {"model":"b"})",
             R"({"model":"a"} x)",
             R"({"model":'a'})",
             R"({model:"a"})",
             R"({"model":"a" // c
})",
             "{\"model\":\"a\",\"x\":\"\xc3\"}",
             "{\"model\":\"a\xff\"}",
             "{\"model\":\"a\tb\"}",
             R"({"model":"a\x"})",
             R"({"model":"a","n":1.})",
             R"({"model":"a","n":+1})",
             R"({"model":"a","n":NaN})",
         })
        EXPECT_FALSE(body_with_model(body, "new")) << body;
}

TEST(RequestBody, TheNewModelIsEscaped) {
    const std::string body = R"({"model":"old","stream":true})";
    EXPECT_EQ(body_with_model(body, R"(we"ird\name)"), R"({"model":"we\"ird\\name","stream":true})");
    EXPECT_EQ(body_with_model(body, std::string_view("a\nb\x01\x1f\t", 6)),
              R"({"model":"a\nb\u0001\u001f\t","stream":true})");
    EXPECT_EQ(body_with_model(body, "模型/v1"), R"({"model":"模型/v1","stream":true})");
    for (std::string_view name : {R"(we"ird\name)", "a\nb\x01\x7f", "模型", "</script>", "\\u0041"}) {
        const auto out = body_with_model(body, name);
        ASSERT_TRUE(out) << name;
        EXPECT_EQ(model_of(*out), name);
    }
    // Not UTF-8: it could not be written as JSON.
    EXPECT_FALSE(body_with_model(body, "bad\xff"));
    EXPECT_FALSE(body_with_model(body, "\xc3"));
}

TEST(RequestBody, AHugeBodyIsRewritten) {
    const std::string body = huge_body(4 << 20, R"(,"stream":true)");
    const auto out = body_with_model(body, "claude-sonnet-4-5");
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, replaced(body, R"("claude-opus-4-1")", R"("claude-sonnet-4-5")"));
    // The model after the messages, as a client that orders keys otherwise sends it.
    const std::string model_last = huge_body(4 << 20, R"(,"model":"x")");
    EXPECT_EQ(body_with_model(model_last, "y"),
              replaced(replaced(model_last, R"("model":"x")", R"("model":"y")"), R"("claude-opus-4-1")", R"("y")"));
}

// ---- gemini_rest_with_model

TEST(RequestBody, GeminiModelSegmentIsReplaced) {
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "gemini-3-pro"),
              "/v1beta/models/gemini-3-pro:streamGenerateContent?alt=sse");
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/gemini-2.5-flash-lite:generateContent", "gemini-2.5-flash"),
              "/v1beta/models/gemini-2.5-flash:generateContent");
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/gemini-2.5-pro:countTokens", "m"), "/v1beta/models/m:countTokens");
    EXPECT_EQ(gemini_rest_with_model("/v1/projects/p/locations/us-central1/publishers/google/models/"
                                     "gemini-2.5-pro:streamGenerateContent?alt=sse",
                                     "gemini-2.5-flash"),
              "/v1/projects/p/locations/us-central1/publishers/google/models/"
              "gemini-2.5-flash:streamGenerateContent?alt=sse");
    EXPECT_EQ(gemini_rest_with_model("models/a:generateContent", "b"), "models/b:generateContent");
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/a:b/c", "x"), "/v1beta/models/x:b/c");
}

TEST(RequestBody, GeminiQueryIsNeverSearchedNorChanged) {
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/a:generateContent?x=/models/b:c&alt=sse", "n"),
              "/v1beta/models/n:generateContent?x=/models/b:c&alt=sse");
    EXPECT_FALSE(gemini_rest_with_model("/v1beta/files?name=/models/b:c", "n"));
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/a:generateContent?", "n"), "/v1beta/models/n:generateContent?");
}

TEST(RequestBody, GeminiPathsWithoutAModelSegmentAreLeftAlone) {
    for (std::string_view rest : {
             "/v1beta/models",
             "/v1beta/models/",
             "/v1beta/models/gemini-2.5-pro",
             "/v1beta/models/:generateContent",
             "/v1beta/models/a/b:generateContent",
             "/v1beta/tunedModels/mine:generateContent",
             "/v1beta/xmodels/a:generateContent",
             "/v1beta/Models/a:generateContent",
             "/v1beta/files/abc",
             "/",
             "",
         })
        EXPECT_FALSE(gemini_rest_with_model(rest, "n")) << rest;
}

TEST(RequestBody, GeminiAmbiguousPathsAreLeftAlone) {
    for (std::string_view rest : {
             "/v1beta/models/gemini%2D2.5:generateContent",
             "/v1beta/models/gemini-2.5-pro%3AstreamGenerateContent?alt=sse",
             "/v1beta/models/a%3Ab:generateContent",
             "/v1beta/models%2Fa:generateContent",
             "/v1beta/models/a:b/models/c:d",
         })
        EXPECT_FALSE(gemini_rest_with_model(rest, "n")) << rest;
    EXPECT_FALSE(gemini_rest_with_model("/v1beta/models/a:generateContent", ""));
}

TEST(RequestBody, GeminiNewModelIsPercentEncoded) {
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/a:generateContent", "gemini-2.5_pro.~x"),
              "/v1beta/models/gemini-2.5_pro.~x:generateContent");
    EXPECT_EQ(gemini_rest_with_model("/v1beta/models/a:generateContent", "a b/c:d?e%#\xc3\xa9"),
              "/v1beta/models/a%20b%2Fc%3Ad%3Fe%25%23%C3%A9:generateContent");
}

TEST(RequestBody, ModelOfNamesTheRequestsModel) {
    using clipal::protocol;
    using clipal::worker::model_of;
    EXPECT_EQ(model_of(protocol::anthropic, "/v1/messages", R"({"model":"claude-sonnet-4-5","stream":true})"),
              "claude-sonnet-4-5");
    EXPECT_EQ(model_of(protocol::openai, "/v1/responses", R"({"input":[{"model":"nested"}],"model":"gpt-\u0035"})"),
              "gpt-5");
    EXPECT_EQ(model_of(protocol::gemini, "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "{}"),
              "gemini-2.5-pro");
    EXPECT_EQ(model_of(protocol::anthropic, "/v1/messages", R"({"model":1})"), std::nullopt);
    EXPECT_EQ(model_of(protocol::anthropic, "/v1/messages", R"({"model":"a")"), std::nullopt);
    EXPECT_EQ(model_of(protocol::anthropic, "/v1/messages", ""), std::nullopt);
    EXPECT_EQ(model_of(protocol::anthropic, "/v1/messages", R"({"model":"first","model":"last"})"), "last");
    const std::string long_name(5000, 'm');
    EXPECT_EQ(model_of(protocol::openai, "/v1/chat/completions", R"({"model":")" + long_name + R"("})"), long_name);
}

TEST(RequestBody, InspectRequestReadsStreamAndModelInOnePass) {
    using clipal::protocol;
    using clipal::worker::inspect_request;
    auto f =
        inspect_request(protocol::anthropic, "POST", "/v1/messages", R"({"model":"claude-sonnet-4-5","stream":true})");
    EXPECT_TRUE(f.streaming);
    EXPECT_EQ(f.model, "claude-sonnet-4-5");
    f = inspect_request(protocol::anthropic, "GET", "/v1/messages", R"({"stream":true,"model":"m"})");
    EXPECT_FALSE(f.streaming); // only a POST streams
    EXPECT_EQ(f.model, "m");
    f = inspect_request(protocol::openai, "POST", "/v1/responses", R"({"model":1,"stream":true})");
    EXPECT_TRUE(f.streaming);
    EXPECT_EQ(f.model, std::nullopt); // not a string
    f = inspect_request(protocol::openai, "POST", "/v1/responses", R"({"model":"a","stream":true)");
    EXPECT_FALSE(f.streaming); // not JSON: neither is read
    EXPECT_EQ(f.model, std::nullopt);
    f = inspect_request(protocol::openai, "POST", "/v1/responses", R"({"inner":{"model":"x","stream":true}})");
    EXPECT_FALSE(f.streaming);
    EXPECT_EQ(f.model, std::nullopt);
    f = inspect_request(protocol::gemini, "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", "{}");
    EXPECT_TRUE(f.streaming);
    EXPECT_EQ(f.model, "gemini-2.5-pro");
    f = inspect_request(protocol::gemini, "POST", "/v1beta/models/gemini-2.5-flash:generateContent",
                        R"({"model":"o"})");
    EXPECT_FALSE(f.streaming);
    EXPECT_EQ(f.model, "gemini-2.5-flash"); // the path names Gemini's model
}
