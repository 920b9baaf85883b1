#include "supervisor/supervisor.hpp"

#include "clipal/version.hpp"
#include "ipc/config_codec.hpp"
#include "shared/exit_codes.hpp"
#include "shared/time_format.hpp"
#include "supervisor/config_watcher.hpp"
#include "supervisor/control_server.hpp"
#include "supervisor/control_socket_path.hpp"
#include "supervisor/inherited_socket.hpp"
#include "supervisor/reexec.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/worker_process.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <cstdlib>
#include <iostream>
#include <sys/wait.h>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

// Editors write in bursts (temp file, rename, chmod): settle before reading.
constexpr auto watch_debounce = std::chrono::milliseconds(150);
// How long an upgrade waits for hand-offs to be confirmed and control replies to be sent.
constexpr auto upgrade_settle_limit = std::chrono::seconds(2);

std::vector<std::string> all_keys(const config& c) {
    std::vector<std::string> keys;
    for (const auto& p : c.profiles) {
        for (const auto& pr : p.providers) keys.push_back(pr.api_key);
        for (const auto& pr : p.disabled) keys.push_back(pr.api_key);
    }
    return keys;
}

bool is_loopback(const std::string& address) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(address, ec);
    return !ec && a.is_loopback();
}

} // namespace

supervisor::supervisor(boost::asio::io_context& ioc, supervisor_options opts)
    : ioc_(ioc),
      opts_(std::move(opts)),
      log_(clock_, writer_),
      router_(ioc, log_,
              [this](profile p, boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
                  runners_[static_cast<std::size_t>(p)]->route(std::move(s), std::move(bytes), std::move(addr));
              }),
      signals_(ioc),
      shutdown_timer_(ioc),
      watchdog_timer_(ioc),
      upgrade_timer_(ioc),
      started_at_(clock_.now()) {}

supervisor::~supervisor() = default;

std::string supervisor::worker_config_json(profile p) const {
    return ipc::to_json(ipc::worker_config{config_->of(p), config_->global});
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
    if (!is_loopback(g.listen_addr))
        log_.warn("", "listen_addr {} is reachable from other machines; anyone who can reach it can use your keys",
                  g.listen_addr);

    if (!inherit_error.empty())
        log_.error("", "re-executed for an upgrade, but the previous image's state is unreadable ({}); "
                       "starting afresh", inherit_error);
    bool listening = false;
    if (inherited && inherited->listener_fd >= 0) {
        auto a = acceptor_from_fd(ioc_, inherited->listener_fd);
        if (!a) ::close(inherited->listener_fd);
        listening = a && router_.adopt(std::move(*a), g.listen_addr, g.port);
        if (listening) log_.info("", "kept the listener on {}:{} open across the upgrade", g.listen_addr, g.port);
    }
    std::string error;
    if (!listening && router_.listen(g.listen_addr, g.port, error)) {
        log_.error("", "{}", error);
        return exit_transient;
    }
    try {
        control_ = std::make_unique<control_server>(
            ioc_.get_executor(), control_socket_path(opts_.config_dir), opts_.config_dir,
            [this](const std::string& cmd, control_server::responder respond) { handle_control(cmd, std::move(respond)); });
        control_->start();
    } catch (const std::exception& e) {
        log_.error("", "{}", e.what());
        return exit_transient;
    }

    // CLIPAL_WORKER_EXECUTABLE replaces the worker program: for tests that play a broken
    // worker, and for running workers under a debugger or valgrind.
    const char* worker_exe = std::getenv("CLIPAL_WORKER_EXECUTABLE");
    executable_ = self_executable();
    const auto exe = worker_exe && *worker_exe ? std::filesystem::path(worker_exe) : executable_;
    for (const auto& p : all_profiles) {
        worker_runner::hooks h;
        h.log_record = [this](const ipc::log_record& r) { on_worker_log(r); };
        h.reroute = [this](boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
            reroute(std::move(s), std::move(bytes), std::move(addr));
        };
        h.state_changed = [this] {
            retire_replaced_workers();
            check_shutdown_done();
            update_service_status();
        };
        runners_[static_cast<std::size_t>(p.id)] = std::make_unique<worker_runner>(ioc_, clock_, log_, p.id, exe, std::move(h));
    }
    apply(std::move(*loaded.cfg), true);
    last_reload_ = {true, clock_.now(), {}};
    if (inherited) adopt(std::move(*inherited));

    watcher_ = std::make_unique<config_watcher>(ioc_.get_executor(), opts_.config_dir, watch_debounce,
                                                [this](const std::set<std::string>& changed) {
                                                    std::string names;
                                                    for (const auto& n : changed) names += (names.empty() ? "" : ", ") + n;
                                                    reload("changed: " + names);
                                                });
    watcher_->start();
    watch_signals();
    // Previous workers that ended while this image was loading are zombies no signal announces.
    if (!retiring_.empty()) reap_children();
    if (const auto interval = sd_notify::watchdog_interval()) start_watchdog(*interval / 2);
    started_ = true;
    update_service_status();
    return std::nullopt;
}

