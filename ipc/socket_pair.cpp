// socketpair/fcntl/setsockopt plumbing for the channel descriptors.
#include "ipc/socket_pair.hpp"

#include "ipc/channel_transport.hpp"
#include "ipc/frame_codec.hpp"
#include "platform/cloexec.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace clipal::ipc {
namespace {

boost::system::error_code last_error() { return {errno, boost::system::system_category()}; }

} // namespace

boost::system::error_code size_buffers(int fd) {
    // Linux doubles the requested value and caps it at net.core.[rw]mem_max first; the
    // default cap (208 KiB, doubled) still leaves room for one max-size frame.
    const int want = static_cast<int>(2 * max_frame_size);
    for (int opt : {SO_SNDBUF, SO_RCVBUF})
        if (::setsockopt(fd, SOL_SOCKET, opt, &want, sizeof want) != 0) return last_error();
    return {};
}

boost::system::result<socket_pair> make_socket_pair() {
    int fds[2];
    if (platform::socketpair_cloexec(AF_UNIX, transport::socket_type(), 0, fds) != 0) return last_error();
    socket_pair p{unique_fd(fds[0]), unique_fd(fds[1])};
    for (int fd : fds)
        if (auto ec = size_buffers(fd)) return ec;
    return p;
}

bool inherit_as(int fd, int target) noexcept {
    if (fd != target) return ::dup2(fd, target) == target;
    return platform::set_cloexec(fd, false);
}

boost::system::result<unique_fd> adopt_inherited(int fd) {
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return last_error();
    if (type != transport::socket_type())
        return boost::system::error_code(EPROTOTYPE, boost::system::system_category());
    unique_fd owned(fd);
    if (!platform::set_cloexec(fd)) return last_error();
    if (auto ec = size_buffers(fd)) return ec;
    return owned;
}

} // namespace clipal::ipc
