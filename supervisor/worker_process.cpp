#include "supervisor/worker_process.hpp"

#include "ipc/socket_pair.hpp"
#include "supervisor/sd_notify.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace clipal::supervisor {

std::filesystem::path self_executable() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::filesystem::path("clipal") : p;
}

boost::system::result<launched_worker> launch_worker(const std::filesystem::path& exe, profile id) {
    auto pair = ipc::make_socket_pair();
    if (!pair) return pair.error();
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) return boost::system::error_code(errno, boost::system::system_category());
    ipc::unique_fd err_read(err_pipe[0]), err_write(err_pipe[1]);

    // Everything the child needs is prepared before fork: after it only async-signal-safe calls.
    const std::string exe_s = exe.string();
    const std::string name(info(id).name);
    const std::string fd_arg = std::to_string(ipc::worker_channel_fd);
    std::vector<const char*> argv{exe_s.c_str(),  "worker",       "--profile", name.c_str(),
                                  "--channel-fd", fd_arg.c_str(), nullptr};
    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) env_strings.emplace_back(*e);
    env_strings = sd_notify::without_notify_variables(std::move(env_strings));
    std::vector<const char*> envp;
    for (const auto& e : env_strings) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid < 0) return boost::system::error_code(errno, boost::system::system_category());
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(75); // the supervisor died between fork and prctl
        // Its own process group: signals meant for the supervisor's group (a closing terminal,
        // Ctrl-C, `kill -HUP -PGID`) reach the supervisor only, which drains workers itself.
        ::setpgid(0, 0);
        // stderr first: the pipe's descriptor may be the very number the channel goes to.
        if (::dup2(err_write.get(), STDERR_FILENO) < 0) ::_exit(71);
        if (!ipc::inherit_as(pair->worker_end.get(), ipc::worker_channel_fd)) ::_exit(71);
        const int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
        }
        // Asio opens sockets without close-on-exec: without this the worker would keep a
        // copy of the public listener, the control socket and every connection open in the
        // supervisor at this moment (a stopped supervisor's port would still queue clients).
        if (::close_range(ipc::worker_channel_fd + 1, ~0U, 0) != 0) {
            rlimit lim{};
            const long top = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < 65536 ? long(lim.rlim_cur) : 65536;
            for (long fd = ipc::worker_channel_fd + 1; fd < top; ++fd) ::close(static_cast<int>(fd));
        }
        // Signals the supervisor handles must not stay blocked or ignored in the worker.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(exe_s.c_str(), const_cast<char* const*>(argv.data()), const_cast<char* const*>(envp.data()));
        ::_exit(71);
    }
    launched_worker w;
    w.pid = pid;
    w.channel = std::move(pair->supervisor_end);
    w.stderr_out = std::move(err_read);
    return w;
}

} // namespace clipal::supervisor
