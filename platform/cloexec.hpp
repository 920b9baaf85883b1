// Descriptors no child inherits by accident: every descriptor clipal creates or receives is
// close-on-exec from the start. Linux sets the flag in the creating call itself (pipe2,
// SOCK_CLOEXEC, MSG_CMSG_CLOEXEC); the portable sibling sets it with fcntl right after.
// That leaves a window only against a fork() on another thread between the two calls, and
// clipal's processes create descriptors on one thread and fork on that same thread.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

namespace clipal::platform {

// pipe(2), both ends close-on-exec. 0, or -1 with errno (nothing left open).
int pipe_cloexec(int fds[2]) noexcept;

// socket(2), close-on-exec, and O_NONBLOCK when `nonblocking`. The descriptor, or -1 with errno.
int socket_cloexec(int domain, int type, int protocol, bool nonblocking = false) noexcept;

// socketpair(2), both ends close-on-exec. 0, or -1 with errno (nothing left open).
int socketpair_cloexec(int domain, int type, int protocol, int fds[2]) noexcept;

// recvmsg(2) whose received descriptors (SCM_RIGHTS) are close-on-exec by the time it
// returns. Same result and errno as recvmsg.
ssize_t recvmsg_cloexec(int fd, msghdr* msg, int flags) noexcept;

// Sets (or clears) FD_CLOEXEC. false with errno on failure. Async-signal-safe.
bool set_cloexec(int fd, bool on = true) noexcept;

} // namespace clipal::platform
