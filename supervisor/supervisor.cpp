#include "supervisor/supervisor.hpp"

#include "clipal/version.hpp"
#include "ipc/config_codec.hpp"
#include "shared/descriptor_limit.hpp"
#include "shared/exit_codes.hpp"
#include "shared/memory_privacy.hpp"
#include "supervisor/config_watcher.hpp"
#include "supervisor/control_server.hpp"
#include "supervisor/control_socket_path.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/worker_process.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace clipal::supervisor {
namespace {

// Editors write in bursts (temp file, rename, chmod): settle before reading.
constexpr auto watch_debounce = std::chrono::milliseconds(150);

std::vector<std::string> all_keys(const config& c) {
    std::vector<std::string> keys;
    for (const auto& p : c.profiles) {
        for (const auto* list : {&p.providers, &p.disabled})
            for (const auto& pr : *list) keys.insert(keys.end(), pr.api_keys.begin(), pr.api_keys.end());
    }
    if (!c.global.access_token.empty()) keys.push_back(c.global.access_token);
    return keys;
}

bool is_loopback(const std::string& address) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(address, ec);
    return !ec && a.is_loopback();
}

// Where the listener is actually bound: with port 0 the kernel chose the port.
std::string bound_address(const router& r) {
    const auto ep = r.local_endpoint();
    return ep ? fmt::format("{}:{}", ep->address().to_string(), ep->port()) : std::string("-");
}

} // namespace

supervisor::supervisor(boost::asio::io_context& ioc, supervisor_options opts)
    : ioc_(ioc),
      opts_(std::move(opts)),
      log_(clock_, writer_),
      router_(ioc, clock_, log_,
              [this](profile p, boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
                  runners_[static_cast<std::size_t>(p)]->route(std::move(s), std::move(bytes), std::move(addr));
              }),
      signals_(ioc),
      shutdown_timer_(ioc),
      watchdog_timer_(ioc),
      executable_(self_executable()),
      upgrade_(ioc, clock_, log_, router_, runners_,
               {executable_, opts_.config_dir, opts_.overrides, opts_.command_line,
                std::chrono::duration_cast<std::chrono::milliseconds>(opts_.drain_deadline)},
               {[this](const ipc::log_record& r) { on_worker_log(r); },
                [this] { return control_ && control_->open_connections() > 0; }, [this] { observability_.flush(); },
                [this](profile p, const ipc::worker_report& r) { observability_.on_report(p, r.json, r.rows, true); }}),
      observability_(ioc, clock_, log_, opts_.config_dir),
      status_(clock_, router_, runners_, upgrade_, last_reload_, opts_.config_dir,
              [this](profile p) { return observability_.activity(p); }) {}

supervisor::~supervisor() = default;

std::string supervisor::worker_config_json(profile p, bool keep_state) const {
    auto g = config_->global;
    // `--port 0`: workers learn the port the kernel chose (the wire format wants 1–65535).
    if (const auto ep = router_.local_endpoint(); g.port == 0 && ep) g.port = ep->port();
    return ipc::to_json(ipc::worker_config{config_->of(p), g, keep_state});
}

