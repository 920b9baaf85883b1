// Error type names per status, taken from each vendor's documented error catalogue.
#include "shared/error_body.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace clipal {
namespace {

std::string_view anthropic_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

std::string_view openai_type(int status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

std::string_view openai_code(int status) {
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 413: return "request_too_large";
    case 429: return "rate_limit_exceeded";
    case 502: return "bad_gateway";
    case 503: return "service_unavailable";
    case 504: return "gateway_timeout";
    case 529: return "overloaded";
    default: return status >= 500 ? "internal_error" : "invalid_request";
    }
}

// google.rpc.Code names as Google APIs pair them with HTTP statuses.
std::string_view gemini_status(int status) {
    switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 409: return "ABORTED";
    case 413: return "INVALID_ARGUMENT";
    case 429: return "RESOURCE_EXHAUSTED";
    case 500: return "INTERNAL";
    case 501: return "UNIMPLEMENTED";
    case 502:
    case 503:
    case 529: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    }
}

} // namespace

std::string error_body(protocol p, int http_status, std::string_view message) {
    boost::json::value v;
    switch (p) {
    case protocol::anthropic:
        v = {{"type", "error"}, {"error", {{"type", anthropic_type(http_status)}, {"message", message}}}};
        break;
    case protocol::openai:
        v = {{"error", {{"message", message}, {"type", openai_type(http_status)}, {"code", openai_code(http_status)}}}};
        break;
    case protocol::gemini:
        v = {{"error", {{"code", http_status}, {"message", message}, {"status", gemini_status(http_status)}}}};
        break;
    }
    return boost::json::serialize(v);
}

} // namespace clipal
