// Transitions of the worker slot state machine. Every event ends in finish(), which
// turns a change of the slot's nearest deadline into a schedule_tick (or cancel_tick).
#include "supervisor/worker_slot.hpp"

#include "shared/duration.hpp"
#include "shared/exit_codes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>

namespace clipal::supervisor {
namespace {

std::string_view signal_name(int s) {
    switch (s) {
    case SIGHUP: return "SIGHUP";
    case SIGINT: return "SIGINT";
    case SIGQUIT: return "SIGQUIT";
    case SIGILL: return "SIGILL";
    case SIGTRAP: return "SIGTRAP";
    case SIGABRT: return "SIGABRT";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGKILL: return "SIGKILL";
    case SIGSEGV: return "SIGSEGV";
    case SIGPIPE: return "SIGPIPE";
    case SIGALRM: return "SIGALRM";
    case SIGTERM: return "SIGTERM";
    default: return {};
    }
}

// Durations in log lines: whole milliseconds are precise enough and read better.
std::string show(duration d) { return format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(d)); }

void keep_earliest(std::optional<clock::time_point>& slot, clock::time_point t) {
    if (!slot || t < *slot) slot = t;
}

} // namespace

std::string_view to_string(slot_state s) {
    switch (s) {
    case slot_state::stopped: return "stopped";
    case slot_state::starting: return "starting";
    case slot_state::ready: return "ready";
    case slot_state::reloading: return "reloading";
    case slot_state::draining: return "draining";
    case slot_state::backoff: return "backoff";
    case slot_state::failed: return "failed";
    case slot_state::config_error: return "config_error";
    }
    return "unknown";
}

std::string exit_status::describe() const {
    if (how == kind::exited) return fmt::format("exit code {}", value);
    const auto name = signal_name(value);
    return name.empty() ? fmt::format("signal {}", value) : fmt::format("signal {} ({})", value, name);
}

worker_slot::worker_slot(profile id, const clock& c, slot_policy policy)
    : id_(id), clock_(c), policy_(policy), backoff_(policy.backoff) {}

slot_actions worker_slot::start(bool has_providers) {
    slot_actions out;
    if (wanted_) return out;
    wanted_ = true;
    has_providers_ = has_providers;
    generation_ = std::max<std::uint64_t>(generation_, 1);
    if (has_providers)
        spawn(out);
    else
        log(out, log_level::info, "no enabled providers configured; worker not started");
    return finish(std::move(out));
}

slot_actions worker_slot::spawned(int pid) {
    slot_actions out;
    if (pid_) return out;
    if (state_ == slot_state::starting) {
        pid_ = pid;
        started_at_ = clock_.now();
        log(out, log_level::debug, fmt::format("worker started as pid {}", pid));
    } else if (state_ == slot_state::draining) {
        // Spawned after we stopped wanting it (shutdown or providers gone meanwhile).
        pid_ = pid;
        started_at_ = clock_.now();
        kill(false, "is no longer wanted", out);
    }
    return finish(std::move(out));
}

slot_actions worker_slot::spawn_failed(std::string_view why) {
    slot_actions out;
    if (pid_) return out;
    last_exit_ = fmt::format("could not start: {}", why);
    if (state_ == slot_state::starting)
        crash(last_exit_, out);
    else if (state_ == slot_state::draining)
        state_ = slot_state::stopped;
    return finish(std::move(out));
}

slot_actions worker_slot::hello_received() {
    slot_actions out;
    if (state_ != slot_state::starting || !pid_ || hello_seen_) return out;
    hello_seen_ = true;
    push(out);
    return finish(std::move(out));
}

slot_actions worker_slot::ready_received(std::uint64_t generation) {
    slot_actions out;
    if (state_ != slot_state::starting || !pid_ || !hello_seen_) return out;
    state_ = slot_state::ready;
    last_heartbeat_ = clock_.now();
    last_reload_error_.clear();
    log(out, log_level::info, fmt::format("{} ready (config generation {})", who(), generation));
    // The config changed while the worker was starting: bring it up to date.
    if (generation < generation_) push(out);
    return finish(std::move(out));
}

slot_actions worker_slot::config_ack_received(std::uint64_t generation, bool ok, std::string_view error) {
    slot_actions out;
    if (!pid_ || generation != pushed_) return out;
    if (state_ == slot_state::starting && !ok) {
        last_reload_error_ = std::string(error);
        state_ = slot_state::config_error;
        kill(false, fmt::format("rejected its config: {}; waiting for a config change", error), out);
    } else if (state_ == slot_state::reloading) {
        state_ = slot_state::ready;
        if (ok) {
            last_reload_error_.clear();
            log(out, log_level::info, fmt::format("{} applied config generation {}", who(), generation));
        } else {
            last_reload_error_ = std::string(error);
            log(out, log_level::warn,
                fmt::format("{} rejected config generation {} and keeps its previous config: {}", who(), generation,
                            error));
        }
    }
    return finish(std::move(out));
}

