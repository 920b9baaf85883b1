// A program started by a test: spawned with posix_spawn, stdout/stderr captured in files,
// waited for by polling those files, and always stopped by its own PID (SIGKILL in the
// destructor if the test did not stop it) so no test leaves a process behind.
#pragma once

#include "support/temp_dir.hpp"

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
// GCC 12 with -fsanitize=address reports a false -Wmaybe-uninitialized inside <regex>
// (a known GCC 12 false positive); silence it for that header only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clipal::test {

struct spawn_options {
    std::vector<std::string> args{};                        // argv[1..]
    std::vector<std::pair<std::string, std::string>> env{}; // set (overriding inherited values)
    std::vector<std::string> unset_env{};                   // removed from the inherited environment
    bool clean_env = false;                                 // start from an empty environment
    std::filesystem::path working_dir{};                    // empty: the test's own
    std::filesystem::path output_dir{};                     // empty: a temp dir owned by the child_process
    bool stdin_pipe = false;                                // keep the child's stdin open (see close_stdin)
};

struct exit_status {
    bool signaled = false; // true: killed by signal `value`; false: exited with code `value`
    int value = 0;

    bool exited_with(int code) const { return !signaled && value == code; }
    bool killed_by(int sig) const { return signaled && value == sig; }
    std::string describe() const;
};

class child_process {
public:
    // Starts `program` (a path; a bare name is looked up in PATH). stdin is /dev/null unless
    // stdin_pipe; descriptors other than 0-2 are not inherited. Throws std::runtime_error if
    // the program cannot be started.
    child_process(const std::filesystem::path& program, spawn_options options = {});
    ~child_process(); // SIGKILL + reap if still running

    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }
    const std::filesystem::path& stdout_path() const { return stdout_path_; }
    const std::filesystem::path& stderr_path() const { return stderr_path_; }
    std::string stdout_text() const;
    std::string stderr_text() const;

    // Polls stdout and stderr until a complete line (ending in '\n') contains `needle` /
    // matches `pattern` (std::regex_search); returns that line without its newline. Gives
    // up (nullopt) at the timeout or as soon as the process has exited without printing it.
    // `skip` ignores that many earlier matching lines, to wait for a later occurrence.
    std::optional<std::string> wait_for_output(std::string_view needle, std::chrono::milliseconds timeout,
                                               std::size_t skip = 0);
    std::optional<std::string> wait_for_output(const std::regex& pattern, std::chrono::milliseconds timeout,
                                               std::size_t skip = 0);

    // Sends `sig` to this child's PID; no-op once it has been reaped.
    void signal(int sig);
    // Closes the write end of the stdin pipe (the child sees EOF). No-op without stdin_pipe.
    void close_stdin();
    // Waits up to `timeout` for the child to end and reaps it; nullopt if still running.
    // Once reaped, returns the same status on every call.
    std::optional<exit_status> wait_exit(std::chrono::milliseconds timeout);
    bool running();
    // SIGTERM, wait up to `grace`, then SIGKILL; returns the final status.
    exit_status stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

    // True if stderr holds an AddressSanitizer/LeakSanitizer/UBSan report.
    bool has_sanitizer_report() const;

private:
    bool try_reap();
    std::optional<std::string> wait_for_line(const std::function<bool(std::string_view)>& match,
                                             std::chrono::milliseconds timeout, std::size_t skip);

    std::unique_ptr<temp_dir> own_dir_;
    std::filesystem::path stdout_path_;
    std::filesystem::path stderr_path_;
    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    std::optional<exit_status> status_;
};

} // namespace clipal::test
