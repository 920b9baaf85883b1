#include "shared/local_response.hpp"

#include "shared/error_body.hpp"

#include <fmt/format.h>

namespace clipal {
namespace {

// The statuses clipal answers with itself; the phrase is informative only (RFC 9112 §4).
std::string_view reason_of(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

} // namespace

local_response health_response() { return {200, R"({"status":"healthy"})", std::nullopt, "application/json", {}}; }

local_response error_response(protocol p, int status, std::string_view message,
                              std::optional<std::chrono::seconds> retry_after) {
    return {status, error_body(p, status, message), retry_after, "application/json", {}};
}

std::string to_wire(const local_response& r, bool keep_alive, unsigned minor_version, bool head_request) {
    const auto safe = [](std::string_view v) { return v.find_first_of(std::string_view("\r\n\0", 3)) == v.npos; };
    const std::string_view type = safe(r.content_type) ? std::string_view(r.content_type) : "application/json";
    std::string out = fmt::format("HTTP/1.{} {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
                                  minor_version == 0 ? 0 : 1, r.status, reason_of(r.status), type, r.body.size());
    if (!r.content_encoding.empty() && safe(r.content_encoding))
        out += fmt::format("Content-Encoding: {}\r\n", r.content_encoding);
    if (r.retry_after) out += fmt::format("Retry-After: {}\r\n", r.retry_after->count());
    if (!keep_alive)
        out += "Connection: close\r\n";
    else if (minor_version == 0)
        out += "Connection: keep-alive\r\n";
    out += "\r\n";
    if (!head_request) out += r.body;
    return out;
}

} // namespace clipal
