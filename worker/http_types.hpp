// The two messages of the data path — the client's request and the upstream's response head
// — and their parsers: Beast's basic_parser (which does all of HTTP/1.1's syntax, framing and
// limits) filling a header_block instead of Beast's node-per-field container. The accessors
// are the ones of Beast's message that the worker uses, under the same names.
#pragma once

#include "worker/header_block.hpp"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace clipal::worker {

class request_head : public header_block {
public:
    explicit request_head(block_pool* pool = nullptr) noexcept : header_block(pool) {}

    boost::beast::http::verb method() const noexcept { return method_; }
    std::string_view method_string() const noexcept { return view(method_string_); }
    std::string_view target() const noexcept { return view(target_); }
    unsigned version() const noexcept { return version_; }
    // As the parser judged them from the head (HTTP version, Connection, Content-Length,
    // Transfer-Encoding).
    bool keep_alive() const noexcept { return keep_alive_; }
    bool has_content_length() const noexcept { return has_content_length_; }
    bool chunked() const noexcept { return chunked_; }

private:
    friend class client_request_parser;
    boost::beast::http::verb method_ = boost::beast::http::verb::unknown;
    text_span method_string_;
    text_span target_;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool has_content_length_ = false;
    bool chunked_ = false;
};

class client_request : public request_head {
public:
    using request_head::request_head;
    std::string& body() noexcept { return body_; }
    const std::string& body() const noexcept { return body_; }

private:
    std::string body_;
};

class response_head : public header_block {
public:
    explicit response_head(block_pool* pool = nullptr) noexcept : header_block(pool) {}

    int result_int() const noexcept { return status_; }
    boost::beast::http::status result() const noexcept { return boost::beast::http::int_to_status(status_); }
    std::string_view reason() const noexcept { return view(reason_); }
    unsigned version() const noexcept { return version_; }
    // For building heads by hand (tests); the parser sets them from the status line.
    void result(boost::beast::http::status s) noexcept { status_ = static_cast<int>(s); }
    void version(unsigned v) noexcept { version_ = v; }
    void reason(std::string_view r) { reason_ = keep(r); }

private:
    friend class upstream_response_parser;
    int status_ = 0;
    unsigned version_ = 11;
    text_span reason_;
};

// Reads a request: its head into a client_request, its body appended to body() (bounded by
// the parser's body_limit, as Beast's string_body is).
class client_request_parser final : public boost::beast::http::basic_parser<true> {
public:
    explicit client_request_parser(block_pool* pool = nullptr) noexcept : request_(pool) {}
    client_request& get() noexcept { return request_; }
    client_request release() noexcept { return std::move(request_); }

private:
    using string_view = boost::beast::string_view;
    using error_code = boost::system::error_code;
    void on_request_impl(boost::beast::http::verb method, string_view method_str, string_view target, int version,
                         error_code& ec) override;
    void on_response_impl(int, string_view, int, error_code&) override {}
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length, error_code& ec) override;
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override;
    void on_finish_impl(error_code&) override {}

    client_request request_;
};

// Where a response's body bytes go, as with Beast's buffer_body: the caller points `data` at
// `size` free bytes; the parser copies into them and advances both, and stops with
// http::error::need_buffer when they are full (or `data` is null).
struct body_window {
    void* data = nullptr;
    std::size_t size = 0;
};

class upstream_response : public response_head {
public:
    using response_head::response_head;
    body_window& body() noexcept { return body_; }

private:
    body_window body_;
};

class upstream_response_parser final : public boost::beast::http::basic_parser<false> {
public:
    explicit upstream_response_parser(block_pool* pool = nullptr) noexcept : response_(pool) {}
    upstream_response& get() noexcept { return response_; }

private:
    using string_view = boost::beast::string_view;
    using error_code = boost::system::error_code;
    void on_request_impl(boost::beast::http::verb, string_view, string_view, int, error_code&) override {}
    void on_response_impl(int code, string_view reason, int version, error_code& ec) override;
    void on_field_impl(boost::beast::http::field name, string_view name_string, string_view value,
                       error_code& ec) override;
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
    std::size_t on_body_impl(string_view body, error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code& ec) override;
    void on_finish_impl(error_code&) override {}

    upstream_response response_;
};

// Puts the bytes `buffer` holds into `parser` until done() or they run out, consuming what it
// takes; bytes already read cost no read operation (Beast's would post its completion even
// when no byte is missing). need_more is no error: the rest is still to be read. Returns the
// parse error, if any.
template <class Parser, class DynamicBuffer, class Done>
boost::system::error_code put_buffered(Parser& parser, DynamicBuffer& buffer, Done done) {
    boost::system::error_code ec;
    while (!done() && buffer.size() > 0) {
        const auto used = parser.put(buffer.data(), ec);
        buffer.consume(used);
        if (ec == boost::beast::http::error::need_more) return {};
        if (ec) return ec;
        if (used == 0) break; // no progress without more bytes
    }
    return {};
}

} // namespace clipal::worker
