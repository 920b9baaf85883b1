// Response texts modelled on what the real APIs return, field names included, so the
// real CLIs accept them (see REAL-CLIENTS.md in the team notes for what the clients send).
#include "support/fake_upstream/canned_responses.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace clipal::test::fake_upstream {
namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Escapes a provider name for embedding in a JSON string.
std::string json_escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out;
}

std::string sse(std::string_view event, std::string_view data) {
    std::string out;
    if (!event.empty()) out.append("event: ").append(event).append("\n");
    out.append("data: ").append(data).append("\n\n");
    return out;
}

std::string stream_of(const std::string& head, const std::vector<std::string>& events) {
    std::string out = head;
    for (const auto& e : events) out += chunk(e);
    out += last_chunk;
    return out;
}

constexpr std::string_view json_type = "application/json";
constexpr std::string_view sse_type = "text/event-stream; charset=utf-8";

const char* gemini_status_name(int status) {
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 408:
    case 504: return "DEADLINE_EXCEEDED";
    case 429: return "RESOURCE_EXHAUSTED";
    case 501: return "UNIMPLEMENTED";
    case 503: return "UNAVAILABLE";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

const char* anthropic_error_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

std::pair<const char*, const char*> openai_type_code(int status) {
    switch (status) {
    case 401: return {"invalid_request_error", "invalid_api_key"};
    case 403: return {"invalid_request_error", "unsupported_country_region_territory"};
    case 404: return {"invalid_request_error", "model_not_found"};
    case 429: return {"requests", "rate_limit_exceeded"};
    default: return {status >= 500 ? "server_error" : "invalid_request_error", nullptr};
    }
}

// The body and content type of a status step.
std::pair<std::string, std::string_view> error_body(const step& st, family f) {
    const std::string message =
        "fake-upstream: " + std::to_string(st.status) + " " + std::string(reason_phrase(st.status));
    switch (st.body) {
    case body_kind::empty: return {"", json_type};
    case body_kind::text:
        return {"upstream error " + std::to_string(st.status) + " " + std::string(reason_phrase(st.status)) + "\n",
                "text/plain; charset=utf-8"};
    case body_kind::anthropic_overloaded:
        return {R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", json_type};
    case body_kind::anthropic_rate_limit:
        return {
            R"({"type":"error","error":{"type":"rate_limit_error","message":"This request would exceed the rate limit for your organization of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."}})",
            json_type};
    case body_kind::anthropic_auth:
        return {R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}})", json_type};
    case body_kind::openai_insufficient_quota:
        return {
            R"({"error":{"message":"You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})",
            json_type};
    case body_kind::openai_invalid_key:
        return {
            R"({"error":{"message":"Incorrect API key provided: sk-fake***********1234. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})",
            json_type};
    case body_kind::openai_rate_limit:
        return {
            R"({"error":{"message":"Rate limit reached for gpt-5 in organization org-fake on requests per min (RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.","type":"requests","param":null,"code":"rate_limit_exceeded"}})",
            json_type};
    case body_kind::gemini_resource_exhausted:
        return {
            R"({"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}})",
            "application/json; charset=UTF-8"};
    case body_kind::openai_context_length:
        return {
            R"({"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})",
            json_type};
    case body_kind::anthropic_prompt_too_long:
        return {
            R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 215000 tokens > 200000 maximum"}})",
            json_type};
    case body_kind::gemini_token_limit:
        return {
            R"({"error":{"code":400,"message":"The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})",
            "application/json; charset=UTF-8"};
    case body_kind::openai_content_filter:
        return {
            R"({"error":{"message":"Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.","type":"invalid_request_error","param":null,"code":"content_policy_violation"}})",
            json_type};
    case body_kind::automatic: break;
    }
    switch (f) {
    case family::anthropic:
        return {std::string(R"({"type":"error","error":{"type":")") + anthropic_error_type(st.status) +
                    R"(","message":")" + message + R"("}})",
                json_type};
    case family::openai: {
        const auto [type, code] = openai_type_code(st.status);
        return {std::string(R"({"error":{"message":")") + message + R"(","type":")" + type +
                    R"(","param":null,"code":)" + (code ? std::string("\"") + code + "\"" : std::string("null")) + "}}",
                json_type};
    }
    case family::gemini:
        return {R"({"error":{"code":)" + std::to_string(st.status) + R"(,"message":")" + message + R"(","status":")" +
                    gemini_status_name(st.status) + R"("}})",
                "application/json; charset=UTF-8"};
    }
    return {message, "text/plain"};
}

} // namespace

