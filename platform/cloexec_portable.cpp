// POSIX: create, then fcntl(FD_CLOEXEC) at once (macOS has no pipe2, SOCK_CLOEXEC,
// SOCK_NONBLOCK or MSG_CMSG_CLOEXEC).
#include "platform/cloexec.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

namespace clipal::platform {

namespace {

// Closes `fds` keeping the errno of the failure being reported.
void close_all(const int* fds, int n) noexcept {
    const int saved = errno;
    for (int i = 0; i < n; ++i) ::close(fds[i]);
    errno = saved;
}

} // namespace

bool set_cloexec(int fd, bool on) noexcept {
    const int flags = ::fcntl(fd, F_GETFD);
    return flags != -1 && ::fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC)) != -1;
}

int pipe_cloexec(int fds[2]) noexcept {
    if (::pipe(fds) != 0) return -1;
    if (!set_cloexec(fds[0]) || !set_cloexec(fds[1])) {
        close_all(fds, 2);
        return -1;
    }
    return 0;
}

int socket_cloexec(int domain, int type, int protocol, bool nonblocking) noexcept {
    const int fd = ::socket(domain, type, protocol);
    if (fd < 0) return -1;
    bool ok = set_cloexec(fd);
    if (ok && nonblocking) {
        const int fl = ::fcntl(fd, F_GETFL);
        ok = fl != -1 && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != -1;
    }
    if (!ok) {
        close_all(&fd, 1);
        return -1;
    }
    return fd;
}

int socketpair_cloexec(int domain, int type, int protocol, int fds[2]) noexcept {
    if (::socketpair(domain, type, protocol, fds) != 0) return -1;
    if (!set_cloexec(fds[0]) || !set_cloexec(fds[1])) {
        close_all(fds, 2);
        return -1;
    }
    return 0;
}

ssize_t recvmsg_cloexec(int fd, msghdr* msg, int flags) noexcept {
    const ssize_t n = ::recvmsg(fd, msg, flags);
    if (n < 0 || msg->msg_controllen == 0) return n;
    const int saved = errno;
    for (cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const auto bytes = c->cmsg_len - CMSG_LEN(0);
        const auto* data = reinterpret_cast<const unsigned char*>(CMSG_DATA(c));
        for (std::size_t off = 0; off + sizeof(int) <= bytes; off += sizeof(int)) {
            int received = -1;
            std::memcpy(&received, data + off, sizeof received);
            // A descriptor that cannot be flagged is still owned by the caller, who closes it
            // with the message; it is only at risk of leaking into an exec meanwhile.
            if (received >= 0) set_cloexec(received);
        }
    }
    errno = saved;
    return n;
}

} // namespace clipal::platform
