// Runs one profile's worker: drives its worker_slot state machine with real processes,
// the IPC channel, timers and the stderr tail; hands routed connections to the worker,
// holding them (bounded) while it (re)starts.
#pragma once

#include "ipc/channel.hpp"
#include "shared/clock.hpp"
#include "shared/fault_log.hpp"
#include "shared/log.hpp"
#include "supervisor/upgrade_state.hpp"
#include "supervisor/worker_slot.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace clipal::supervisor {

class worker_runner {
public:
    struct hooks {
        std::function<void(const ipc::log_record&)> log_record; // a worker's log line
        // A worker gave back a connection whose next request belongs to another profile.
        std::function<void(boost::asio::ip::tcp::socket, std::string bytes, std::string addr)> reroute;
        std::function<void()> state_changed; // e.g. to notice "all workers stopped"
        std::function<void(const ipc::worker_report&)> report;
        std::function<void(bool restart)> started; // a worker process was launched
        std::function<void()> gone;                // the worker process ended
    };

    worker_runner(boost::asio::io_context& ioc, const clock& clk, logger& log, profile id, std::filesystem::path exe,
                  hooks h, slot_policy policy = {});
    ~worker_runner();

    // The profile's config, as the JSON a worker applies. First call starts the slot.
    void set_config(std::string config_json, bool has_providers);
    // A child exited (from the SIGCHLD reaper). False when `pid` is not ours.
    bool on_exit(int pid, int wait_status);

    // Serves a routed connection: hands it over now, holds it while the worker starts
    // (up to hold_limit), or answers 503 when the profile cannot serve.
    void route(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr);

    void drain(std::chrono::milliseconds deadline);
    void kill_now();

    // Asks the worker for its provider state; `done` always runs (within ~1 s).
    void status(std::function<void(boost::json::object)> done);

    // For a re-execution (see upgrade_state.hpp): hand-offs the worker has not confirmed
    // yet, duplicates of the connections held for the worker, and of the worker's channel.
    std::size_t unacknowledged() const { return unacked_.size(); }
    std::vector<upgrade_state::connection> snapshot_held() const;
    std::optional<upgrade_state::worker> snapshot_worker() const;

    slot_state state() const { return slot_.state(); }
    bool has_process() const { return pid_ > 0; }
    profile id() const { return id_; }

private:
    struct held_connection {
        boost::asio::ip::tcp::socket socket;
        std::string bytes;
        std::string addr;
        std::chrono::steady_clock::time_point expires;
    };

    void run(slot_actions actions);
    void spawn();
    void on_message(ipc::message&& m, ipc::unique_fd fd);
    void read_stderr();
    void hand_over(held_connection c);
    void flush_held();
    void requeue_unacked();
    void arm_hold_timer();
    bool can_hand_over() const;
    void refuse(boost::asio::ip::tcp::socket s, std::string_view why);
    void arm_fault_summary();

    boost::asio::io_context& ioc_;
    const clock& clock_;
    logger& log_;
    profile id_;
    std::filesystem::path exe_;
    hooks hooks_;
    worker_slot slot_;
    bool started_ = false;
    bool launched_before_ = false; // a later launch is a restart (metrics)
    std::string config_json_;
    int pid_ = -1;
    std::shared_ptr<ipc::channel> channel_;
    std::unique_ptr<boost::asio::posix::stream_descriptor> stderr_;
    std::array<char, 4096> stderr_buf_{};
    std::string stderr_tail_;
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer hold_timer_;
    // Refusals and failed hand-offs come at the clients' rate (a parked profile under load).
    fault_log faults_;
    boost::asio::steady_timer fault_timer_;
    std::deque<held_connection> held_;
    // Handed over but not yet acknowledged: our duplicate of each descriptor, so the
    // connections survive a worker that dies before taking them (see ipc/README.md).
    std::map<std::uint64_t, held_connection> unacked_;
    std::uint64_t next_connection_id_ = 1;
    std::uint64_t next_status_id_ = 1;
    std::map<std::uint64_t, std::function<void(boost::json::object)>> status_waiters_;
};

} // namespace clipal::supervisor