api classify(std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (ends_with(path, "/messages/count_tokens")) return api::anthropic_count_tokens;
    if (ends_with(path, "/messages")) return api::anthropic_messages;
    if (ends_with(path, "/responses")) return api::openai_responses;
    if (ends_with(path, "/chat/completions")) return api::openai_chat;
    if (ends_with(path, ":streamGenerateContent")) return api::gemini_stream;
    if (ends_with(path, ":generateContent")) return api::gemini_generate;
    if (ends_with(path, ":countTokens")) return api::gemini_count_tokens;
    return api::other;
}

family family_of(api a) {
    switch (a) {
    case api::anthropic_messages:
    case api::anthropic_count_tokens: return family::anthropic;
    case api::gemini_generate:
    case api::gemini_stream:
    case api::gemini_count_tokens: return family::gemini;
    default: return family::openai;
    }
}

std::string_view reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 102: return "Processing";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Site Overloaded";
    default: return "Unknown";
    }
}

namespace {
std::string head_lines(int status, const header_fields& headers) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
    return out;
}
} // namespace

std::string full_response(int status, const header_fields& headers, std::string_view body) {
    std::string out = head_lines(status, headers);
    if (status >= 200 && status != 204 && status != 304)
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    out.append("\r\n").append(body);
    return out;
}

std::string interim_response(int status) {
    // Each code with the headers it comes with in the wild, so a client parses what it would meet.
    switch (status) {
    case 101: return head_lines(status, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}}) + "\r\n";
    case 103: return head_lines(status, {{"Link", "</hint.css>; rel=preload; as=style"}}) + "\r\n";
    default: return head_lines(status, {}) + "\r\n";
    }
}

std::string chunked_head(int status, const header_fields& headers) {
    return head_lines(status, headers) + "Transfer-Encoding: chunked\r\n\r\n";
}

std::string chunk(std::string_view data) {
    char size[20];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string out(size, static_cast<std::size_t>(n));
    out.append(data).append("\r\n");
    return out;
}

std::string status_response(const step& st, family f) {
    auto [body, type] = error_body(st, f);
    header_fields headers;
    if (!body.empty()) headers.emplace_back("Content-Type", std::string(type));
    if (!st.retry_after.empty()) headers.emplace_back("Retry-After", st.retry_after);
    if (!st.reset_requests.empty()) headers.emplace_back("X-RateLimit-Reset-Requests", st.reset_requests);
    if (!st.reset_tokens.empty()) headers.emplace_back("X-RateLimit-Reset-Tokens", st.reset_tokens);
    if (f == family::anthropic) headers.emplace_back("request-id", "req_fake_error");
    if (st.gzip && !body.empty()) {
        headers.emplace_back("Content-Encoding", "gzip");
        body = gzip(body);
    }
    return full_response(st.status, headers, body);
}

std::string gzip(std::string_view data) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
    return out;
}