std::optional<int> supervisor::start() {
    // Set by the previous image when this start is an upgrade (see upgrade_state.hpp).
    std::string inherit_error;
    auto inherited = take_upgrade_state(inherit_error);
    auto loaded = load_config(opts_.config_dir, opts_.overrides);
    if (!loaded.cfg) {
        for (const auto& e : loaded.errors) std::cerr << "clipal: " << e.to_string() << "\n";
        std::cerr << "clipal: not started; fix the config and run `clipal check`\n";
        return exit_config;
    }
    const auto& g = loaded.cfg->global;
    writer_.configure(g.log_dir, g.log_retention_days, g.log_stdout);
    log_.set_level(g.level);
    log_.set_redactor(std::make_shared<redactor>(all_keys(*loaded.cfg)));
    for (const auto& w : loaded.warnings) log_.warn("", "{}", w.to_string());
    log_.info("", "clipal {} starting on {}:{}", clipal::version, g.listen_addr, g.port);
    // Before any worker starts: they inherit it.
    if (const auto fds = raise_descriptor_limit()) log_.info("", "descriptor limit: {}", describe(*fds));
    if (!is_loopback(g.listen_addr) && g.access_token.empty())
        log_.warn("",
                  "listen_addr {} is reachable from other machines; anyone who can reach it can use your keys "
                  "(set access_token in config.yaml so that clients must present it as their API key)",
                  g.listen_addr);
    else if (!is_loopback(g.listen_addr))
        log_.info("", "listen_addr {} is reachable from other machines; clients must present the access_token",
                  g.listen_addr);

    if (!inherit_error.empty())
        log_.error("",
                   "re-executed for an upgrade, but the previous image's state is unreadable ({}); "
                   "starting afresh",
                   inherit_error);
    const bool listening =
        inherited && inherited->listener_fd >= 0 &&
        upgrade_.adopt_listener(ipc::unique_fd(std::exchange(inherited->listener_fd, -1)), g.listen_addr, g.port);
    if (!listening) {
        std::string error;
        if (router_.listen(g.listen_addr, g.port, error)) {
            log_.error("", "{}", error);
            return exit_transient;
        }
        if (g.port == 0) log_.info("", "listening on {} (port 0: a free port)", bound_address(router_));
    }
    try {
        control_ = std::make_unique<control_server>(ioc_.get_executor(), control_socket_path(opts_.config_dir),
                                                    opts_.config_dir,
                                                    [this](const std::string& cmd, control_server::responder respond) {
                                                        handle_control(cmd, std::move(respond));
                                                    });
        control_->start();
    } catch (const std::exception& e) {
        log_.error("", "{}", e.what());
        return exit_transient;
    }

    // CLIPAL_WORKER_EXECUTABLE replaces the worker program: for tests that play a broken
    // worker, and for running workers under a debugger or valgrind.
    const char* worker_exe = std::getenv("CLIPAL_WORKER_EXECUTABLE");
    const auto exe = worker_exe && *worker_exe ? std::filesystem::path(worker_exe) : executable_;
    for (const auto& p : all_profiles) {
        worker_runner::hooks h;
        h.log_record = [this](const ipc::log_record& r) { on_worker_log(r); };
        h.reroute = [this](boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
            router_.reroute(std::move(s), std::move(bytes), std::move(addr));
        };
        h.report = [this, id = p.id](const ipc::worker_report& r) { observability_.on_report(id, r.json, r.rows); };
        h.started = [this, id = p.id](bool restart) { observability_.worker_started(id, restart); };
        h.gone = [this, id = p.id] { observability_.worker_gone(id); };
        h.state_changed = [this] {
            for (const auto& r : runners_)
                if (r) observability_.worker_state(r->id(), r->state());
            upgrade_.retire_replaced_workers();
            check_shutdown_done();
            update_service_status();
        };
        runners_[static_cast<std::size_t>(p.id)] =
            std::make_unique<worker_runner>(ioc_, clock_, log_, p.id, exe, std::move(h));
    }
    apply(std::move(*loaded.cfg), true);
    last_reload_ = {true, clock_.now(), {}};
    observability_.start(config_->global);
    router_.set_local_paths([this](std::string_view target, std::string_view head) -> std::optional<local_response> {
        if (target != "/metrics") return std::nullopt;
        observability_.router_connections(router_.reading_count());
        return observability_.metrics_answer(head, config_->global);
    });
    if (inherited) upgrade_.adopt(std::move(*inherited));

    watcher_ = std::make_unique<config_watcher>(ioc_.get_executor(), opts_.config_dir, watch_debounce,
                                                [this](const std::set<std::string>& changed) {
                                                    std::string names;
                                                    for (const auto& n : changed)
                                                        names += (names.empty() ? "" : ", ") + n;
                                                    reload("changed: " + names);
                                                });
    watcher_->start();
    watch_signals();
    // Workers that ended before SIGCHLD was watched (one that fails at once, previous workers
    // that ended while this image was loading) are zombies no signal announces.
    reap_children();
    if (const auto interval = sd_notify::watchdog_interval()) start_watchdog(*interval / 2);
    started_ = true;
    update_service_status();
    return std::nullopt;
}

