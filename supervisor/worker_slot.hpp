// The life of one profile's worker, as a pure state machine: the supervisor feeds it
// events (process spawned/exited, IPC messages, config changes, timer ticks) and
// performs the actions it returns (spawn, push config, drain, kill, arm the timer, log).
// No processes, sockets or timers here; time comes from clipal::clock.
#pragma once

#include "shared/clock.hpp"
#include "shared/config.hpp"
#include "shared/profile.hpp"
#include "supervisor/restart_backoff.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace clipal::supervisor {

enum class slot_state {
    stopped,      // not running: no providers configured, or stopped on request
    starting,     // spawn asked for; waiting for the process, its hello, then ready
    ready,        // serving
    reloading,    // config pushed, waiting for its config_ack
    draining,     // asked to stop (or being replaced); waiting for the process to exit
    backoff,      // died; waiting until restart_at to spawn again
    failed,       // crash loop: parked until restart_at (a cool-off), a config change or a reload
    config_error, // the worker cannot run this config (exit 78 or a rejected first config)
};

std::string_view to_string(slot_state s);

// How a worker process ended, as reported by waitpid.
struct exit_status {
    enum class kind { exited, signaled };
    kind how = kind::exited;
    int value = 0; // exit code or signal number

    static exit_status code(int c) { return {kind::exited, c}; }
    static exit_status signal(int s) { return {kind::signaled, s}; }
    // "exit code 70", "signal 11 (SIGSEGV)"
    std::string describe() const;
};

struct slot_policy {
    backoff_policy backoff;
    duration startup_timeout = std::chrono::seconds(10);   // spawn -> ready
    duration heartbeat_interval = std::chrono::seconds(1); // the worker's heartbeat period
    unsigned missed_heartbeats = 3;                        // this many missed in a row: hung
    duration ack_timeout = std::chrono::seconds(10);       // config_push -> config_ack
    duration reconfigure_drain = std::chrono::seconds(30); // drain deadline when providers vanish
    duration kill_grace = std::chrono::seconds(2);         // after a drain deadline / SIGTERM, before SIGKILL
    duration channel_lost_grace = std::chrono::seconds(5); // after the channel broke, before SIGKILL
};

// Actions, performed by the caller in the order returned.
struct spawn_worker {};           // start a worker process; then report spawned() or spawn_failed()
struct push_config {              // send config_push with the profile's current config,
    std::uint64_t generation = 0; // as this generation (always the latest)
};
struct send_drain { // send drain{deadline_ms}
    std::chrono::milliseconds deadline{};
};
struct kill_worker {    // signal the current process
    bool force = false; // SIGKILL; otherwise SIGTERM
};
struct schedule_tick { // call tick() at `at`, replacing any earlier schedule;
                       // emitted whenever the nearest deadline changes
    clock::time_point at;
};
struct cancel_tick {}; // no tick is needed any more
struct log_line {      // log with the profile's tag
    log_level level = log_level::info;
    std::string text;
};

using slot_action =
    std::variant<spawn_worker, push_config, send_drain, kill_worker, schedule_tick, cancel_tick, log_line>;
using slot_actions = std::vector<slot_action>;

struct slot_status {
    profile id = profile::claude_code;
    slot_state state = slot_state::stopped;
    std::optional<int> pid;
    unsigned restarts = 0;                       // spawns after the first
    std::optional<clock::time_point> started_at; // of the current process
    std::optional<clock::time_point> restart_at; // in backoff, and when failed: the next try
    std::string last_exit;                       // "signal 9 (SIGKILL): missed 3 heartbeats"
    std::uint64_t generation = 0;                // latest config generation
    std::string last_reload_error;               // empty once a config was accepted
};

// One per profile. Not thread-safe: call from the supervisor's event loop. Events that
// do not apply in the current state are ignored (returning no actions), so a late or
// duplicate report from a dying worker cannot corrupt the machine.
class worker_slot {
public:
    worker_slot(profile id, const clock& c, slot_policy policy = {});

    // Supervisor start: run the worker if the profile has providers.
    slot_actions start(bool has_providers);
    // The process for the last spawn_worker exists.
    slot_actions spawned(int pid);
    // The last spawn_worker could not be performed (fork/exec failed); counts as a crash.
    slot_actions spawn_failed(std::string_view why);
    // IPC: hello (the version check is the channel's), ready, config_ack, heartbeat.
    slot_actions hello_received();
    slot_actions ready_received(std::uint64_t generation);
    slot_actions config_ack_received(std::uint64_t generation, bool ok, std::string_view error);
    slot_actions heartbeat_received();
    // The channel to the worker closed (bad frame, EOF): the worker should exit on its
    // own; it is killed if it has not within channel_lost_grace.
    slot_actions channel_lost(std::string_view why);
    // The process ended.
    slot_actions exited(exit_status s);
    // The profile's config changed (validated); `has_providers` is whether it has any
    // enabled provider now. Revives failed and config_error slots.
    slot_actions config_changed(bool has_providers);
    // Supervisor shutdown: drain within `deadline`, never respawn.
    slot_actions drain_requested(std::chrono::milliseconds deadline);
    // The time of the last schedule_tick arrived: restart after backoff or a parked
    // worker's cool-off, heartbeat check (hang detection), startup/ack/drain deadlines.
    slot_actions tick();

    slot_state state() const { return state_; }
    slot_status status() const;

private:
    void spawn(slot_actions& out);
    void crash(std::string reason, slot_actions& out);
    void begin_drain(duration deadline, slot_actions& out);
    void kill(bool force, std::string why, slot_actions& out);
    void push(slot_actions& out);
    void log(slot_actions& out, log_level level, std::string text);
    std::string who() const;
    std::optional<clock::time_point> next_deadline() const;
    slot_actions finish(slot_actions out);

    profile id_;
    const clock& clock_;
    slot_policy policy_;
    restart_backoff backoff_;

    slot_state state_ = slot_state::stopped;
    bool wanted_ = false; // started and not shutting down
    bool has_providers_ = false;
    std::optional<int> pid_;
    bool hello_seen_ = false;
    bool kill_sent_ = false;  // SIGKILL already asked for this process
    std::string kill_reason_; // why we killed it, appended to the exit description
    std::uint64_t generation_ = 0;
    std::uint64_t pushed_ = 0; // generation of the last config_push
    unsigned spawns_ = 0;
    unsigned restarts_ = 0;
    clock::time_point started_at_{};
    clock::time_point last_heartbeat_{};
    clock::time_point startup_deadline_{};
    clock::time_point ack_deadline_{};
    std::optional<clock::time_point> kill_deadline_; // draining, or the channel was lost
    clock::time_point restart_at_{};
    std::optional<clock::time_point> scheduled_;
    std::string last_exit_;
    std::string last_reload_error_;
};

} // namespace clipal::supervisor