std::string gzip_response(std::string_view response) {
    const auto head_end = response.find("\r\n\r\n");
    if (head_end == std::string_view::npos) return std::string(response);
    std::string head(response.substr(0, head_end + 2)); // header lines, each ending in CRLF
    const std::string_view body = response.substr(head_end + 4);
    constexpr std::string_view chunked_line = "Transfer-Encoding: chunked\r\n";
    if (head.find(chunked_line) != std::string::npos) {
        // De-chunk what chunk() built, then send it as one gzip chunk.
        std::string decoded;
        for (std::size_t at = 0;;) {
            const auto line_end = body.find("\r\n", at);
            if (line_end == std::string_view::npos) break;
            const auto size = std::stoul(std::string(body.substr(at, line_end - at)), nullptr, 16);
            if (size == 0) break;
            decoded.append(body.substr(line_end + 2, size));
            at = line_end + 2 + size + 2;
        }
        return head + "Content-Encoding: gzip\r\n\r\n" + chunk(gzip(decoded)) + std::string(last_chunk);
    }
    constexpr std::string_view length_name = "Content-Length: ";
    const auto length_at = head.find(length_name);
    if (length_at == std::string::npos || body.empty()) return std::string(response);
    head.erase(length_at, head.find("\r\n", length_at) + 2 - length_at);
    const std::string gz = gzip(body);
    return head + "Content-Encoding: gzip\r\nContent-Length: " + std::to_string(gz.size()) + "\r\n\r\n" + gz;
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("EVP_Digest failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

namespace {

std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    return i;
}

// The index just past the JSON string starting at s[i] == '"', or npos if it does not end.
std::size_t string_end(std::string_view s, std::size_t i) {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\')
            ++i;
        else if (s[i] == '"')
            return i + 1;
    }
    return std::string_view::npos;
}

bool plain_model_name(std::string_view m) {
    if (m.empty() || m.size() > 200) return false;
    return std::none_of(m.begin(), m.end(),
                        [](char c) { return c == '\\' || c == '"' || static_cast<unsigned char>(c) < 0x20; });
}

// The top-level "model" string of a JSON object, scanned without building the document.
std::string_view top_level_model(std::string_view body) {
    std::size_t i = skip_ws(body, 0);
    if (i >= body.size() || body[i] != '{') return {};
    int depth = 0;
    bool expect_key = false;
    while (i < body.size()) {
        const char c = body[i];
        if (c == '"') {
            const auto end = string_end(body, i);
            if (end == std::string_view::npos) return {};
            if (depth == 1 && expect_key) {
                expect_key = false;
                if (body.substr(i, end - i) == "\"model\"") {
                    auto v = skip_ws(body, end);
                    if (v >= body.size() || body[v] != ':') return {};
                    v = skip_ws(body, v + 1);
                    if (v >= body.size() || body[v] != '"') return {};
                    const auto vend = string_end(body, v);
                    if (vend == std::string_view::npos) return {};
                    const auto m = body.substr(v + 1, vend - v - 2);
                    return plain_model_name(m) ? m : std::string_view{};
                }
            }
            i = end;
            continue;
        }
        if (c == '{' || c == '[') {
            ++depth;
            if (depth == 1) expect_key = true;
        } else if (c == '}' || c == ']') {
            if (--depth <= 0) return {};
        } else if (c == ',' && depth == 1) {
            expect_key = true;
        }
        ++i;
    }
    return {};
}

} // namespace

std::string_view requested_model(std::string_view target, std::string_view body) {
    const api a = classify(target);
    if (family_of(a) != family::gemini || a == api::other) return top_level_model(body);
    const std::string_view path = target.substr(0, target.find('?'));
    const auto at = path.rfind("/models/");
    if (at == std::string_view::npos) return {};
    const auto name = path.substr(at + 8);
    const auto colon = name.find(':');
    if (colon == std::string_view::npos) return {};
    const auto m = name.substr(0, colon);
    return plain_model_name(m) && m.find('/') == std::string_view::npos ? m : std::string_view{};
}

