// POSIX run_subprocess: posix_spawnp, a CLOEXEC pipe for captured output read with poll(),
// and a bounded wait that kills the child at the deadline.
#include "app/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

extern char** environ;

namespace clipal::app {

namespace {

using steady = std::chrono::steady_clock;
constexpr std::size_t max_output = 64 * 1024;

int remaining_ms(steady::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    return left > 0 ? static_cast<int>(std::min<long long>(left, 1000)) : 0;
}

} // namespace

std::string subprocess_result::describe() const {
    if (!started) return error;
    if (timed_out) return "timed out and was killed";
    if (signal != 0) return "killed by signal " + std::to_string(signal);
    return "exit code " + std::to_string(exit_code);
}

subprocess_result run_subprocess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                 bool capture_output) {
    subprocess_result r;
    if (argv.empty()) {
        r.error = "no program given";
        return r;
    }
    int pipe_fds[2] = {-1, -1};
    // pipe() + FD_CLOEXEC rather than pipe2(), which macOS lacks; a child spawned meanwhile
    // by another thread at most keeps the pipe open until it execs.
    if (capture_output) {
        if (::pipe(pipe_fds) != 0) {
            r.error = "cannot create a pipe: " + std::generic_category().message(errno);
            return r;
        }
        ::fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC);
        ::fcntl(pipe_fds[1], F_SETFD, FD_CLOEXEC);
    }
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (capture_output) {
        ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
        ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (capture_output) ::close(pipe_fds[1]);
    if (rc != 0) {
        if (capture_output) ::close(pipe_fds[0]);
        r.error = "cannot run " + argv[0] + ": " + std::generic_category().message(rc);
        return r;
    }
    r.started = true;

    const auto deadline = steady::now() + timeout;
    if (capture_output) {
        char buf[4096];
        for (;;) {
            pollfd p{pipe_fds[0], POLLIN, 0};
            const int ready = ::poll(&p, 1, remaining_ms(deadline));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) {
                if (steady::now() >= deadline) break;
                continue;
            }
            const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            r.output.append(buf, std::min(static_cast<std::size_t>(n), max_output - r.output.size()));
        }
        ::close(pipe_fds[0]);
    }

    int status = 0;
    for (;;) {
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            r.error = "lost track of " + argv[0] + ": " + std::generic_category().message(errno);
            r.started = false;
            return r;
        }
        if (steady::now() >= deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            r.timed_out = true;
            return r;
        }
        // The child closed its output (or none was captured) but has not exited yet.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.signal = WTERMSIG(status);
    return r;
}

} // namespace clipal::app
