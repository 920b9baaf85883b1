#include "ipc/socket_pair.hpp"

#include "clipal/platform_config.hpp"
#include "ipc/frame_codec.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>

using namespace clipal::ipc;

namespace {

bool cloexec(int fd) { return ::fcntl(fd, F_GETFD) & FD_CLOEXEC; }

// The channel's socket type in this tree (CLIPAL_IPC_TRANSPORT, top-level CMakeLists.txt),
// and another AF_UNIX type, which adopt_inherited must refuse (SOCK_DGRAM where the channel
// is a stream: macOS has no SOCK_SEQPACKET to make one with).
#if defined(CLIPAL_IPC_TRANSPORT_STREAM)
constexpr int channel_type = SOCK_STREAM;
constexpr int other_type = SOCK_DGRAM;
#else
constexpr int channel_type = SOCK_SEQPACKET;
constexpr int other_type = SOCK_STREAM;
#endif

} // namespace

TEST(SocketPair, BothEndsAreOfTheTransportsTypeCloexecWithRoomForAMaxFrame) {
    auto p = make_socket_pair();
    ASSERT_TRUE(p) << p.error().message();
    for (int fd : {p->supervisor_end.get(), p->worker_end.get()}) {
        int type = 0;
        socklen_t len = sizeof type;
        ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
        EXPECT_EQ(type, channel_type);
        EXPECT_TRUE(cloexec(fd));
        int sndbuf = 0;
        len = sizeof sndbuf;
        ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len), 0);
        EXPECT_GT(static_cast<std::size_t>(sndbuf), max_frame_size);
    }
}

TEST(SocketPair, InheritAsClearsCloseOnExecOnTheTarget) {
    auto p = make_socket_pair();
    ASSERT_TRUE(p);
    // A free descriptor number: take one, then give it back.
    const int target = ::fcntl(p->worker_end.get(), F_DUPFD_CLOEXEC, 100);
    ASSERT_GE(target, 100);
    ::close(target);
    ASSERT_TRUE(inherit_as(p->worker_end.get(), target));
    unique_fd copy(target);
    EXPECT_FALSE(cloexec(target));
    EXPECT_TRUE(cloexec(p->worker_end.get())) << "the source keeps its flag";

    // Same number: dup2 would be a no-op, so the flag is cleared by hand.
    ASSERT_TRUE(cloexec(p->supervisor_end.get()));
    ASSERT_TRUE(inherit_as(p->supervisor_end.get(), p->supervisor_end.get()));
    EXPECT_FALSE(cloexec(p->supervisor_end.get()));
}

TEST(SocketPair, AdoptInheritedAcceptsOnlyASocketOfTheTransportsType) {
    auto p = make_socket_pair();
    ASSERT_TRUE(p);
    ASSERT_TRUE(inherit_as(p->worker_end.get(), p->worker_end.get()));
    const int raw = p->worker_end.release();
    auto adopted = adopt_inherited(raw);
    ASSERT_TRUE(adopted) << adopted.error().message();
    EXPECT_EQ(adopted->get(), raw);
    EXPECT_TRUE(cloexec(raw));

    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    unique_fd r(pipe_fds[0]), w(pipe_fds[1]);
    auto not_socket = adopt_inherited(r.get());
    ASSERT_FALSE(not_socket);
    EXPECT_EQ(not_socket.error().value(), ENOTSOCK);

    int other[2];
    ASSERT_EQ(::socketpair(AF_UNIX, other_type, 0, other), 0);
    unique_fd s0(other[0]), s1(other[1]);
    auto wrong_type = adopt_inherited(s0.get());
    ASSERT_FALSE(wrong_type);
    EXPECT_EQ(wrong_type.error().value(), EPROTOTYPE);
    EXPECT_GE(::fcntl(s0.get(), F_GETFD), 0) << "a rejected descriptor stays open";
}