slot_actions worker_slot::heartbeat_received() {
    if (pid_) last_heartbeat_ = clock_.now();
    return finish({}); // moves the hang deadline
}

slot_actions worker_slot::channel_lost(std::string_view why) {
    slot_actions out;
    if (!pid_ || kill_sent_) return out;
    log(out, log_level::warn, fmt::format("channel to {} lost ({}); expecting it to exit", who(), why));
    keep_earliest(kill_deadline_, clock_.now() + policy_.channel_lost_grace);
    if (kill_reason_.empty()) kill_reason_ = fmt::format("channel lost: {}", why);
    return finish(std::move(out));
}

slot_actions worker_slot::exited(exit_status s) {
    slot_actions out;
    if (!pid_) return out;
    const int pid = *pid_;
    const auto uptime = clock_.now() - started_at_;
    last_exit_ = s.describe();
    if (!kill_reason_.empty()) last_exit_ += fmt::format(" ({})", kill_reason_);
    pid_.reset();
    kill_sent_ = false;
    kill_reason_.clear();
    kill_deadline_.reset();

    if (state_ == slot_state::draining) {
        if (wanted_ && has_providers_) {
            log(out, log_level::info, fmt::format("worker pid {} exited ({}); starting a new one", pid, last_exit_));
            spawn(out);
        } else {
            state_ = slot_state::stopped;
            log(out, log_level::info, fmt::format("worker pid {} exited ({})", pid, last_exit_));
        }
    } else if (state_ == slot_state::config_error) {
        log(out, log_level::info, fmt::format("worker pid {} exited ({})", pid, last_exit_));
    } else if (s.how == exit_status::kind::exited && s.value == exit_config) {
        state_ = slot_state::config_error;
        log(out, log_level::error,
            fmt::format("worker pid {} exited with a config error ({}); waiting for a config change", pid, last_exit_));
    } else {
        crash(fmt::format("pid {} died ({}) after {}", pid, last_exit_, show(uptime)), out);
    }
    return finish(std::move(out));
}

slot_actions worker_slot::config_changed(bool has_providers) {
    slot_actions out;
    ++generation_;
    has_providers_ = has_providers;
    if (!wanted_) return finish(std::move(out));

    switch (state_) {
    case slot_state::stopped:
    case slot_state::backoff:
    case slot_state::failed:
        backoff_.reset();
        if (has_providers) {
            log(out, log_level::info,
                state_ == slot_state::failed ? "config changed; starting the parked worker again"
                                             : "config changed; starting the worker");
            spawn(out);
        } else if (state_ != slot_state::stopped) {
            state_ = slot_state::stopped;
            log(out, log_level::info, "no enabled providers configured any more; worker stays stopped");
        }
        break;
    case slot_state::config_error:
        backoff_.reset();
        if (pid_) {
            // The rejected worker is still on its way out; the new one starts when it has gone.
            state_ = slot_state::draining;
        } else if (has_providers) {
            log(out, log_level::info, "config changed; starting the worker again");
            spawn(out);
        } else {
            state_ = slot_state::stopped;
        }
        break;
    case slot_state::starting:
        // With providers, the newest generation is pushed on hello or right after ready.
        if (!has_providers) {
            state_ = slot_state::draining;
            kill(false, "has no enabled providers any more", out);
        }
        break;
    case slot_state::ready:
    case slot_state::reloading:
        if (has_providers) {
            push(out);
        } else {
            log(out, log_level::info, "no enabled providers configured any more; stopping the worker");
            begin_drain(policy_.reconfigure_drain, out);
        }
        break;
    case slot_state::draining: break; // exited() decides with the new has_providers_
    }
    return finish(std::move(out));
}

slot_actions worker_slot::drain_requested(std::chrono::milliseconds deadline) {
    slot_actions out;
    wanted_ = false;
    if (pid_ || state_ == slot_state::starting || state_ == slot_state::draining) {
        begin_drain(deadline, out);
    } else {
        state_ = slot_state::stopped;
    }
    return finish(std::move(out));
}

slot_actions worker_slot::tick() {
    slot_actions out;
    scheduled_.reset(); // the timer that called us has fired
    const auto now = clock_.now();
    const auto silent = now - last_heartbeat_;
    const auto hang_after = policy_.heartbeat_interval * policy_.missed_heartbeats;

    if (state_ == slot_state::backoff) {
        if (now >= restart_at_) spawn(out);
    } else if (state_ == slot_state::failed) {
        if (now >= restart_at_) {
            backoff_.retry();
            log(out, log_level::info, "cool-off over; starting the parked worker again");
            spawn(out);
        }
    } else if (pid_ && !kill_sent_) {
        if (kill_deadline_ && now >= *kill_deadline_) {
            kill(true, kill_reason_.empty() ? "did not exit in time" : kill_reason_ + ", did not exit in time", out);
        } else if (state_ == slot_state::starting && now >= startup_deadline_) {
            kill(true, fmt::format("did not become ready within {}", show(policy_.startup_timeout)), out);
        } else if ((state_ == slot_state::ready || state_ == slot_state::reloading) && silent >= hang_after) {
            kill(true,
                 fmt::format("missed {} heartbeats (no sign of life for {}), hung", policy_.missed_heartbeats,
                             show(silent)),
                 out);
        } else if (state_ == slot_state::reloading && now >= ack_deadline_) {
            kill(true, fmt::format("did not answer config generation {} within {}", pushed_, show(policy_.ack_timeout)),
                 out);
        }
    }
    return finish(std::move(out));
}

