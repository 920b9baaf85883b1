// Starting a worker with Boost.Process v2's posix::default_launcher and clipal's launcher
// hooks (platform/launch_hooks.hpp). The child, between fork and exec: parent-death signal
// where the system has one, its own process group, stdin/stdout on the null device and
// stderr on a pipe, the channel on descriptor 3, no blocked signals, every other descriptor
// closed, and an environment without NOTIFY_SOCKET. The supervisor's SIGCHLD handler
// (waitpid(-1)) stays the one reaper: the v2 process object is detached at once.
#include "supervisor/worker_process.hpp"

#include "ipc/socket_pair.hpp"
#include "platform/cloexec.hpp"
#include "platform/launch_hooks.hpp"
#include "platform/parent_death.hpp"
#include "platform/process_inspection.hpp"
#include "supervisor/sd_notify.hpp"

#include <unistd.h>

#include <cerrno>
#include <vector>

extern char** environ;

namespace clipal::supervisor {

namespace bp2 = boost::process::v2;

namespace {

// What the child does first: tie its life to the supervisor's (a parent-death signal on
// Linux; see platform/parent_death.hpp for the contract elsewhere), then leave the
// supervisor's process group, so signals meant for that group (a closing terminal, Ctrl-C,
// `kill -HUP -PGID`) reach the supervisor only, which drains workers itself.
struct worker_child_setup {
    pid_t parent = ::getpid(); // read in the parent, before the fork

    bp2::error_code on_exec_setup(bp2::posix::default_launcher&, const bp2::filesystem::path&, const char* const*) {
        if (!platform::tie_to_parent(parent)) return bp2::error_code(ESRCH, bp2::system_category());
        ::setpgid(0, 0);
        return {};
    }
};

// The child's exit code when a hook or exec failed (the parent learns the errno anyway).
constexpr int exit_exec_failed = 71;

} // namespace

std::filesystem::path self_executable() { return platform::executable_path().value_or("clipal"); }

boost::system::result<launched_worker> launch_worker(const boost::asio::any_io_executor& ex,
                                                     const std::filesystem::path& exe, profile id) {
    auto pair = ipc::make_socket_pair();
    if (!pair) return pair.error();
    int err_pipe[2];
    if (platform::pipe_cloexec(err_pipe) != 0)
        return boost::system::error_code(errno, boost::system::system_category());
    ipc::unique_fd err_read(err_pipe[0]), err_write(err_pipe[1]);

    const std::vector<std::string> args{"worker", "--profile", std::string(info(id).name), "--channel-fd",
                                        std::to_string(ipc::worker_channel_fd)};
    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) env_strings.emplace_back(*e);
    env_strings = sd_notify::without_notify_variables(std::move(env_strings));
    std::vector<const char*> envp;
    for (const auto& e : env_strings) envp.push_back(e.c_str());
    envp.push_back(nullptr);

    bp2::posix::default_launcher launcher;
    launcher.env = envp.data();
    bp2::error_code ec;
    try {
        // Order matters in the child: stderr is bound before the channel (the pipe's
        // descriptor may be the very number the channel goes to), and descriptors are
        // closed last.
        auto proc =
            launcher(ex, ec, exe, args, worker_child_setup{}, bp2::process_stdio{nullptr, nullptr, err_write.get()},
                     platform::channel_on_fd(ipc::worker_channel_fd, pair->worker_end.get()),
                     platform::unblock_signals{}, platform::close_other_descriptors{},
                     platform::exit_quietly_on_exec_error{exit_exec_failed});
        // Reaped by the supervisor's SIGCHLD handler, never by the process object.
        proc.detach();
    } catch (const boost::system::system_error& e) {
        // Thrown after the fork only by the process handle (pidfd_open failing, e.g. at the
        // descriptor limit): the worker runs, and waitpid(-1) still reaps it.
        if (launcher.pid <= 0) return e.code();
        ec.clear();
    }
    if (ec) return ec; // on_setup, fork or exec failed; an exec'd-and-failed child is reaped as any other
    launched_worker w;
    w.pid = launcher.pid;
    w.channel = std::move(pair->supervisor_end);
    w.stderr_out = std::move(err_read);
    return w;
}

} // namespace clipal::supervisor