void supervisor::apply(config next, bool first, bool forced) {
    const bool global_changed = first || !(next.global == config_->global);
    std::array<bool, 3> changed{};
    // SPEC §4 "Reload and state": a push caused only by config.yaml keeps the worker's
    // provider state; the first config, a forced reload and a profile edit clear it.
    std::array<bool, 3> keep_state{};
    for (const auto& p : all_profiles) {
        const auto i = static_cast<std::size_t>(p.id);
        const bool profile_changed = first || !(next.of(p.id) == config_->of(p.id));
        changed[i] = global_changed || forced || profile_changed;
        keep_state[i] = !first && !forced && !profile_changed;
    }
    const bool rebind =
        !first && (next.global.listen_addr != config_->global.listen_addr || next.global.port != config_->global.port);
    config_ = std::move(next);
    const auto& g = config_->global;
    writer_.configure(g.log_dir, g.log_retention_days, g.log_stdout);
    log_.set_level(g.level);
    log_.set_redactor(std::make_shared<redactor>(all_keys(*config_)));
    router_.set_max_connections(g.max_connections);
    if (rebind) {
        std::string error;
        if (router_.listen(g.listen_addr, g.port, error))
            log_.error("", "{}; still listening on the previous address", error);
        else
            log_.info("", "now listening on {}", bound_address(router_));
    }
    for (const auto& p : all_profiles) {
        const auto i = static_cast<std::size_t>(p.id);
        if (!changed[i]) continue;
        const auto& pc = config_->of(p.id);
        if (!first) log_.info(p.tag, "{} providers for {} reloaded", pc.providers.size(), p.name);
        runners_[i]->set_config(worker_config_json(p.id, keep_state[i]), !pc.providers.empty());
    }
}

void supervisor::reload(std::string_view why, bool forced) {
    if (stopping_) return;
    sd_notify::reloading();
    // READY=1 follows at once: workers pick up the new config in the background.
    struct ready_again {
        ~ready_again() { sd_notify::ready(); }
    } notify_ready;
    auto loaded = load_config(opts_.config_dir, opts_.overrides);
    if (!loaded.cfg) {
        std::string all;
        for (const auto& e : loaded.errors) {
            log_.error("", "config reload failed, keeping the running config: {}", e.to_string());
            all += (all.empty() ? "" : "; ") + e.to_string();
        }
        last_reload_ = {false, clock_.now(), all};
        observability_.config_reloaded(false);
        return;
    }
    for (const auto& w : loaded.warnings) log_.warn("", "{}", w.to_string());
    log_.info("", "config reloaded ({})", why);
    apply(std::move(*loaded.cfg), false, forced);
    last_reload_ = {true, clock_.now(), {}};
    observability_.configure(config_->global);
    observability_.config_reloaded(true);
}

void supervisor::watch_signals() {
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.add(SIGHUP);
    signals_.add(SIGCHLD);
    wait_signal();
}

void supervisor::wait_signal() {
    signals_.async_wait([this](boost::system::error_code ec, int sig) {
        if (ec) return;
        on_signal(sig);
        wait_signal();
    });
}

