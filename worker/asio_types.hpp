// The worker's Asio and Beast I/O objects, bound to its io_context's own executor type
// instead of any_io_executor. The type-erased executor is copied, moved and destroyed
// through a vtable by every operation and handler (callgrind: ~3,000 instructions per
// proxied request); the worker runs one io_context on one thread, so nothing needs the
// erasure.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>

namespace clipal::worker {

using executor = boost::asio::io_context::executor_type;
using tcp_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, executor>;
using tcp_acceptor = boost::asio::basic_socket_acceptor<boost::asio::ip::tcp, executor>;
using tcp_resolver = boost::asio::ip::basic_resolver<boost::asio::ip::tcp, executor>;
using steady_timer = boost::asio::basic_waitable_timer<std::chrono::steady_clock,
                                                       boost::asio::wait_traits<std::chrono::steady_clock>, executor>;
using tcp_stream = boost::beast::basic_stream<boost::asio::ip::tcp, executor>;

} // namespace clipal::worker
