// The long-running `clipal` process: owns the public listener and router, one worker
// runner per profile, the config (watching and reloading it), the log files, the
// control socket, and the shutdown sequence. It never talks to an upstream.
#pragma once

#include "shared/clock.hpp"
#include "shared/config_loader.hpp"
#include "shared/log.hpp"
#include "shared/log_writer.hpp"
#include "supervisor/observability.hpp"
#include "supervisor/router.hpp"
#include "supervisor/status_document.hpp"
#include "supervisor/upgrade_coordinator.hpp"
#include "supervisor/worker_runner.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipal::supervisor {

class config_watcher;
class control_server;

struct supervisor_options {
    std::filesystem::path config_dir;
    config_overrides overrides;
    std::chrono::seconds drain_deadline{120};
    // The command line this supervisor was started with, argv[0] included: an upgrade
    // re-executes it with the same flags.
    std::vector<std::string> command_line;
};

class supervisor {
public:
    supervisor(boost::asio::io_context& ioc, supervisor_options opts);
    ~supervisor();

    // Loads the config, binds the listener and the control socket, starts the workers.
    // Returns an exit code when startup fails (78 config, 75 cannot bind), else nullopt.
    std::optional<int> start();
    int exit_code() const { return exit_code_; }

private:
    // `forced` (SIGHUP, `clipal reload`): every profile is pushed again as if edited, which
    // clears provider state and starts parked workers (SPEC §6); otherwise only changes.
    void reload(std::string_view why, bool forced = false);
    void apply(config next, bool first, bool forced = false);
    void on_signal(int sig);
    void reap_children();
    void begin_shutdown(std::string_view why);
    void check_shutdown_done();
    void handle_control(const std::string& command, std::function<void(boost::json::value)> respond);
    void watch_signals();
    void wait_signal();
    // `keep_state`: the worker keeps its provider state (only config.yaml changed).
    std::string worker_config_json(profile p, bool keep_state) const;
    // systemd notify: STATUS= on every change, READY=1 once every worker settled.
    void update_service_status();
    void start_watchdog(std::chrono::microseconds every);
    void on_worker_log(const ipc::log_record& r);

    boost::asio::io_context& ioc_;
    supervisor_options opts_;
    system_clock clock_;
    log_writer writer_;
    logger log_;
    std::optional<config> config_;
    router router_;
    std::array<std::unique_ptr<worker_runner>, 3> runners_;
    std::unique_ptr<config_watcher> watcher_;
    std::unique_ptr<control_server> control_;
    boost::asio::signal_set signals_;
    boost::asio::steady_timer shutdown_timer_;
    boost::asio::steady_timer watchdog_timer_;
    std::filesystem::path executable_; // resolved at construction: an update replaces the file
    upgrade_coordinator upgrade_;
    reload_result last_reload_;
    observability observability_;
    status_document status_;
    std::string last_status_;
    bool ready_sent_ = false;
    bool started_ = false;
    bool stopping_ = false;
    int exit_code_ = 0;
};

// `clipal` with no subcommand: runs the supervisor in the foreground until stopped.
int run_supervisor(const supervisor_options& opts);

} // namespace clipal::supervisor
