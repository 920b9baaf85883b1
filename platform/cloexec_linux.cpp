// Linux: the flag is set by the call that creates the descriptor.
#include "platform/cloexec.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace clipal::platform {

int pipe_cloexec(int fds[2]) noexcept { return ::pipe2(fds, O_CLOEXEC); }

int socket_cloexec(int domain, int type, int protocol, bool nonblocking) noexcept {
    return ::socket(domain, type | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), protocol);
}

int socketpair_cloexec(int domain, int type, int protocol, int fds[2]) noexcept {
    return ::socketpair(domain, type | SOCK_CLOEXEC, protocol, fds);
}

ssize_t recvmsg_cloexec(int fd, msghdr* msg, int flags) noexcept {
    return ::recvmsg(fd, msg, flags | MSG_CMSG_CLOEXEC);
}

bool set_cloexec(int fd, bool on) noexcept {
    const int flags = ::fcntl(fd, F_GETFD);
    return flags != -1 && ::fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC)) != -1;
}

} // namespace clipal::platform
