// Creating the supervisor <-> worker channel and carrying its worker end across exec.
// Both ends are AF_UNIX sockets of the channel transport's type (SOCK_SEQPACKET on Linux,
// SOCK_STREAM in the portable build: channel_transport.hpp), close-on-exec, with buffers
// large enough for a max-size frame.
#pragma once

#include "ipc/unique_fd.hpp"

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

namespace clipal::ipc {

struct socket_pair {
    unique_fd supervisor_end;
    unique_fd worker_end;
};

// socketpair(AF_UNIX, transport::socket_type()), close-on-exec (platform/cloexec.hpp),
// with SO_SNDBUF/SO_RCVBUF raised to at least 2 x max_frame_size. Both ends are close-on-exec, so no other child the
// supervisor starts inherits a worker's channel: the launcher makes only the worker end
// inheritable in the one child that needs it, with inherit_as() after fork.
boost::system::result<socket_pair> make_socket_pair();

// The descriptor number a worker finds its channel on (the launcher passes it on the
// command line too; this is the conventional value).
inline constexpr int worker_channel_fd = 3;

// For the launcher, in the child between fork and exec (async-signal-safe: only dup2
// and fcntl): makes `fd` available as `target` without close-on-exec. dup2 clears
// FD_CLOEXEC on the copy, but when fd == target dup2 does nothing, so the flag is
// cleared by hand. Returns false (errno set) on failure; the child should then _exit
// with a non-zero code without running any destructors.
bool inherit_as(int fd, int target) noexcept;

// For the worker at startup: takes ownership of the inherited channel descriptor,
// checks that it is a socket of the transport's type (else EPROTOTYPE, or ENOTSOCK: a
// clear error when started wrongly, e.g. by hand), sets close-on-exec again (the
// worker's own children must not inherit it) and raises its buffers. When `fd` is not such a socket it is left untouched.
boost::system::result<unique_fd> adopt_inherited(int fd);

// Raises SO_SNDBUF/SO_RCVBUF so that a max_frame_size datagram fits: the kernel refuses
// a SOCK_SEQPACKET message larger than the sender's buffer with EMSGSIZE. On SOCK_STREAM
// it only lets a frame go in fewer writes.
boost::system::error_code size_buffers(int fd);

} // namespace clipal::ipc
