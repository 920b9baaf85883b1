#include "supervisor/inherited_socket.hpp"

#include <sys/socket.h>

namespace clipal::supervisor {
namespace {

std::optional<boost::asio::ip::tcp> family_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return std::nullopt;
    if (ss.ss_family == AF_INET) return boost::asio::ip::tcp::v4();
    if (ss.ss_family == AF_INET6) return boost::asio::ip::tcp::v6();
    return std::nullopt;
}

} // namespace

std::optional<boost::asio::ip::tcp::socket> socket_from_fd(boost::asio::io_context& ioc, int fd) {
    const auto family = family_of(fd);
    if (!family) return std::nullopt;
    boost::asio::ip::tcp::socket s(ioc);
    boost::system::error_code ec;
    s.assign(*family, fd, ec);
    if (ec) return std::nullopt;
    return s;
}

std::optional<boost::asio::ip::tcp::acceptor> acceptor_from_fd(boost::asio::io_context& ioc, int fd) {
    const auto family = family_of(fd);
    if (!family) return std::nullopt;
    boost::asio::ip::tcp::acceptor a(ioc);
    boost::system::error_code ec;
    a.assign(*family, fd, ec);
    if (ec) return std::nullopt;
    return a;
}

} // namespace clipal::supervisor
