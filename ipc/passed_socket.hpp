// Turning a bare descriptor back into an Asio TCP socket or acceptor of the right address
// family: a connection received over the channel (either direction), or a listener and
// connections inherited across a re-execution.
#pragma once

#include "ipc/unique_fd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>

namespace clipal::ipc {

// A worker's connections live on its io_context's own executor type (worker/asio_types.hpp).
using local_tcp_socket = boost::asio::basic_stream_socket<boost::asio::ip::tcp, boost::asio::io_context::executor_type>;

// On success `fd` is released into the returned object; on failure (not a TCP socket of
// IPv4 or IPv6, or Asio refuses it) `fd` still owns the descriptor.
std::optional<boost::asio::ip::tcp::socket> adopt_socket(boost::asio::io_context& ioc, unique_fd& fd);
std::optional<local_tcp_socket> adopt_local_socket(boost::asio::io_context& ioc, unique_fd& fd);
std::optional<boost::asio::ip::tcp::acceptor> adopt_acceptor(boost::asio::io_context& ioc, unique_fd& fd);

} // namespace clipal::ipc