canned_responses::canned_responses(const std::string& provider_name, std::string_view requested) {
    const std::string name = json_escape(provider_name);
    const std::string model = requested.empty() ? "fake-model" : std::string(requested);
    const std::string gemini_model = requested.empty() ? "gemini-fake" : std::string(requested);
    const std::string text = "Hello from " + name;
    const header_fields json_headers{{"Content-Type", std::string(json_type)}};
    const header_fields sse_headers{{"Content-Type", std::string(sse_type)}, {"Cache-Control", "no-cache"}};

    // Anthropic Messages (https://docs.claude.com/en/docs/build-with-claude/streaming).
    const std::string usage_start =
        R"("usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":1})";
    anthropic_.json = full_response(
        200, {{"Content-Type", std::string(json_type)}, {"request-id", "req_fake_" + name}},
        R"({"id":"msg_fake_)" + name + R"(","type":"message","role":"assistant","model":")" + model +
            R"(","content":[{"type":"text","text":")" + text +
            R"("}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":5}})");
    anthropic_.events = {
        sse("message_start", R"({"type":"message_start","message":{"id":"msg_fake_)" + name +
                                 R"(","type":"message","role":"assistant","model":")" + model +
                                 R"(","content":[],"stop_reason":null,"stop_sequence":null,)" + usage_start + "}}"),
        sse("content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"),
        sse("ping", R"({"type": "ping"})"),
        sse("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" + text + R"("}})"),
        sse("content_block_stop", R"({"type":"content_block_stop","index":0})"),
        sse("message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}})"),
        sse("message_stop", R"({"type":"message_stop"})"),
    };
    header_fields anthropic_sse = sse_headers;
    anthropic_sse.emplace_back("request-id", "req_fake_" + name);
    anthropic_.stream_head = chunked_head(200, anthropic_sse);

    // OpenAI Responses (https://platform.openai.com/docs/api-reference/responses-streaming).
    const std::string item_id = "msg_fake_" + name;
    const std::string resp_id = "resp_fake_" + name;
    const std::string part_done = R"({"type":"output_text","text":")" + text + R"(","annotations":[]})";
    const std::string item_done = R"({"id":")" + item_id +
                                  R"(","type":"message","status":"completed","role":"assistant","content":[)" +
                                  part_done + "]}";
    const std::string usage =
        R"({"input_tokens":12,"input_tokens_details":{"cached_tokens":0},"output_tokens":5,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":17})";
    auto response_obj = [&](const char* status, const std::string& output, const std::string& use) {
        return R"({"id":")" + resp_id + R"(","object":"response","created_at":1767225600,"status":")" + status +
               R"(","error":null,"incomplete_details":null,"model":")" + model + R"(","output":[)" + output +
               R"(],"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":)" + use + "}";
    };
    responses_.json = full_response(200, json_headers, response_obj("completed", item_done, usage));
    const std::string ids = R"("item_id":")" + item_id + R"(","output_index":0,"content_index":0,)";
    responses_.events = {
        sse("response.created", R"({"type":"response.created","sequence_number":0,"response":)" +
                                    response_obj("in_progress", "", "null") + "}"),
        sse("response.in_progress", R"({"type":"response.in_progress","sequence_number":1,"response":)" +
                                        response_obj("in_progress", "", "null") + "}"),
        sse("response.output_item.added",
            R"({"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":")" + item_id +
                R"(","type":"message","status":"in_progress","role":"assistant","content":[]}})"),
        sse("response.content_part.added", R"({"type":"response.content_part.added","sequence_number":3,)" + ids +
                                               R"("part":{"type":"output_text","text":"","annotations":[]}})"),
        sse("response.output_text.delta",
            R"({"type":"response.output_text.delta","sequence_number":4,)" + ids + R"("delta":")" + text + R"("})"),
        sse("response.output_text.done",
            R"({"type":"response.output_text.done","sequence_number":5,)" + ids + R"("text":")" + text + R"("})"),
        sse("response.content_part.done",
            R"({"type":"response.content_part.done","sequence_number":6,)" + ids + R"("part":)" + part_done + "}"),
        sse("response.output_item.done",
            R"({"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":)" + item_done + "}"),
        sse("response.completed", R"({"type":"response.completed","sequence_number":8,"response":)" +
                                      response_obj("completed", item_done, usage) + "}"),
    };
    responses_.stream_head = chunked_head(200, sse_headers);

    // OpenAI Chat Completions.
    const std::string chat_prefix = R"({"id":"chatcmpl-fake-)" + name +
                                    R"(","object":"chat.completion.chunk","created":1767225600,"model":")" + model +
                                    R"(","choices":[{"index":0,)";
    chat_.json = full_response(
        200, json_headers,
        R"({"id":"chatcmpl-fake-)" + name + R"(","object":"chat.completion","created":1767225600,"model":")" + model +
            R"(","choices":[{"index":0,"message":{"role":"assistant","content":")" + text +
            R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})");
    chat_.events = {
        sse("", chat_prefix + R"("delta":{"role":"assistant","content":""},"finish_reason":null}]})"),
        sse("", chat_prefix + R"("delta":{"content":")" + text + R"("},"finish_reason":null}]})"),
        sse("", chat_prefix + R"("delta":{},"finish_reason":"stop"}]})"),
        sse("", "[DONE]"),
    };
    chat_.stream_head = chunked_head(200, sse_headers);

    // Gemini generateContent / streamGenerateContent (Google separates SSE events with CRLF).
    auto candidate = [&](const std::string& t, bool last) {
        std::string c = R"({"candidates":[{"content":{"parts":[{"text":")" + t + R"("}],"role":"model"})";
        if (last) c += R"(,"finishReason":"STOP")";
        c +=
            R"(,"index":0}],"usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":5,"totalTokenCount":17},"modelVersion":")" +
            gemini_model + R"(","responseId":"fake-)" + name + R"("})";
        return c;
    };
    const header_fields gemini_json{{"Content-Type", "application/json; charset=UTF-8"}};
    gemini_.json = full_response(200, gemini_json, candidate(text, true));
    // Gemini CLI's routing and next-speaker calls ask for JSON output with a schema.
    gemini_json_text_ = full_response(
        200, gemini_json,
        candidate(R"({\"reasoning\":\")" + text + R"(\",\"model_choice\":\"flash\",\"next_speaker\":\"user\"})", true));
    gemini_.events = {
        "data: " + candidate(text, false) + "\r\n\r\n",
        "data: " + candidate("", true) + "\r\n\r\n",
    };
    gemini_.stream_head = chunked_head(200, {{"Content-Type", "text/event-stream"}});
    gemini_stream_json_ =
        full_response(200, gemini_json, "[" + candidate(text, false) + ",\r\n" + candidate("", true) + "]");

    other_.json = full_response(200, json_headers, R"({"ok":true})");
    other_.events = {sse("ping", R"({"ok":true})")};
    other_.stream_head = chunked_head(200, sse_headers);

    for (variant* v : {&anthropic_, &responses_, &chat_, &gemini_, &other_})
        v->stream = stream_of(v->stream_head, v->events);

    websocket_refusal_ = full_response(
        426, {{"Content-Type", std::string(json_type)}},
        R"({"error":{"message":"fake-upstream does not speak WebSocket; use HTTP","type":"invalid_request_error","param":null,"code":"websocket_not_supported"}})");
}

