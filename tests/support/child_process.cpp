// posix_spawn-based child processes for tests; output goes to files so a test can read
// everything a process printed even after it died, and so a full pipe never blocks it.
#include "support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace clipal::test {
namespace {

constexpr auto poll_interval = std::chrono::milliseconds(5);

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

// Creates `<dir>/<stem>.<n>.<ext>` with the first free n, so several children may share
// one output directory.
std::pair<int, std::filesystem::path> create_unique(const std::filesystem::path& dir, const std::string& stem,
                                                    const char* ext) {
    for (int n = 0; n < 10000; ++n) {
        auto p = dir / (stem + "." + std::to_string(n) + "." + ext);
        const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) return {fd, p};
        if (errno != EEXIST) break;
    }
    throw std::runtime_error("child_process: cannot create output file in " + dir.string() + ": " +
                             std::strerror(errno));
}

std::vector<std::string> build_env(const spawn_options& o) {
    std::vector<std::string> env;
    auto overridden = [&](std::string_view entry) {
        const auto key = entry.substr(0, entry.find('='));
        for (const auto& u : o.unset_env)
            if (key == u) return true;
        for (const auto& [k, v] : o.env)
            if (key == k) return true;
        return false;
    };
    if (!o.clean_env)
        for (char** e = environ; *e != nullptr; ++e)
            if (!overridden(*e)) env.emplace_back(*e);
    for (const auto& [k, v] : o.env) env.push_back(k + "=" + v);
    return env;
}

struct file_actions {
    posix_spawn_file_actions_t fa;
    file_actions() { posix_spawn_file_actions_init(&fa); }
    ~file_actions() { posix_spawn_file_actions_destroy(&fa); }
    file_actions(const file_actions&) = delete;
    file_actions& operator=(const file_actions&) = delete;
};

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

} // namespace

std::string exit_status::describe() const {
    if (signaled) return std::string("killed by signal ") + std::to_string(value) + " (" + ::strsignal(value) + ")";
    return "exited with code " + std::to_string(value);
}

child_process::child_process(const std::filesystem::path& program, spawn_options options) {
    std::filesystem::path dir = options.output_dir;
    if (dir.empty()) {
        own_dir_ = std::make_unique<temp_dir>();
        dir = own_dir_->path();
    }
    std::filesystem::create_directories(dir);
    const std::string stem = program.filename().string();
    auto [out_fd, out_path] = create_unique(dir, stem, "stdout");
    auto [err_fd, err_path] = create_unique(dir, stem, "stderr");
    stdout_path_ = out_path;
    stderr_path_ = err_path;

    int stdin_read = -1;
    if (options.stdin_pipe) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            ::close(out_fd);
            ::close(err_fd);
            throw std::runtime_error("child_process: pipe2 failed");
        }
        stdin_read = fds[0];
        stdin_fd_ = fds[1];
    }

    file_actions fa;
    if (stdin_read >= 0)
        posix_spawn_file_actions_adddup2(&fa.fa, stdin_read, 0);
    else
        posix_spawn_file_actions_addopen(&fa.fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa.fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa.fa, err_fd, 2);
    // Sockets the test itself holds (listeners, clients) must not leak into the child.
    posix_spawn_file_actions_addclosefrom_np(&fa.fa, 3);
    if (!options.working_dir.empty()) posix_spawn_file_actions_addchdir_np(&fa.fa, options.working_dir.c_str());

    std::vector<std::string> argv_storage;
    argv_storage.push_back(program.string());
    for (auto& a : options.args) argv_storage.push_back(a);
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage = build_env(options);
    std::vector<char*> envp;
    for (auto& e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);

    const bool search_path = program.string().find('/') == std::string::npos;
    const int rc = search_path ? ::posix_spawnp(&pid_, argv[0], &fa.fa, nullptr, argv.data(), envp.data())
                               : ::posix_spawn(&pid_, argv[0], &fa.fa, nullptr, argv.data(), envp.data());
    ::close(out_fd);
    ::close(err_fd);
    close_fd(stdin_read);
    if (rc != 0) {
        close_fd(stdin_fd_);
        pid_ = -1;
        throw std::runtime_error("child_process: cannot start " + program.string() + ": " + std::strerror(rc));
    }
}

child_process::~child_process() {
    close_fd(stdin_fd_);
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        int st = 0;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {}
    }
}

std::string child_process::stdout_text() const { return read_file(stdout_path_); }
std::string child_process::stderr_text() const { return read_file(stderr_path_); }

bool child_process::try_reap() {
    if (status_) return true;
    if (pid_ <= 0) return false;
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r != pid_) return false;
    if (WIFSIGNALED(st))
        status_ = exit_status{true, WTERMSIG(st)};
    else
        status_ = exit_status{false, WEXITSTATUS(st)};
    return true;
}

std::optional<std::string> child_process::wait_for_line(const std::function<bool(std::string_view)>& match,
                                                        std::chrono::milliseconds timeout, std::size_t skip) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        // Decide "exited" before reading, so output written just before exit is still seen.
        const bool exited = try_reap();
        std::size_t seen = 0;
        for (const auto& path : {stdout_path_, stderr_path_}) {
            const std::string text = read_file(path);
            std::size_t start = 0;
            for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
                std::string_view line(text.data() + start, nl - start);
                start = nl + 1;
                if (!match(line)) continue;
                if (seen++ == skip) return std::string(line);
            }
        }
        if (exited || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(poll_interval);
    }
}

std::optional<std::string> child_process::wait_for_output(std::string_view needle, std::chrono::milliseconds timeout,
                                                          std::size_t skip) {
    return wait_for_line([needle](std::string_view line) { return line.find(needle) != std::string_view::npos; },
                         timeout, skip);
}

std::optional<std::string> child_process::wait_for_output(const std::regex& pattern, std::chrono::milliseconds timeout,
                                                          std::size_t skip) {
    return wait_for_line([&pattern](
                             std::string_view line) { return std::regex_search(line.begin(), line.end(), pattern); },
                         timeout, skip);
}

void child_process::signal(int sig) {
    if (pid_ > 0 && !try_reap()) ::kill(pid_, sig);
}

void child_process::close_stdin() { close_fd(stdin_fd_); }

std::optional<exit_status> child_process::wait_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!try_reap()) {
        if (pid_ <= 0 || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return status_;
}

bool child_process::running() { return pid_ > 0 && !try_reap(); }

exit_status child_process::stop(std::chrono::milliseconds grace) {
    signal(SIGTERM);
    if (auto st = wait_exit(grace)) return *st;
    signal(SIGKILL);
    // SIGKILL cannot be ignored; the bound only guards against a stuck kernel.
    if (auto st = wait_exit(std::chrono::seconds(10))) return *st;
    throw std::runtime_error("child_process: pid " + std::to_string(pid_) + " survived SIGKILL");
}

bool child_process::has_sanitizer_report() const {
    const std::string err = stderr_text();
    return err.find("ERROR: AddressSanitizer") != std::string::npos ||
           err.find("ERROR: LeakSanitizer") != std::string::npos || err.find("runtime error:") != std::string::npos;
}

} // namespace clipal::test
