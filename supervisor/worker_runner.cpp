#include "supervisor/worker_runner.hpp"

#include "ipc/passed_socket.hpp"
#include "shared/exit_codes.hpp"
#include "shared/time_format.hpp"
#include "supervisor/local_reply.hpp"
#include "supervisor/worker_process.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

// SPEC §1: connections that arrive while a worker restarts wait, but not forever.
constexpr auto hold_limit = std::chrono::seconds(10);
constexpr std::size_t max_held = 4096;
constexpr std::size_t stderr_tail_bytes = 4096;
constexpr auto status_timeout = std::chrono::seconds(1);

} // namespace

worker_runner::worker_runner(boost::asio::io_context& ioc, const clock& clk, logger& log, profile id,
                             std::filesystem::path exe, hooks h, slot_policy policy)
    : ioc_(ioc),
      clock_(clk),
      log_(log),
      id_(id),
      exe_(std::move(exe)),
      hooks_(std::move(h)),
      slot_(id, clk, policy),
      tick_timer_(ioc),
      hold_timer_(ioc),
      faults_(log),
      fault_timer_(ioc) {}

worker_runner::~worker_runner() {
    if (channel_) channel_->close();
}

void worker_runner::set_config(std::string config_json, bool has_providers) {
    config_json_ = std::move(config_json);
    if (!started_) {
        started_ = true;
        run(slot_.start(has_providers));
    } else {
        run(slot_.config_changed(has_providers));
    }
}

void worker_runner::run(slot_actions actions) {
    for (auto& a : actions) {
        if (std::holds_alternative<spawn_worker>(a)) {
            spawn();
        } else if (auto* p = std::get_if<push_config>(&a)) {
            if (channel_) (void)channel_->send(ipc::config_push{p->generation, config_json_});
        } else if (auto* d = std::get_if<send_drain>(&a)) {
            if (channel_) (void)channel_->send(ipc::drain{static_cast<std::uint32_t>(d->deadline.count())});
        } else if (auto* k = std::get_if<kill_worker>(&a)) {
            if (pid_ > 0) ::kill(pid_, k->force ? SIGKILL : SIGTERM);
        } else if (auto* t = std::get_if<schedule_tick>(&a)) {
            const auto delay = std::max(t->at - clock_.now(), clock::time_point::duration::zero());
            tick_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
            tick_timer_.async_wait([this](boost::system::error_code ec) {
                if (!ec) run(slot_.tick());
            });
        } else if (std::holds_alternative<cancel_tick>(a)) {
            tick_timer_.cancel();
        } else if (auto* l = std::get_if<log_line>(&a)) {
            log_.log(l->level, info(id_).tag, l->text);
        }
    }
    if (can_hand_over()) flush_held();
    if (!held_.empty() && (slot_.state() == slot_state::failed || slot_.state() == slot_state::config_error ||
                           slot_.state() == slot_state::stopped)) {
        while (!held_.empty()) {
            refuse(std::move(held_.front().socket), "its worker is not running");
            held_.pop_front();
        }
    }
    if (hooks_.state_changed) hooks_.state_changed();
}

void worker_runner::spawn() {
    auto launched = launch_worker(ioc_.get_executor(), exe_, id_);
    if (!launched) {
        run(slot_.spawn_failed(launched.error().message()));
        return;
    }
    pid_ = launched->pid;
    if (hooks_.started) hooks_.started(std::exchange(launched_before_, true));
    stderr_tail_.clear();
    if (channel_) channel_->close();
    channel_ = ipc::channel::create(ioc_.get_executor(), std::move(launched->channel));
    stderr_ = std::make_unique<boost::asio::posix::stream_descriptor>(ioc_, launched->stderr_out.release());
    const auto ch = channel_;
    channel_->start(
        [this, ch](ipc::message&& m, ipc::unique_fd fd) {
            if (ch == channel_) on_message(std::move(m), std::move(fd));
        },
        [this, ch](boost::system::error_code, const std::string& why) {
            if (ch != channel_) return;
            requeue_unacked();
            run(slot_.channel_lost(why));
        });
    read_stderr();
    run(slot_.spawned(pid_));
}

void worker_runner::read_stderr() {
    stderr_->async_read_some(boost::asio::buffer(stderr_buf_),
                             [this, fd = stderr_.get()](boost::system::error_code ec, std::size_t n) {
                                 if (ec || fd != stderr_.get()) return;
                                 stderr_tail_.append(stderr_buf_.data(), n);
                                 if (stderr_tail_.size() > stderr_tail_bytes)
                                     stderr_tail_.erase(0, stderr_tail_.size() - stderr_tail_bytes);
                                 read_stderr();
                             });
}