const canned_responses::variant& canned_responses::of(api a) const {
    switch (a) {
    case api::anthropic_messages:
    case api::anthropic_count_tokens: return anthropic_;
    case api::openai_responses: return responses_;
    case api::openai_chat: return chat_;
    case api::gemini_generate:
    case api::gemini_stream:
    case api::gemini_count_tokens: return gemini_;
    case api::other: break;
    }
    return other_;
}

const std::string& canned_responses::ok(api a, bool stream, bool json_text) const {
    if (a == api::gemini_generate && json_text) return gemini_json_text_;
    if (a == api::gemini_stream && !stream) return gemini_stream_json_;
    if (a == api::gemini_stream) return gemini_.stream;
    if (a == api::other) return other_.json;
    const variant& v = of(a);
    return stream ? v.stream : v.json;
}

const std::vector<std::string>& canned_responses::events(api a) const { return of(a).events; }

const std::string& canned_responses::stream_head(api a) const { return of(a).stream_head; }

std::string count_tokens_response(api a, std::size_t body_length) {
    const std::string n = std::to_string(body_length / 4 + 1);
    const std::string body =
        a == api::gemini_count_tokens ? R"({"totalTokens":)" + n + "}" : R"({"input_tokens":)" + n + "}";
    return full_response(200, {{"Content-Type", std::string(json_type)}}, body);
}

namespace {
// splitmix64: a cheap, well-mixed function of the position, so no two stretches of the
// pattern repeat and a duplicated or dropped piece changes the digest.
std::uint64_t pattern_word(std::uint64_t index) {
    std::uint64_t z = index + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
} // namespace

void fill_pattern(std::size_t offset, char* out, std::size_t n) {
    for (std::size_t i = 0; i < n;) {
        const std::size_t pos = offset + i;
        const std::uint64_t w = pattern_word(pos / 8);
        unsigned char bytes[8];
        std::memcpy(bytes, &w, 8);
        const std::size_t from = pos % 8;
        const std::size_t take = std::min<std::size_t>(8 - from, n - i);
        std::memcpy(out + i, bytes + from, take);
        i += take;
    }
}

std::string pattern_sha256_hex(std::size_t length) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) {
        EVP_MD_CTX_free(ctx);
        throw std::runtime_error("EVP_DigestInit_ex failed");
    }
    std::string block(65536, '\0');
    for (std::size_t off = 0; off < length; off += block.size()) {
        const std::size_t n = std::min(block.size(), length - off);
        fill_pattern(off, block.data(), n);
        EVP_DigestUpdate(ctx, block.data(), n);
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 0xf];
    }
    return out;
}

} // namespace clipal::test::fake_upstream
