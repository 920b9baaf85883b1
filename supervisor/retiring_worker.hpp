// A worker started by the previous image of this supervisor, adopted across a
// re-execution (`clipal update`): it gets no new connections, keeps serving the requests
// it has, forwards its log lines, and is told to drain once its profile's new worker is
// ready. It is killed if it outlives the drain deadline.
#pragma once

#include "ipc/channel.hpp"
#include "shared/log.hpp"
#include "shared/profile.hpp"
#include "supervisor/upgrade_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace clipal::supervisor {

class retiring_worker {
public:
    struct hooks {
        std::function<void(const ipc::log_record&)> log_record;
        std::function<void(const ipc::worker_report&)> report; // its counts still count
        std::function<void(boost::asio::ip::tcp::socket, std::string bytes, std::string addr)> reroute;
    };

    // Takes ownership of `channel_fd`.
    retiring_worker(boost::asio::io_context& ioc, logger& log, profile id, int pid, int channel_fd, hooks h);
    ~retiring_worker();

    // Asks it to finish what it serves and exit; SIGKILL after `deadline` plus a grace.
    void drain(std::chrono::milliseconds deadline);
    void kill_now();
    // A child exited (from the SIGCHLD reaper). False when `pid` is not this one.
    bool on_exit(int pid);

    // A duplicate of its channel, for passing it on across another re-execution.
    std::optional<upgrade_state::worker> snapshot() const;

    profile id() const { return id_; }
    int pid() const { return pid_; }
    bool draining() const { return draining_; }
    bool gone() const { return pid_ <= 0; }

private:
    void on_message(ipc::message&& m, ipc::unique_fd fd);

    boost::asio::io_context& ioc_;
    logger& log_;
    profile id_;
    int pid_;
    hooks hooks_;
    std::shared_ptr<ipc::channel> channel_;
    boost::asio::steady_timer kill_timer_;
    bool draining_ = false;
};

} // namespace clipal::supervisor