void supervisor::apply(config next, bool first) {
    const bool global_changed = first || !(next.global == config_->global);
    std::array<bool, 3> changed{};
    for (const auto& p : all_profiles)
        changed[static_cast<std::size_t>(p.id)] = global_changed || first || !(next.of(p.id) == config_->of(p.id));
    const bool rebind =
        !first && (next.global.listen_addr != config_->global.listen_addr || next.global.port != config_->global.port);
    config_ = std::move(next);
    const auto& g = config_->global;
    writer_.configure(g.log_dir, g.log_retention_days, g.log_stdout);
    log_.set_level(g.level);
    log_.set_redactor(std::make_shared<redactor>(all_keys(*config_)));
    if (rebind) {
        std::string error;
        if (router_.listen(g.listen_addr, g.port, error))
            log_.error("", "{}; still listening on the previous address", error);
        else
            log_.info("", "now listening on {}:{}", g.listen_addr, g.port);
    }
    for (const auto& p : all_profiles) {
        const auto i = static_cast<std::size_t>(p.id);
        if (!changed[i]) continue;
        const auto& pc = config_->of(p.id);
        if (!first) log_.info(p.tag, "{} providers for {} reloaded", pc.providers.size(), p.name);
        runners_[i]->set_config(worker_config_json(p.id), !pc.providers.empty());
    }
}

void supervisor::reload(std::string_view why) {
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
        return;
    }
    for (const auto& w : loaded.warnings) log_.warn("", "{}", w.to_string());
    log_.info("", "config reloaded ({})", why);
    apply(std::move(*loaded.cfg), false);
    last_reload_ = {true, clock_.now(), {}};
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
    case SIGHUP: reload("SIGHUP"); break;
    default:
        if (stopping_) {
            log_.warn("", "second signal: stopping now");
            for (auto& r : runners_) r->kill_now();
            for (auto& r : retiring_) r->kill_now();
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
        bool ours = false;
        for (auto& r : runners_)
            if (r && r->on_exit(pid, status)) {
                ours = true;
                break;
            }
        if (ours) continue;
        for (auto& r : retiring_)
            if (r->on_exit(pid)) {
                log_.info(info(r->id()).tag, "previous worker {} exited", pid);
                retired = true;
                break;
            }
    }
    if (retired) {
        std::erase_if(retiring_, [](const auto& r) { return r->gone(); });
        check_shutdown_done();
    }
}

void supervisor::begin_shutdown(std::string_view why) {
    if (stopping_) return;
    stopping_ = true;
    sd_notify::stopping();
    log_.info("", "{}: stopping; in-flight requests get up to {}s to finish", why, opts_.drain_deadline.count());
    router_.stop_accepting();
    if (watcher_) watcher_->stop();
    upgrade_timer_.cancel();
    for (auto& r : runners_) r->drain(std::chrono::duration_cast<std::chrono::milliseconds>(opts_.drain_deadline));
    for (auto& r : retiring_) r->drain(std::chrono::duration_cast<std::chrono::milliseconds>(opts_.drain_deadline));
    // The slots kill what does not end by the deadline; this is the last safety net.
    shutdown_timer_.expires_after(opts_.drain_deadline + std::chrono::seconds(10));
    shutdown_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        for (auto& r : runners_) r->kill_now();
        for (auto& r : retiring_) r->kill_now();
        ioc_.stop();
    });
    check_shutdown_done();
}