bool worker_runner::on_exit(int pid, int wait_status) {
    if (pid != pid_) return false;
    pid_ = -1;
    const auto status = WIFSIGNALED(wait_status) ? exit_status::signal(WTERMSIG(wait_status))
                                                 : exit_status::code(WEXITSTATUS(wait_status));
    // Whatever the worker still had to say on stderr explains its death.
    if (stderr_) {
        char buf[4096];
        for (ssize_t n; (n = ::read(stderr_->native_handle(), buf, sizeof buf)) > 0;)
            stderr_tail_.append(buf, static_cast<std::size_t>(n));
        boost::system::error_code ignored;
        stderr_->close(ignored);
        stderr_.reset();
    }
    const bool clean = status.how == exit_status::kind::exited && status.value == exit_ok;
    if (!clean && !stderr_tail_.empty()) {
        std::string tail = stderr_tail_;
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
        log_.warn(info(id_).tag, "worker {} stderr before it ended:\n{}", pid, tail);
    }
    if (channel_) {
        channel_->close();
        channel_.reset();
    }
    requeue_unacked();
    for (auto& [id, done] : status_waiters_) done({});
    status_waiters_.clear();
    if (hooks_.gone) hooks_.gone();
    run(slot_.exited(status));
    return true;
}

void worker_runner::on_message(ipc::message&& m, ipc::unique_fd fd) {
    if (auto* h = std::get_if<ipc::hello>(&m)) {
        if (h->profile != info(id_).name) {
            run(slot_.channel_lost(fmt::format("worker said it serves \"{}\"", h->profile)));
            channel_->close();
            return;
        }
        run(slot_.hello_received());
    } else if (auto* r = std::get_if<ipc::ready>(&m)) {
        run(slot_.ready_received(r->generation));
    } else if (auto* a = std::get_if<ipc::config_ack>(&m)) {
        run(slot_.config_ack_received(a->generation, a->ok, a->error));
    } else if (auto* ack = std::get_if<ipc::handoff_ack>(&m)) {
        if (auto it = unacked_.find(ack->connection_id); it != unacked_.end()) {
            // The worker holds the connection now; closing our duplicate leaves it open.
            boost::system::error_code ignored;
            it->second.socket.close(ignored);
            unacked_.erase(it);
        }
    } else if (auto* no = std::get_if<ipc::handoff_refused>(&m)) {
        // Our duplicate is the connection now: answer that client, the worker carries on.
        if (auto it = unacked_.find(no->connection_id); it != unacked_.end()) {
            auto c = std::move(it->second);
            unacked_.erase(it);
            refuse(std::move(c.socket), no->reason);
        }
    } else if (std::holds_alternative<ipc::heartbeat>(m)) {
        run(slot_.heartbeat_received());
    } else if (auto* rep = std::get_if<ipc::worker_report>(&m)) {
        if (hooks_.report) hooks_.report(*rep);
    } else if (auto* rec = std::get_if<ipc::log_record>(&m)) {
        if (hooks_.log_record) hooks_.log_record(*rec);
    } else if (auto* sr = std::get_if<ipc::status_reply>(&m)) {
        auto it = status_waiters_.find(sr->id);
        if (it == status_waiters_.end()) return;
        boost::system::error_code ec;
        auto v = boost::json::parse(sr->json, ec);
        auto done = std::move(it->second);
        status_waiters_.erase(it);
        done(!ec && v.is_object() ? v.as_object() : boost::json::object{});
    } else if (auto* back = std::get_if<ipc::handoff_back>(&m)) {
        if (!fd) {
            // Lost on the way in (this process had no free descriptor); the worker closed its copy.
            if (faults_.log(clock_.now(), log_level::warn, "handed-back connections lost", info(id_).tag,
                            "lost a connection the worker handed back from {}: no free file descriptor",
                            back->client_address))
                arm_fault_summary();
            return;
        }
        if (!hooks_.reroute) return;
        auto s = ipc::adopt_socket(ioc_, fd);
        if (!s) return;
        hooks_.reroute(std::move(*s), std::move(back->initial_bytes), std::move(back->client_address));
    }
}

bool worker_runner::can_hand_over() const {
    return channel_ && channel_->is_open() &&
           (slot_.state() == slot_state::ready || slot_.state() == slot_state::reloading);
}

void worker_runner::route(boost::asio::ip::tcp::socket s, std::string bytes, std::string addr) {
    held_connection c{std::move(s), std::move(bytes), std::move(addr), std::chrono::steady_clock::now() + hold_limit};
    if (can_hand_over() && held_.empty()) {
        hand_over(std::move(c));
        return;
    }
    switch (slot_.state()) {
    case slot_state::stopped:
        refuse(std::move(c.socket), "it has no enabled providers (add one to " + std::string(info(id_).file) + ")");
        return;
    case slot_state::failed:
        refuse(std::move(c.socket), "its worker keeps crashing and is parked; see the clipal log");
        return;
    case slot_state::config_error:
        refuse(std::move(c.socket), "its worker cannot run the current config; see the clipal log");
        return;
    case slot_state::draining: refuse(std::move(c.socket), "its worker is stopping"); return;
    default: break;
    }
    if (held_.size() >= max_held) {
        refuse(std::move(c.socket), "too many connections are waiting for its worker to start");
        return;
    }
    held_.push_back(std::move(c));
    arm_hold_timer();
}

