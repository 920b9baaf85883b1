#include "ipc/passed_socket.hpp"

#include <sys/socket.h>

namespace clipal::ipc {
namespace {

std::optional<boost::asio::ip::tcp> family_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    if (ss.ss_family == AF_INET) return boost::asio::ip::tcp::v4();
    if (ss.ss_family == AF_INET6) return boost::asio::ip::tcp::v6();
    return std::nullopt;
}

template <typename Object>
std::optional<Object> adopt(boost::asio::io_context& ioc, unique_fd& fd) {
    const auto family = family_of(fd.get());
    if (!family) return std::nullopt;
    Object o(ioc);
    boost::system::error_code ec;
    o.assign(*family, fd.get(), ec);
    if (ec) return std::nullopt;
    fd.release();
    return o;
}

} // namespace

std::optional<boost::asio::ip::tcp::socket> adopt_socket(boost::asio::io_context& ioc, unique_fd& fd) {
    return adopt<boost::asio::ip::tcp::socket>(ioc, fd);
}

std::optional<local_tcp_socket> adopt_local_socket(boost::asio::io_context& ioc, unique_fd& fd) {
    return adopt<local_tcp_socket>(ioc, fd);
}

std::optional<boost::asio::ip::tcp::acceptor> adopt_acceptor(boost::asio::io_context& ioc, unique_fd& fd) {
    return adopt<boost::asio::ip::tcp::acceptor>(ioc, fd);
}

} // namespace clipal::ipc
