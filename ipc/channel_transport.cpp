// What both channel transports share: recvmsg/sendmsg with SCM_RIGHTS, and the write of a
// frame, which is the same loop for both socket types.
#include "ipc/channel_transport.hpp"

#include "platform/cloexec.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace clipal::ipc::transport {
namespace {

// Room for more descriptors than any message carries, so that extra ones are
// received (and closed) instead of truncating the control data.
constexpr std::size_t max_received_fds = 4;

bool would_block(int error) { return error == EAGAIN || error == EWOULDBLOCK; }

ssize_t send_with_descriptor(int socket, byte_view data, int fd) {
    iovec iov{const_cast<std::uint8_t*>(data.data()), data.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))];
    if (fd >= 0) {
        std::memset(control, 0, sizeof control);
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return ::sendmsg(socket, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
}

} // namespace

write_status write(int socket, byte_view frame, std::size_t& sent, int fd) {
    // A SOCK_SEQPACKET send is all or nothing, so this loop runs once there. A SOCK_STREAM
    // send may take part of the frame: the descriptor went with the first of those bytes,
    // so it is attached only while nothing has gone (a send that failed with EAGAIN took
    // neither bytes nor descriptor, and the retry attaches it again).
    while (sent < frame.size()) {
        const ssize_t n = send_with_descriptor(socket, frame.subspan(sent), sent == 0 ? fd : -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return would_block(errno) ? write_status::would_block : write_status::failed;
        }
        sent += static_cast<std::size_t>(n);
    }
    return write_status::done;
}

received receive(int socket, std::span<std::uint8_t> into) {
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * max_received_fds)];
    iovec iov{into.data(), into.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;

    received r;
    r.n = platform::recvmsg_cloexec(socket, &msg, MSG_DONTWAIT);
    if (r.n < 0) {
        r.error = errno;
        return r;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            r.fds.emplace_back(fd);
        }
    }
    r.truncated = (msg.msg_flags & MSG_TRUNC) != 0;
    r.descriptors_cut = (msg.msg_flags & MSG_CTRUNC) != 0;
    return r;
}

read_result receive_failed(int error) {
    if (error == EINTR) return {};
    if (would_block(error)) return {read_status::would_block, {}, {}};
    const boost::system::error_code ec(error, boost::system::system_category());
    return {read_status::failed, ec, "reading from the channel failed: " + ec.message()};
}

} // namespace clipal::ipc::transport