void supervisor::on_signal(int sig) {
    switch (sig) {
    case SIGCHLD: reap_children(); break;
    case SIGHUP: reload("SIGHUP", true); break;
    default:
        if (stopping_) {
            log_.warn("", "second signal: stopping now");
            for (auto& r : runners_) r->kill_now();
            upgrade_.kill_previous_workers();
            exit_code_ = exit_ok;
            ioc_.stop();
            return;
        }
        begin_shutdown(sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
}

void supervisor::reap_children() {
    int status = 0;
    bool retired = false;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
        const bool ours =
            std::any_of(runners_.begin(), runners_.end(), [&](const auto& r) { return r && r->on_exit(pid, status); });
        if (!ours && upgrade_.on_exit(pid)) retired = true;
    }
    if (retired) check_shutdown_done();
}

void supervisor::begin_shutdown(std::string_view why) {
    if (stopping_) return;
    stopping_ = true;
    sd_notify::stopping();
    log_.info("", "{}: stopping; in-flight requests get up to {}s to finish", why, opts_.drain_deadline.count());
    router_.stop_accepting();
    if (watcher_) watcher_->stop();
    upgrade_.cancel();
    for (auto& r : runners_) r->drain(std::chrono::duration_cast<std::chrono::milliseconds>(opts_.drain_deadline));
    upgrade_.drain_previous_workers();
    // The slots kill what does not end by the deadline; this is the last safety net.
    shutdown_timer_.expires_after(opts_.drain_deadline + std::chrono::seconds(10));
    shutdown_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        for (auto& r : runners_) r->kill_now();
        upgrade_.kill_previous_workers();
        ioc_.stop();
    });
    check_shutdown_done();
}

void supervisor::check_shutdown_done() {
    if (!stopping_) return;
    for (auto& r : runners_)
        if (r && r->has_process()) return;
    if (!upgrade_.previous_workers().empty()) return;
    shutdown_timer_.cancel();
    watchdog_timer_.cancel();
    if (control_) control_->stop();
    observability_.flush();
    log_.info("", "clipal stopped");
    ioc_.stop();
}

void supervisor::handle_control(const std::string& command, std::function<void(boost::json::value)> respond) {
    if (command == "status") {
        status_.collect(std::move(respond));
    } else if (command == "reload") {
        reload("clipal reload", true);
        boost::json::object o;
        o["ok"] = last_reload_.ok;
        o["error"] = last_reload_.ok ? boost::json::value(nullptr) : boost::json::value(last_reload_.error);
        respond(std::move(o));
    } else if (command == "stop") {
        boost::json::object o;
        o["ok"] = true;
        o["pid"] = static_cast<std::int64_t>(::getpid());
        respond(std::move(o));
        boost::asio::post(ioc_, [this] { begin_shutdown("clipal stop"); });
    } else if (command == "upgrade") {
        if (stopping_) return respond(control_server::error_reply("clipal is stopping"));
        upgrade_.request(std::move(respond));
    } else {
        respond(control_server::error_reply("unknown command \"" + command + "\""));
    }
}

void supervisor::update_service_status() {
    // During start() later profiles are not started yet and would look settled.
    if (stopping_ || !started_) return;
    // systemd's READY=1 waits until every worker that should run is up (or has given up).
    std::string summary;
    bool settled = true;
    for (const auto& r : runners_) {
        if (!r) return;
        const auto st = r->state();
        if (st == slot_state::starting || st == slot_state::backoff) settled = false;
        summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", info(r->id()).name, to_string(st));
    }
    if (summary != last_status_) {
        last_status_ = summary;
        sd_notify::status(summary);
    }
    if (settled && !ready_sent_) {
        ready_sent_ = true;
        sd_notify::ready();
    }
}

void supervisor::start_watchdog(std::chrono::microseconds every) {
    watchdog_timer_.expires_after(every);
    watchdog_timer_.async_wait([this, every](boost::system::error_code ec) {
        if (ec) return;
        // Pinged from the main loop, so a hung loop stops the pings and systemd restarts us.
        sd_notify::watchdog();
        start_watchdog(every);
    });
}

void supervisor::on_worker_log(const ipc::log_record& r) { writer_.write(ipc::from_wire(r)); }

int run_supervisor(const supervisor_options& opts) {
    keep_memory_private(); // before the config, and its keys, are read
    std::signal(SIGPIPE, SIG_IGN);
    boost::asio::io_context ioc(1);
    supervisor s(ioc, opts);
    if (auto code = s.start()) return *code;
    ioc.run();
    return s.exit_code();
}

} // namespace clipal::supervisor
