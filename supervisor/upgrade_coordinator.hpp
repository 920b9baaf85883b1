// Upgrade in place (`clipal update`): takes the `upgrade` request, waits until no hand-off
// or control reply is in flight, and re-executes into the replaced binary carrying what is
// open (see upgrade_state.hpp). In the new image it adopts that state and keeps the
// previous workers serving until their successors are ready, then lets them drain.
#pragma once

#include "ipc/messages.hpp"
#include "ipc/unique_fd.hpp"
#include "shared/clock.hpp"
#include "shared/config_loader.hpp"
#include "shared/log.hpp"
#include "supervisor/retiring_worker.hpp"
#include "supervisor/upgrade_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace clipal::supervisor {

class router;
class worker_runner;

class upgrade_coordinator {
public:
    using runner_set = std::array<std::unique_ptr<worker_runner>, 3>;

    struct settings {
        std::filesystem::path executable; // resolved when clipal starts: an update replaces the file
        std::filesystem::path config_dir;
        config_overrides overrides;
        // Re-executed with the same flags; argv[0] becomes `executable`.
        std::vector<std::string> command_line;
        std::chrono::milliseconds drain_deadline{120'000};
    };
    struct hooks {
        std::function<void(const ipc::log_record&)> log_record; // a previous worker's log line
        std::function<bool()> replying;                         // a control reply is still being sent
        std::function<void()> before_reexec;                    // write what must not be lost
        // A previous image's worker reported (its counts count; its gauges are its successor's).
        std::function<void(profile, const ipc::worker_report&)> retiring_report;
    };

    // `runners` is read, never resized; its runners must exist before request() and adopt().
    upgrade_coordinator(boost::asio::io_context& ioc, const clock& clk, logger& log, router& r,
                        const runner_set& runners, settings s, hooks h);
    ~upgrade_coordinator();

    // The `upgrade` control command. Answers an error (and changes nothing) when an upgrade
    // is under way, the executable is gone or the config would not load; else answers ok,
    // pauses accepting and, once quiet (at most 2 s later), replaces the process image.
    // When execve() fails, the error is logged and serving resumes.
    void request(std::function<void(boost::json::value)> respond);
    // Shutdown began: a pending re-execution does not happen.
    void cancel();
    bool upgrading() const { return upgrading_; }

    // In the new image. Serves the listener the previous image passed on when it is bound
    // to `address`:`port`, where port 0 (`--port 0`, any free port) matches the port it
    // has. False (and `fd` closed) when it does not fit: bind afresh.
    bool adopt_listener(ipc::unique_fd fd, const std::string& address, std::uint16_t port);
    // Takes over the connections and workers of the previous image (runners must exist).
    void adopt(upgrade_state inherited);
    // A previous worker drains once its successor serves, or once there will be none.
    // Called whenever a runner's state changes.
    void retire_replaced_workers();

    // The previous image's workers still alive.
    const std::vector<std::unique_ptr<retiring_worker>>& previous_workers() const { return retiring_; }
    // From the SIGCHLD reaper: true when `pid` was a previous worker (now forgotten).
    bool on_exit(int pid);
    void drain_previous_workers();
    void kill_previous_workers();

private:
    void wait_quiet(clock::time_point give_up);
    void reexecute();

    boost::asio::io_context& ioc_;
    const clock& clock_;
    logger& log_;
    router& router_;
    const runner_set& runners_;
    settings settings_;
    hooks hooks_;
    boost::asio::steady_timer timer_;
    std::vector<std::unique_ptr<retiring_worker>> retiring_;
    bool upgrading_ = false;
};

} // namespace clipal::supervisor
