// launch_worker (Boost.Process v2 and clipal's launcher hooks) against a stand-in worker, a
// shell script that reports what it was given: the command line, stdin and stdout on the null
// device, stderr on the supervisor's pipe, the channel on descriptor 3 and no other
// descriptor, no NOTIFY_SOCKET, its own process group; a failed exec reported as a launch
// error; the parent-death signal on Linux only (elsewhere the channel EOF is the contract).
#include "supervisor/worker_process.hpp"

#include "ipc/socket_pair.hpp"
#include "platform/parent_death.hpp"
#include "platform/process_inspection.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

using clipal::profile;
using clipal::supervisor::launch_worker;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

namespace {

// Everything the stand-in reports goes to stderr, which the launcher wires to its pipe.
constexpr std::string_view reporting_worker = R"sh(#!/bin/sh
echo "args: $*" >&2
echo "notify: ${NOTIFY_SOCKET-unset}" >&2
echo "stdin: $(readlink /proc/$$/fd/0)" >&2
echo "stdout: $(readlink /proc/$$/fd/1)" >&2
n=4
while [ $n -lt 64 ]; do
  if [ -e /proc/$$/fd/$n ]; then
    # The shell's own descriptor for reading this script (dash: 10) does not count.
    target=$(readlink /proc/$$/fd/$n)
    [ "$target" = "$0" ] || echo "open: $n $target" >&2
  fi
  n=$((n + 1))
done
printf 'on the channel' >&3
)sh";

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

bool wait_exited(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!clipal::platform::process_exited(pid)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(20ms);
    }
    return true;
}

} // namespace

TEST(WorkerProcess, GivesTheWorkerItsChannelAndStderrAndNothingElse) {
    clipal::test::temp_dir dir;
    const auto exe = dir.write("worker", reporting_worker, std::filesystem::perms::owner_all);
    ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
    // A descriptor without close-on-exec, numbered below the ones the launcher opens for
    // itself (3 stays free for the channel's socket pair): Boost 1.81's own descriptor
    // closing would leave it open in the worker.
    const int hold = ::open("/dev/null", O_RDONLY);
    const int stray = ::open("/dev/null", O_RDONLY);
    ::close(hold);
    ASSERT_GT(stray, 3);
    boost::asio::io_context ioc;
    auto w = launch_worker(ioc.get_executor(), exe, profile::codex);
    ::unsetenv("NOTIFY_SOCKET");
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_GT(w->pid, 0);
    EXPECT_EQ(::getpgid(w->pid), w->pid) << "the worker leads its own process group";

    const std::string report = read_all(w->stderr_out.get());
    EXPECT_THAT(report, HasSubstr("args: worker --profile codex --channel-fd 3\n"));
    EXPECT_THAT(report, HasSubstr("notify: unset\n"));
    EXPECT_THAT(report, HasSubstr("stdin: /dev/null\n"));
    EXPECT_THAT(report, HasSubstr("stdout: /dev/null\n"));
    EXPECT_THAT(report, Not(HasSubstr("open: "))) << report;
    char buf[64] = {};
    const auto n = ::recv(w->channel.get(), buf, sizeof buf, MSG_DONTWAIT);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "on the channel");

    int status = 0;
    ASSERT_EQ(::waitpid(w->pid, &status, 0), w->pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    ::close(stray);
}

TEST(WorkerProcess, AProgramThatCannotBeExecutedIsALaunchError) {
    boost::asio::io_context ioc;
    auto w = launch_worker(ioc.get_executor(), "/nonexistent/clipal", profile::gemini);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error(), boost::system::error_code(ENOENT, boost::system::system_category()));
    // The forked child that failed to exec is the caller's to reap, like any other.
    int status = 0;
    const pid_t child = ::waitpid(-1, &status, 0);
    EXPECT_GT(child, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 71) << status;
}

TEST(WorkerProcess, AChannelThatAlreadyIsDescriptor3StaysOpenAcrossExec) {
    clipal::test::temp_dir dir;
    const auto exe = dir.write("worker", "#!/bin/sh\nprintf 'on the channel' >&3\n", std::filesystem::perms::owner_all);
    // In a child of the test: with 0 and 3 free, the socket pair becomes (0, 3), so the
    // worker's end already has the number it is bound to (dup2 would do nothing there).
    const pid_t tester = ::fork();
    ASSERT_GE(tester, 0);
    if (tester == 0) {
        ::close(0);
        ::close(3);
        boost::asio::io_context ioc;
        auto w = launch_worker(ioc.get_executor(), exe, profile::claude_code);
        if (!w) ::_exit(2);
        if (w->channel.get() != 0) ::_exit(3); // the layout this test needs did not happen
        char buf[64] = {};
        const auto n = ::recv(w->channel.get(), buf, sizeof buf, 0);
        ::_exit(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "on the channel" ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(tester, &status, 0), tester);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: nothing on the channel, 2: launch failed, 3: other descriptor layout";
}

TEST(WorkerProcess, DiesWithTheSupervisorBySignalOnLinuxOnly) {
    clipal::test::temp_dir dir;
    // A worker that never reads its channel: only a parent-death signal can end it.
    const auto exe = dir.write("worker", "#!/bin/sh\nexec sleep 30\n", std::filesystem::perms::owner_all);
    int report[2];
    ASSERT_EQ(::pipe(report), 0);
    const pid_t supervisor = ::fork();
    ASSERT_GE(supervisor, 0);
    if (supervisor == 0) {
        boost::asio::io_context ioc;
        auto w = launch_worker(ioc.get_executor(), exe, profile::codex);
        const pid_t pid = w ? w->pid : -1;
        (void)!::write(report[1], &pid, sizeof pid);
        ::_exit(0); // the "supervisor" dies; its end of the channel closes with it
    }
    ::close(report[1]);
    pid_t worker = -1;
    ASSERT_EQ(::read(report[0], &worker, sizeof worker), static_cast<ssize_t>(sizeof worker));
    ::close(report[0]);
    ::waitpid(supervisor, nullptr, 0);
    ASSERT_GT(worker, 0);
    if (clipal::platform::parent_death_signal_supported()) {
        EXPECT_TRUE(wait_exited(worker, 5s)) << "PR_SET_PDEATHSIG should have killed the worker";
    } else {
        // No such signal: a worker that ignores its channel's EOF outlives the supervisor.
        std::this_thread::sleep_for(300ms);
        EXPECT_FALSE(clipal::platform::process_exited(worker));
    }
    ::kill(worker, SIGKILL);
}
