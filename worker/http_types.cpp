#include "worker/http_types.hpp"

#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <cstring>

namespace clipal::worker {
namespace {

namespace http = boost::beast::http;

// Copies what fits of `in` into the window, as Beast's buffer_body reader does.
std::size_t copy_into(body_window& w, std::string_view in, boost::system::error_code& ec) {
    if (w.data == nullptr) {
        ec = http::error::need_buffer;
        return 0;
    }
    const auto n = std::min(w.size, in.size());
    if (n > 0) std::memcpy(w.data, in.data(), n);
    w.data = static_cast<char*>(w.data) + n;
    w.size -= n;
    if (n < in.size()) ec = http::error::need_buffer;
    return n;
}

} // namespace

void client_request_parser::on_request_impl(http::verb method, string_view method_str, string_view target, int version,
                                            error_code&) {
    request_.method_ = method;
    request_.method_string_ = request_.keep(method_str);
    request_.target_ = request_.keep(target);
    request_.version_ = static_cast<unsigned>(version);
}

void client_request_parser::on_field_impl(http::field name, string_view name_string, string_view value, error_code&) {
    request_.insert(name, name_string, value);
}

void client_request_parser::on_header_impl(error_code&) {
    request_.keep_alive_ = keep_alive();
    request_.has_content_length_ = content_length().has_value();
    request_.chunked_ = chunked();
}

void client_request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) {
    if (!content_length) return;
    if (*content_length > request_.body().max_size()) {
        ec = http::error::buffer_overflow;
        return;
    }
    request_.body().reserve(static_cast<std::size_t>(*content_length));
}

std::size_t client_request_parser::on_body_impl(string_view body, error_code& ec) {
    if (body.size() > request_.body().max_size() - request_.body().size()) {
        ec = http::error::buffer_overflow;
        return 0;
    }
    request_.body().append(body.data(), body.size());
    return body.size();
}

std::size_t client_request_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
    return on_body_impl(body, ec);
}

void upstream_response_parser::on_response_impl(int code, string_view reason, int version, error_code&) {
    response_.status_ = code;
    response_.version_ = static_cast<unsigned>(version);
    response_.reason_ = response_.keep(reason);
}

void upstream_response_parser::on_field_impl(http::field name, string_view name_string, string_view value,
                                             error_code&) {
    response_.insert(name, name_string, value);
}

std::size_t upstream_response_parser::on_body_impl(string_view body, error_code& ec) {
    return copy_into(response_.body(), body, ec);
}

std::size_t upstream_response_parser::on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) {
    return copy_into(response_.body(), body, ec);
}

} // namespace clipal::worker
