// Turning a bare descriptor (received over the channel, or inherited across a
// re-execution) back into an Asio TCP socket or acceptor of the right address family.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>

namespace clipal::supervisor {

// Takes ownership of `fd` on success; on failure `fd` is left to the caller.
std::optional<boost::asio::ip::tcp::socket> socket_from_fd(boost::asio::io_context& ioc, int fd);
std::optional<boost::asio::ip::tcp::acceptor> acceptor_from_fd(boost::asio::io_context& ioc, int fd);

} // namespace clipal::supervisor
