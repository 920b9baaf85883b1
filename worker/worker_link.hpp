// The worker's side of the supervisor channel: says hello, applies pushed configs and
// acknowledges them, sends heartbeats and log records, answers status requests, serves
// handed-over connections, hands foreign ones back, drains on request, and ends the
// process when the channel closes (so no worker outlives its supervisor).
#pragma once

#include "ipc/channel.hpp"
#include "shared/log.hpp"
#include "worker/asio_types.hpp"
#include "worker/worker_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace clipal::worker {

// Log records go to the supervisor, the only writer of log files. When the channel is
// gone (the process is about to exit) they go to stderr, which the supervisor tails.
class channel_log_backend final : public log_backend {
public:
    void attach(std::shared_ptr<ipc::channel> ch) { channel_ = std::move(ch); }
    void write(const log_record& r) override;

private:
    std::shared_ptr<ipc::channel> channel_;
};

class worker_link {
public:
    worker_link(boost::asio::io_context& ioc, std::shared_ptr<ipc::channel> ch, worker_server& server, logger& log,
                profile id);

    // Starts reading the channel and sends hello. `on_exit(code)` is called once when the
    // process should end (channel closed, drained, or shutdown asked).
    void start(std::function<void(int)> on_exit);
    // SIGTERM reached the worker directly: drain like a supervisor drain would.
    void drain(std::chrono::milliseconds deadline);

private:
    void on_message(ipc::message&& m, ipc::unique_fd fd);
    void on_config(const ipc::config_push& push);
    void on_handoff(ipc::handoff&& h, ipc::unique_fd fd);
    std::string status_json() const;
    void heartbeat();
    // Sends what the worker counted since the last report (ipc::worker_report).
    void send_reports();
    void end(int code);

    boost::asio::io_context& ioc_;
    std::shared_ptr<ipc::channel> channel_;
    worker_server& server_;
    logger& log_;
    profile id_;
    steady_timer heartbeat_timer_;
    std::uint64_t heartbeat_seq_ = 0;
    bool ready_sent_ = false;
    bool draining_ = false;
    bool report_posted_ = false;
    std::function<void(int)> on_exit_;
};

} // namespace clipal::worker