void supervisor::check_shutdown_done() {
    if (!stopping_) return;
    for (auto& r : runners_)
        if (r && r->has_process()) return;
    if (!retiring_.empty()) return;
    shutdown_timer_.cancel();
    watchdog_timer_.cancel();
    if (control_) control_->stop();
    log_.info("", "clipal stopped");
    ioc_.stop();
}

void supervisor::handle_control(const std::string& command, std::function<void(boost::json::value)> respond) {
    if (command == "status") {
        collect_status(std::move(respond));
    } else if (command == "reload") {
        reload("clipal reload");
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
        handle_upgrade(std::move(respond));
    } else {
        respond(control_server::error_reply("unknown command \"" + command + "\""));
    }
}

void supervisor::collect_status(std::function<void(boost::json::value)> respond) {
    struct gather {
        std::array<boost::json::object, 3> workers;
        int pending = 3;
        std::function<void(boost::json::value)> respond;
    };
    auto g = std::make_shared<gather>();
    g->respond = std::move(respond);
    for (std::size_t i = 0; i < runners_.size(); ++i) {
        runners_[i]->status([this, g, i](boost::json::object w) {
            g->workers[i] = std::move(w);
            if (--g->pending > 0) return;
            boost::json::object o;
            o["version"] = clipal::version;
            o["pid"] = static_cast<std::int64_t>(::getpid());
            o["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - started_at_).count();
            const auto ep = router_.local_endpoint();
            o["listen"] = ep ? fmt::format("{}:{}", ep->address().to_string(), ep->port()) : std::string("-");
            o["config_dir"] = opts_.config_dir.string();
            boost::json::object lr;
            lr["ok"] = last_reload_.ok;
            lr["time"] = iso_utc(last_reload_.time);
            lr["error"] = last_reload_.ok ? boost::json::value(nullptr) : boost::json::value(last_reload_.error);
            o["last_reload"] = std::move(lr);
            boost::json::array ws;
            for (auto& each : g->workers) ws.push_back(std::move(each));
            o["workers"] = std::move(ws);
            boost::json::array previous;
            for (const auto& r : retiring_)
                previous.push_back(boost::json::object{
                    {"profile", info(r->id()).name}, {"pid", r->pid()}, {"draining", r->draining()}});
            o["previous_workers"] = std::move(previous);
            o["upgrading"] = upgrading_;
            g->respond(std::move(o));
        });
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

void supervisor::reroute(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
    router_.reroute(std::move(s), std::move(bytes), std::move(addr));
}

void supervisor::handle_upgrade(std::function<void(boost::json::value)> respond) {
    if (stopping_) return respond(control_server::error_reply("clipal is stopping"));
    if (upgrading_) return respond(control_server::error_reply("an upgrade is already under way"));
    if (::access(executable_.c_str(), X_OK) != 0)
        return respond(control_server::error_reply(fmt::format(
            "cannot re-execute {}: {}; restart clipal by hand", executable_.string(), std::strerror(errno))));
    // The new image loads the config again: a config it would refuse must not take down
    // a running proxy.
    if (auto loaded = load_config(opts_.config_dir, opts_.overrides); !loaded.cfg)
        return respond(control_server::error_reply(fmt::format(
            "the config in {} has errors ({}); fix them (see `clipal check`) and upgrade again",
            opts_.config_dir.string(), loaded.errors.empty() ? "unknown" : loaded.errors.front().to_string())));
    upgrading_ = true;
    boost::json::object o;
    o["ok"] = true;
    o["pid"] = static_cast<std::int64_t>(::getpid());
    o["executable"] = executable_.string();
    respond(std::move(o));
    log_.info("", "upgrade requested: re-executing {} without closing the listener", executable_.string());
    // New connections wait in the listener's backlog until the new image accepts them.
    router_.pause_accepting();
    wait_quiet(clock_.now() + upgrade_settle_limit);
}

void supervisor::wait_quiet(clock::time_point give_up) {
    std::size_t unconfirmed = 0;
    for (const auto& r : runners_) unconfirmed += r->unacknowledged();
    const bool replying = control_ && control_->open_connections() > 0;
    if ((unconfirmed == 0 && !replying) || clock_.now() >= give_up) {
        if (unconfirmed > 0)
            log_.warn("", "{} hand-off(s) still unconfirmed; the workers received them and keep them", unconfirmed);
        reexecute();
        return;
    }
    upgrade_timer_.expires_after(std::chrono::milliseconds(5));
    upgrade_timer_.async_wait([this, give_up](boost::system::error_code ec) {
        if (!ec) wait_quiet(give_up);
    });
}

void supervisor::reexecute() {
    upgrade_state st;
    if (const int fd = router_.listener_handle(); fd >= 0) st.listener_fd = ::dup(fd);
    st.connections = router_.snapshot_reading();
    for (const auto& r : runners_) {
        auto held = r->snapshot_held();
        st.connections.insert(st.connections.end(), std::make_move_iterator(held.begin()),
                              std::make_move_iterator(held.end()));
        if (auto w = r->snapshot_worker()) st.workers.push_back(*w);
    }
    for (const auto& r : retiring_)
        if (auto w = r->snapshot()) st.workers.push_back(*w);
    std::string error;
    const int state_fd = write_upgrade_state(st, error);
    std::string why = error;
    if (state_fd >= 0) {
        log_.info("", "re-executing now; carried over: the listener, {} connection(s) being routed, {} worker(s)",
                  st.connections.size(), st.workers.size());
        sd_notify::reloading();
        auto argv = opts_.command_line.empty() ? std::vector<std::string>{executable_.string()} : opts_.command_line;
        argv[0] = executable_.string();
        why = reexec(argv, st.descriptors(), state_fd);
        ::close(state_fd);
    }
    // Still here: nothing was handed on. The duplicates go; the originals never stopped.
    for (const int fd : st.descriptors()) ::close(fd);
    log_.error("", "upgrade failed: {}; still running the previous binary", why);
    upgrading_ = false;
    router_.resume_accepting();
    sd_notify::ready();
}

void supervisor::adopt(upgrade_state inherited) {
    for (const auto& w : inherited.workers) {
        retiring_worker::hooks h;
        h.log_record = [this](const ipc::log_record& r) { on_worker_log(r); };
        h.reroute = [this](boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
            reroute(std::move(s), std::move(bytes), std::move(addr));
        };
        retiring_.push_back(std::make_unique<retiring_worker>(ioc_, log_, w.id, w.pid, w.channel_fd, std::move(h)));
    }
    std::size_t resumed = 0;
    for (auto& c : inherited.connections) {
        auto s = socket_from_fd(ioc_, c.fd);
        if (!s) {
            ::close(c.fd);
            continue;
        }
        ++resumed;
        if (c.routed)
            reroute(std::move(*s), std::move(c.bytes), std::move(c.addr));
        else
            router_.resume(std::move(*s), std::move(c.bytes), std::move(c.addr));
    }
    log_.info("", "upgraded to clipal {}: {} connection(s) and {} previous worker(s) carried over", clipal::version,
              resumed, retiring_.size());
    retire_replaced_workers();
}

void supervisor::retire_replaced_workers() {
    for (auto& r : retiring_) {
        if (r->draining()) continue;
        // A previous worker drains once its successor serves, or once there will be none.
        const auto st = runners_[static_cast<std::size_t>(r->id())]->state();
        if (st == slot_state::ready || st == slot_state::stopped || st == slot_state::failed ||
            st == slot_state::config_error)
            r->drain(std::chrono::duration_cast<std::chrono::milliseconds>(opts_.drain_deadline));
    }
}

int run_supervisor(const supervisor_options& opts) {
    std::signal(SIGPIPE, SIG_IGN);
    boost::asio::io_context ioc(1);
    supervisor s(ioc, opts);
    if (auto code = s.start()) return *code;
    ioc.run();
    return s.exit_code();
}

} // namespace clipal::supervisor
