// Both halves of an upgrade: the old image hands on its listener, the connections it is
// still routing and its workers; the new image picks them up. The listener never closes,
// so clients only ever wait in its backlog.
#include "supervisor/upgrade_coordinator.hpp"

#include "clipal/version.hpp"
#include "ipc/passed_socket.hpp"
#include "shared/text.hpp"
#include "supervisor/control_server.hpp"
#include "supervisor/reexec.hpp"
#include "supervisor/router.hpp"
#include "supervisor/sd_notify.hpp"
#include "supervisor/worker_runner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

// How long an upgrade waits for hand-offs to be confirmed and control replies to be sent.
constexpr auto settle_limit = std::chrono::seconds(2);

} // namespace

upgrade_coordinator::upgrade_coordinator(boost::asio::io_context& ioc, const clock& clk, logger& log, router& r,
                                         const runner_set& runners, settings s, hooks h)
    : ioc_(ioc),
      clock_(clk),
      log_(log),
      router_(r),
      runners_(runners),
      settings_(std::move(s)),
      hooks_(std::move(h)),
      timer_(ioc) {}

upgrade_coordinator::~upgrade_coordinator() = default;

void upgrade_coordinator::request(std::function<void(boost::json::value)> respond) {
    if (upgrading_) return respond(control_server::error_reply("an upgrade is already under way"));
    const auto& exe = settings_.executable;
    if (::access(exe.c_str(), X_OK) != 0)
        return respond(control_server::error_reply(
            fmt::format("cannot re-execute {}: {}; restart clipal by hand", exe.string(), errno_text(errno))));
    // The new image loads the config again: a config it would refuse must not take down
    // a running proxy.
    if (auto loaded = load_config(settings_.config_dir, settings_.overrides); !loaded.cfg)
        return respond(control_server::error_reply(
            fmt::format("the config in {} has errors ({}); fix them (see `clipal check`) and upgrade again",
                        settings_.config_dir.string(),
                        loaded.errors.empty() ? "unknown" : loaded.errors.front().to_string())));
    upgrading_ = true;
    boost::json::object o;
    o["ok"] = true;
    o["pid"] = static_cast<std::int64_t>(::getpid());
    o["executable"] = exe.string();
    respond(std::move(o));
    log_.info("", "upgrade requested: re-executing {} without closing the listener", exe.string());
    // New connections wait in the listener's backlog until the new image accepts them.
    router_.pause_accepting();
    wait_quiet(clock_.now() + settle_limit);
}

void upgrade_coordinator::cancel() { timer_.cancel(); }

void upgrade_coordinator::wait_quiet(clock::time_point give_up) {
    std::size_t unconfirmed = 0;
    for (const auto& r : runners_) unconfirmed += r->unacknowledged();
    const bool replying = hooks_.replying && hooks_.replying();
    if ((unconfirmed == 0 && !replying) || clock_.now() >= give_up) {
        if (unconfirmed > 0)
            log_.warn("", "{} hand-off(s) still unconfirmed; the workers received them and keep them", unconfirmed);
        reexecute();
        return;
    }
    timer_.expires_after(std::chrono::milliseconds(5));
    timer_.async_wait([this, give_up](boost::system::error_code ec) {
        if (!ec) wait_quiet(give_up);
    });
}

void upgrade_coordinator::reexecute() {
    if (hooks_.before_reexec) hooks_.before_reexec();
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
        const auto& exe = settings_.executable;
        auto argv = settings_.command_line.empty() ? std::vector<std::string>{exe.string()} : settings_.command_line;
        argv[0] = exe.string();
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

bool upgrade_coordinator::adopt_listener(ipc::unique_fd fd, const std::string& address, std::uint16_t port) {
    auto a = ipc::adopt_acceptor(ioc_, fd);
    if (!a) return false;
    // `--port 0` asked for any free port; the one the first image got is the one clients know.
    if (port == 0) {
        boost::system::error_code ec;
        port = a->local_endpoint(ec).port();
    }
    if (!router_.adopt(std::move(*a), address, port)) return false;
    log_.info("", "kept the listener on {}:{} open across the upgrade", address, port);
    return true;
}

void upgrade_coordinator::adopt(upgrade_state inherited) {
    for (const auto& w : inherited.workers) {
        retiring_worker::hooks h;
        h.log_record = hooks_.log_record;
        if (hooks_.retiring_report)
            h.report = [this, id = w.id](const ipc::worker_report& r) { hooks_.retiring_report(id, r); };
        h.reroute = [this](boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
            router_.reroute(std::move(s), std::move(bytes), std::move(addr));
        };
        retiring_.push_back(std::make_unique<retiring_worker>(ioc_, log_, w.id, w.pid, w.channel_fd, std::move(h)));
    }
    std::size_t resumed = 0;
    for (auto& c : inherited.connections) {
        ipc::unique_fd fd(c.fd);
        auto s = ipc::adopt_socket(ioc_, fd);
        if (!s) continue;
        ++resumed;
        if (c.routed)
            router_.reroute(std::move(*s), std::move(c.bytes), std::move(c.addr));
        else
            router_.resume(std::move(*s), std::move(c.bytes), std::move(c.addr));
    }
    log_.info("", "upgraded to clipal {}: {} connection(s) and {} previous worker(s) carried over", clipal::version,
              resumed, retiring_.size());
    retire_replaced_workers();
}

void upgrade_coordinator::retire_replaced_workers() {
    for (auto& r : retiring_) {
        if (r->draining()) continue;
        const auto st = runners_[static_cast<std::size_t>(r->id())]->state();
        if (st == slot_state::ready || st == slot_state::stopped || st == slot_state::failed ||
            st == slot_state::config_error)
            r->drain(settings_.drain_deadline);
    }
}

bool upgrade_coordinator::on_exit(int pid) {
    const auto it = std::find_if(retiring_.begin(), retiring_.end(), [pid](const auto& r) { return r->on_exit(pid); });
    if (it == retiring_.end()) return false;
    log_.info(info((*it)->id()).tag, "previous worker {} exited", pid);
    std::erase_if(retiring_, [](const auto& r) { return r->gone(); });
    return true;
}

void upgrade_coordinator::drain_previous_workers() {
    for (auto& r : retiring_) r->drain(settings_.drain_deadline);
}

void upgrade_coordinator::kill_previous_workers() {
    for (auto& r : retiring_) r->kill_now();
}

} // namespace clipal::supervisor
