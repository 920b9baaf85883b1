// run_subprocess with Boost.Process v2 on every platform: the program started by v2's
// default launcher (POSIX: fork/exec with clipal's launcher hooks, platform/launch_hooks.hpp;
// Windows: CreateProcessW), its output read from one pipe for stdout and stderr, and a
// local io_context that waits for the exit, the output's end and the deadline together.
// POSIX waits through a pidfd on Linux and through SIGCHLD elsewhere (macOS; the portable
// tree on Linux). The Windows branch is not built by this project's CI.
#include "app/subprocess.hpp"

#include "platform/boost_process_v2.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/steady_timer.hpp>

#if defined(_WIN32)
#include <boost/asio/connect_pipe.hpp>
#include <boost/asio/writable_pipe.hpp>
#else
#include "platform/cloexec.hpp"
#include "platform/launch_hooks.hpp"

#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <functional>
#include <optional>

namespace clipal::app {

namespace {

namespace asio = boost::asio;
namespace bp2 = boost::process::v2;

using process_type = bp2::basic_process<asio::io_context::executor_type>;

constexpr std::size_t max_output = 64 * 1024;
#if !defined(_WIN32)
// The child's exit code when exec failed (the parent reports the errno instead).
constexpr int exit_exec_failed = 127;
#endif

std::filesystem::path program_path(const std::string& name) {
    if (name.find('/') != std::string::npos
#if defined(_WIN32)
        || name.find('\\') != std::string::npos
#endif
    )
        return name;
    return bp2::environment::find_executable(name);
}

// The write end the child gets as stdout and stderr, and the read end we keep.
struct output_pipe {
    asio::readable_pipe read;
#if defined(_WIN32)
    asio::writable_pipe write;
    explicit output_pipe(asio::io_context& ioc) : read(ioc), write(ioc) {}
    bool open(bp2::error_code& ec) {
        asio::connect_pipe(read, write, ec);
        return !ec;
    }
    asio::writable_pipe::native_handle_type child_end() { return write.native_handle(); }
    void close_child_end() {
        bp2::error_code ignored;
        write.close(ignored);
    }
#else
    int write = -1;
    explicit output_pipe(asio::io_context& ioc) : read(ioc) {}
    ~output_pipe() { close_child_end(); }
    output_pipe(const output_pipe&) = delete;
    output_pipe& operator=(const output_pipe&) = delete;
    bool open(bp2::error_code& ec) {
        int fds[2];
        if (platform::pipe_cloexec(fds) != 0) {
            ec.assign(errno, bp2::system_category());
            return false;
        }
        write = fds[1];
        read.assign(fds[0], ec);
        return !ec;
    }
    int child_end() const { return write; }
    void close_child_end() {
        if (write >= 0) ::close(write);
        write = -1;
    }
#endif
};

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
    const auto exe = program_path(argv[0]);
    if (exe.empty()) {
        r.error = "cannot run " + argv[0] + ": not found in PATH";
        return r;
    }
    const std::vector<std::string> args(argv.begin() + 1, argv.end());

    asio::io_context ioc(1);
    output_pipe out(ioc);
    bp2::error_code ec;
    if (capture_output && !out.open(ec)) {
        r.error = "cannot create a pipe: " + ec.message();
        return r;
    }
    // stdin from the null device; stdout and stderr to the pipe, or this process's own.
    // (Emplaced: a process_stdio must not be copied, its bindings close what they opened.)
    std::optional<bp2::process_stdio> stdio;
    if (capture_output)
        stdio.emplace(nullptr, out.child_end(), out.child_end());
    else
        stdio.emplace(nullptr);

    std::optional<process_type> proc;
#if defined(_WIN32)
    proc.emplace(bp2::default_process_launcher()(ioc.get_executor(), ec, exe, args, *stdio));
#else
    bp2::posix::default_launcher launcher;
    try {
        proc.emplace(launcher(ioc.get_executor(), ec, exe, args, *stdio, platform::unblock_signals{},
                              platform::close_other_descriptors{},
                              platform::exit_quietly_on_exec_error{exit_exec_failed}));
    } catch (const boost::system::system_error& e) {
        ec = e.code(); // the process handle could not be made (e.g. no descriptor left)
        if (launcher.pid > 0) {
            ::kill(launcher.pid, SIGKILL);
            ::waitpid(launcher.pid, nullptr, 0);
        }
    }
    // A child whose exec failed has exited already; nobody else reaps it.
    if (ec && launcher.pid > 0) ::waitpid(launcher.pid, nullptr, 0);
#endif
    out.close_child_end();
    if (ec) {
        r.error = "cannot run " + argv[0] + ": " + ec.message();
        return r;
    }
    r.started = true;

    bool exited = false;
    bool output_done = !capture_output;
    bool killed = false;
    bp2::error_code wait_error;
    asio::steady_timer deadline(ioc);
    std::array<char, 4096> buf{};

    auto finish_if_done = [&] {
        if (exited && output_done) deadline.cancel();
    };
    std::function<void()> read_more = [&] {
        out.read.async_read_some(asio::buffer(buf), [&](const bp2::error_code& rec, std::size_t n) {
            r.output.append(buf.data(), std::min(n, max_output - r.output.size()));
            if (rec) {
                output_done = true;
                return finish_if_done();
            }
            read_more();
        });
    };
    if (capture_output) read_more();
    proc->async_wait([&](const bp2::error_code& wec, int) {
        exited = true;
        wait_error = wec;
        finish_if_done();
    });
    deadline.expires_after(timeout);
    deadline.async_wait([&](const bp2::error_code& tec) {
        if (tec) return; // cancelled: everything is done
        if (!exited) {
            // Still running: kill it; async_wait completes (and reaps it) next.
            bp2::error_code ignored;
            proc->terminate(ignored);
            killed = true;
        }
        // Whatever still holds the output open (a grandchild) is not waited for.
        bp2::error_code ignored;
        out.read.close(ignored);
    });
    ioc.run();

    if (killed) {
        r.timed_out = true;
        return r;
    }
    if (wait_error) {
        r.started = false;
        r.error = "lost track of " + argv[0] + ": " + wait_error.message();
        return r;
    }
    const auto native = proc->native_exit_code();
#if defined(_WIN32)
    r.exit_code = static_cast<int>(native);
#else
    if (WIFEXITED(native))
        r.exit_code = WEXITSTATUS(native);
    else if (WIFSIGNALED(native))
        r.signal = WTERMSIG(native);
#endif
    return r;
}

} // namespace clipal::app