slot_status worker_slot::status() const {
    slot_status s;
    s.id = id_;
    s.state = state_;
    s.pid = pid_;
    s.restarts = restarts_;
    if (pid_) s.started_at = started_at_;
    if (state_ == slot_state::backoff || state_ == slot_state::failed) s.restart_at = restart_at_;
    s.last_exit = last_exit_;
    s.generation = generation_;
    s.last_reload_error = last_reload_error_;
    return s;
}

void worker_slot::spawn(slot_actions& out) {
    const auto now = clock_.now();
    state_ = slot_state::starting;
    pid_.reset();
    hello_seen_ = false;
    kill_sent_ = false;
    kill_reason_.clear();
    kill_deadline_.reset();
    pushed_ = 0;
    started_at_ = now;
    startup_deadline_ = now + policy_.startup_timeout;
    if (spawns_++ > 0) ++restarts_;
    out.emplace_back(spawn_worker{});
}

void worker_slot::crash(std::string reason, slot_actions& out) {
    const auto now = clock_.now();
    const auto d = backoff_.on_crash(started_at_, now);
    if (!wanted_ || !has_providers_) {
        state_ = slot_state::stopped;
        log(out, log_level::warn, fmt::format("worker {}", reason));
    } else if (d.park) {
        state_ = slot_state::failed;
        restart_at_ = now + d.retry_after;
        const auto why = d.retry_failed ? std::string("it failed again after its cool-off")
                                        : fmt::format("it crashed {} times within {}", d.recent_crashes,
                                                      show(backoff_.policy().crash_window));
        log(out, log_level::error,
            fmt::format("worker {}; {}; parked, trying again in {} (at once on a config change or `clipal reload`)",
                        reason, why, show(d.retry_after)));
    } else {
        state_ = slot_state::backoff;
        restart_at_ = now + d.delay;
        log(out, log_level::warn, fmt::format("worker {}; restarting in {}", reason, show(d.delay)));
    }
}

void worker_slot::begin_drain(duration deadline, slot_actions& out) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline);
    if (pid_) {
        out.emplace_back(send_drain{ms});
        log(out, log_level::info, fmt::format("draining {} (deadline {})", who(), show(ms)));
    }
    state_ = slot_state::draining;
    keep_earliest(kill_deadline_, clock_.now() + deadline + policy_.kill_grace);
    if (kill_reason_.empty()) kill_reason_ = "draining";
}

void worker_slot::kill(bool force, std::string why, slot_actions& out) {
    if (!pid_ || kill_sent_) return;
    log(out, force ? log_level::error : log_level::warn,
        fmt::format("{} {}; {}", who(), why, force ? "killing it" : "stopping it"));
    if (force)
        kill_sent_ = true;
    else
        keep_earliest(kill_deadline_, clock_.now() + policy_.kill_grace);
    kill_reason_ = std::move(why);
    out.emplace_back(kill_worker{force});
}

void worker_slot::push(slot_actions& out) {
    pushed_ = generation_;
    out.emplace_back(push_config{generation_});
    if (state_ == slot_state::ready || state_ == slot_state::reloading) {
        state_ = slot_state::reloading;
        ack_deadline_ = clock_.now() + policy_.ack_timeout;
    }
}

void worker_slot::log(slot_actions& out, log_level level, std::string text) {
    out.emplace_back(log_line{level, std::move(text)});
}

std::string worker_slot::who() const { return pid_ ? fmt::format("worker pid {}", *pid_) : std::string("worker"); }

std::optional<clock::time_point> worker_slot::next_deadline() const {
    if (state_ == slot_state::backoff || state_ == slot_state::failed) return restart_at_;
    if (!pid_ || kill_sent_) return std::nullopt;
    std::optional<clock::time_point> next = kill_deadline_;
    if (state_ == slot_state::starting) keep_earliest(next, startup_deadline_);
    if (state_ == slot_state::ready || state_ == slot_state::reloading)
        keep_earliest(next, last_heartbeat_ + policy_.heartbeat_interval * policy_.missed_heartbeats);
    if (state_ == slot_state::reloading) keep_earliest(next, ack_deadline_);
    return next;
}

slot_actions worker_slot::finish(slot_actions out) {
    const auto next = next_deadline();
    if (next == scheduled_) return out;
    if (next)
        out.emplace_back(schedule_tick{*next});
    else
        out.emplace_back(cancel_tick{});
    scheduled_ = next;
    return out;
}

} // namespace clipal::supervisor
