// The HTTP messages of the data path, with their fields in a worker's block_pool (no malloc
// per header field once the pool is warm). Default-constructed allocators (tests) use the
// heap.
#pragma once

#include "worker/block_pool.hpp"

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

namespace clipal::worker {

using field_allocator = pool_allocator<char>;
using http_fields = boost::beast::http::basic_fields<field_allocator>;
using client_request = boost::beast::http::request<boost::beast::http::string_body, http_fields>;
using client_request_parser = boost::beast::http::request_parser<boost::beast::http::string_body, field_allocator>;
using upstream_response_header = boost::beast::http::response_header<http_fields>;
using upstream_response_parser = boost::beast::http::response_parser<boost::beast::http::buffer_body, field_allocator>;

} // namespace clipal::worker
