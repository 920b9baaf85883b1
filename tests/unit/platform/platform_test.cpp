// platform/: close-on-exec creation, descriptor closing and marking, the anonymous file,
// process inspection and the parent-death contract, against the sibling this tree builds.
#include "platform/anonymous_file.hpp"
#include "platform/cloexec.hpp"
#include "platform/close_descriptors.hpp"
#include "platform/parent_death.hpp"
#include "platform/process_inspection.hpp"

#include "clipal/platform_config.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

using namespace clipal::platform;
using namespace std::chrono_literals;

namespace {

bool has_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Runs `body` in a forked child and returns its exit code (the child must _exit).
template <typename Body>
int in_child(Body body) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(body());
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace

TEST(Platform, BuildsTheSiblingsTheTreeAskedFor) {
#if defined(CLIPAL_PLATFORM_LINUX)
    EXPECT_TRUE(parent_death_signal_supported());
#else
    EXPECT_FALSE(parent_death_signal_supported());
#endif
}

TEST(Platform, PipesAndSocketsAreCreatedCloseOnExec) {
    int p[2];
    ASSERT_EQ(pipe_cloexec(p), 0);
    EXPECT_TRUE(has_cloexec(p[0]) && has_cloexec(p[1]));
    ::close(p[0]);
    ::close(p[1]);
    int s[2];
    ASSERT_EQ(socketpair_cloexec(AF_UNIX, SOCK_STREAM, 0, s), 0);
    EXPECT_TRUE(has_cloexec(s[0]) && has_cloexec(s[1]));
    const int one = socket_cloexec(AF_UNIX, SOCK_DGRAM, 0, true);
    ASSERT_GE(one, 0);
    EXPECT_TRUE(has_cloexec(one));
    EXPECT_NE(::fcntl(one, F_GETFL) & O_NONBLOCK, 0);
    const int blocking = socket_cloexec(AF_UNIX, SOCK_STREAM, 0);
    EXPECT_EQ(::fcntl(blocking, F_GETFL) & O_NONBLOCK, 0);
    ::close(one);
    ::close(blocking);

    // A descriptor passed with SCM_RIGHTS arrives close-on-exec.
    const int passed = ::open("/dev/null", O_RDONLY); // inheritable on purpose
    ASSERT_FALSE(has_cloexec(passed));
    char byte = 'x';
    iovec iov{&byte, 1};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &passed, sizeof passed);
    ASSERT_EQ(::sendmsg(s[0], &msg, 0), 1);
    ::close(passed);
    alignas(cmsghdr) unsigned char in_control[CMSG_SPACE(sizeof(int))] = {};
    msghdr in{};
    in.msg_iov = &iov;
    in.msg_iovlen = 1;
    in.msg_control = in_control;
    in.msg_controllen = sizeof in_control;
    ASSERT_EQ(recvmsg_cloexec(s[1], &in, 0), 1);
    int received = -1;
    std::memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&in)), sizeof received);
    ASSERT_GE(received, 0);
    EXPECT_TRUE(has_cloexec(received));
    ::close(received);
    ::close(s[0]);
    ::close(s[1]);
}

TEST(Platform, ClosesEveryDescriptorButTheKeptOnes) {
    const int code = in_child([] {
        // Spread out: low numbers, a gap, one far up near the descriptor limit.
        const int a = ::dup2(STDERR_FILENO, 5);
        const int b = ::dup2(STDERR_FILENO, 6);
        const int c = ::dup2(STDERR_FILENO, 40);
        const int far = descriptor_scan_limit() - 1;
        const int d = ::dup2(STDERR_FILENO, far);
        if (a != 5 || b != 6 || c != 40 || d != far) return 10;
        const int keep[] = {40, 6, 6, 1};
        close_descriptors_from(4, keep, 4);
        if (is_open(5) || is_open(far)) return 1;
        if (!is_open(6) || !is_open(40)) return 2;
        if (!is_open(0) || !is_open(1) || !is_open(2)) return 3;
        return 0;
    });
    EXPECT_EQ(code, 0) << "1: a descriptor stayed open, 2: a kept one was closed, 3: below `first` was closed";
}

TEST(Platform, MarksEveryDescriptorCloseOnExec) {
    const int code = in_child([] {
        const int a = ::dup2(STDERR_FILENO, 7);
        const int far = ::dup2(STDERR_FILENO, descriptor_scan_limit() - 1);
        if (a != 7 || far < 0) return 10;
        mark_cloexec_from(3);
        if (!has_cloexec(7) || !has_cloexec(far)) return 1;
        if (has_cloexec(STDERR_FILENO)) return 2;
        return 0;
    });
    EXPECT_EQ(code, 0);
}

TEST(Platform, AnonymousFileIsPrivateReadableAndWritable) {
    std::string error;
    const int fd = anonymous_file("clipal-test", error);
    ASSERT_GE(fd, 0) << error;
    EXPECT_TRUE(has_cloexec(fd));
    ASSERT_EQ(::write(fd, "state", 5), 5);
    ASSERT_EQ(::lseek(fd, 0, SEEK_SET), 0);
    char buf[8] = {};
    EXPECT_EQ(::read(fd, buf, sizeof buf), 5);
    EXPECT_STREQ(buf, "state");
    ::close(fd);
}

TEST(Platform, KnowsTheRunningExecutable) {
    const auto exe = executable_path();
    ASSERT_TRUE(exe);
    EXPECT_TRUE(exe->is_absolute());
    EXPECT_EQ(exe->filename(), "unit_platform");
}

TEST(Platform, AZombieCountsAsExited) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(0);
    // Not reaped yet: it stays a zombie until the waitpid below.
    bool exited = false;
    for (int i = 0; i < 100 && !exited; ++i) {
        exited = process_exited(child);
        if (!exited) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(exited);
    EXPECT_FALSE(process_exited(::getpid()));
    ::waitpid(child, nullptr, 0);
    EXPECT_TRUE(process_exited(child));
}

TEST(Platform, ParentDeathIsNoticedWhereItCanBe) {
    // tie_to_parent() in a child of ours: true while we live.
    EXPECT_EQ(in_child([parent = ::getpid()] { return tie_to_parent(parent) ? 0 : 1; }), 0);
    EXPECT_EQ(in_child([] { return tie_to_parent(1) ? 1 : 0; }), 0) << "a parent that is not ours is gone";
}