void worker_runner::hand_over(held_connection c) {
    ipc::unique_fd copy(::fcntl(c.socket.native_handle(), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
        refuse(std::move(c.socket), "out of file descriptors");
        return;
    }
    const auto id = next_connection_id_++;
    const auto result = channel_->send(ipc::handoff{id, c.bytes, c.addr}, std::move(copy));
    if (result != ipc::send_result::queued) {
        if (faults_.log(clock_.now(), log_level::warn, "failed hand-offs", info(id_).tag,
                        "could not hand a connection to the worker: {}", ipc::to_string(result)))
            arm_fault_summary();
        refuse(std::move(c.socket), "its worker is not taking connections");
        return;
    }
    unacked_.emplace(id, std::move(c));
}

void worker_runner::requeue_unacked() {
    // Oldest first, ahead of connections that arrived later.
    for (auto it = unacked_.rbegin(); it != unacked_.rend(); ++it) held_.push_front(std::move(it->second));
    unacked_.clear();
    arm_hold_timer();
}

void worker_runner::flush_held() {
    while (!held_.empty() && can_hand_over()) {
        hand_over(std::move(held_.front()));
        held_.pop_front();
    }
}

void worker_runner::arm_hold_timer() {
    if (held_.empty()) return;
    hold_timer_.expires_at(held_.front().expires);
    hold_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        const auto now = std::chrono::steady_clock::now();
        while (!held_.empty() && held_.front().expires <= now) {
            refuse(std::move(held_.front().socket), "its worker did not become ready within 10 s");
            held_.pop_front();
        }
        arm_hold_timer();
    });
}

void worker_runner::refuse(boost::asio::ip::tcp::socket s, std::string_view why) {
    // One burst per reason, so that a new reason is logged at once.
    if (faults_.log(clock_.now(), log_level::warn, fmt::format("refused requests ({})", why), info(id_).tag,
                    "refused a request: {} cannot serve: {}", info(id_).name, why))
        arm_fault_summary();
    send_and_close(std::move(s),
                   error_response(info(id_).proto, 503,
                                  fmt::format("clipal cannot serve {} right now: {}", info(id_).prefix, why),
                                  std::chrono::seconds(5)));
}

void worker_runner::arm_fault_summary() { schedule_fault_summaries(faults_, clock_, fault_timer_); }

std::vector<upgrade_state::connection> worker_runner::snapshot_held() const {
    std::vector<upgrade_state::connection> out;
    for (const auto& c : held_) {
        const int fd = ::dup(const_cast<boost::asio::ip::tcp::socket&>(c.socket).native_handle());
        if (fd >= 0) out.push_back({fd, c.bytes, c.addr, true});
    }
    return out;
}

std::optional<upgrade_state::worker> worker_runner::snapshot_worker() const {
    if (pid_ <= 0 || !channel_ || !channel_->is_open()) return std::nullopt;
    const int fd = ::dup(channel_->native_handle());
    if (fd < 0) return std::nullopt;
    return upgrade_state::worker{id_, pid_, fd};
}

void worker_runner::drain(std::chrono::milliseconds deadline) { run(slot_.drain_requested(deadline)); }

void worker_runner::kill_now() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
}

void worker_runner::status(std::function<void(boost::json::object)> done) {
    const auto st = slot_.status();
    boost::json::object o;
    o["profile"] = std::string(info(id_).name);
    o["prefix"] = std::string(info(id_).prefix);
    o["state"] = std::string(to_string(st.state));
    o["pid"] = st.pid ? boost::json::value(*st.pid) : boost::json::value(nullptr);
    o["restarts"] = st.restarts;
    o["uptime_seconds"] =
        st.started_at && st.pid
            ? boost::json::value(
                  std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - *st.started_at).count())
            : boost::json::value(nullptr);
    o["last_exit"] = st.last_exit.empty() ? boost::json::value(nullptr) : boost::json::value(st.last_exit);
    o["last_reload_error"] =
        st.last_reload_error.empty() ? boost::json::value(nullptr) : boost::json::value(st.last_reload_error);
    o["restart_at"] = st.restart_at ? boost::json::value(iso_utc(*st.restart_at)) : boost::json::value(nullptr);
    o["providers"] = boost::json::array{};
    if (!can_hand_over()) {
        done(std::move(o));
        return;
    }
    const auto id = next_status_id_++;
    auto timer = std::make_shared<boost::asio::steady_timer>(ioc_, status_timeout);
    status_waiters_[id] = [o, done, timer](boost::json::object reply) mutable {
        timer->cancel();
        if (auto* p = reply.if_contains("providers")) o["providers"] = *p;
        done(std::move(o));
    };
    timer->async_wait([this, id](boost::system::error_code ec) {
        if (ec) return;
        auto it = status_waiters_.find(id);
        if (it == status_waiters_.end()) return;
        auto f = std::move(it->second);
        status_waiters_.erase(it);
        f({});
    });
    (void)channel_->send(ipc::status_request{id});
}

} // namespace clipal::supervisor
