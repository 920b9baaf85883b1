#include "supervisor/worker_slot.hpp"

#include <gtest/gtest.h>

#include <csignal>

using namespace std::chrono_literals;
using namespace clipal::supervisor;
using clipal::log_level;
using clipal::manual_clock;
using clipal::profile;

namespace {

template <class T>
std::vector<T> all_of_type(const slot_actions& actions) {
    std::vector<T> out;
    for (const auto& a : actions)
        if (const auto* t = std::get_if<T>(&a)) out.push_back(*t);
    return out;
}

template <class T>
bool has(const slot_actions& actions) {
    return !all_of_type<T>(actions).empty();
}

template <class T>
T only(const slot_actions& actions) {
    const auto v = all_of_type<T>(actions);
    EXPECT_EQ(v.size(), 1u);
    return v.empty() ? T{} : v.front();
}

// All log text of the actions, one line each, for substring checks.
std::string logs(const slot_actions& actions) {
    std::string s;
    for (const auto& l : all_of_type<log_line>(actions)) s += l.text + "\n";
    return s;
}

bool logged(const slot_actions& actions, log_level level, std::string_view text) {
    for (const auto& l : all_of_type<log_line>(actions))
        if (l.level == level && l.text.find(text) != std::string::npos) return true;
    return false;
}

class WorkerSlotTest : public ::testing::Test {
protected:
    manual_clock clock;
    worker_slot slot{profile::codex, clock};

    // start -> spawned -> hello -> ready: the normal way up.
    void bring_up(int pid = 100) {
        if (slot.state() == slot_state::stopped) {
            ASSERT_TRUE(has<spawn_worker>(slot.start(true)));
        }
        ASSERT_EQ(slot.state(), slot_state::starting);
        slot.spawned(pid);
        const auto push = only<push_config>(slot.hello_received());
        slot.ready_received(push.generation);
        ASSERT_EQ(slot.state(), slot_state::ready);
    }

    // The worker crashes right after spawning; returns the restart delay.
    clipal::duration crash_now(int pid) {
        slot.spawned(pid);
        const auto out = slot.exited(exit_status::code(1));
        if (slot.state() != slot_state::backoff) return clipal::duration::zero();
        return only<schedule_tick>(out).at - clock.now();
    }

    // Advances to the scheduled restart and ticks; expects a spawn.
    void restart_after(clipal::duration d) {
        clock.advance(d);
        ASSERT_TRUE(has<spawn_worker>(slot.tick()));
    }
};

} // namespace

TEST(ExitStatus, DescribesCodesAndSignals) {
    EXPECT_EQ(exit_status::code(70).describe(), "exit code 70");
    EXPECT_EQ(exit_status::signal(SIGSEGV).describe(), "signal 11 (SIGSEGV)");
    EXPECT_EQ(exit_status::signal(SIGKILL).describe(), "signal 9 (SIGKILL)");
    EXPECT_EQ(exit_status::signal(64).describe(), "signal 64");
}

TEST_F(WorkerSlotTest, WithoutProvidersNothingStarts) {
    const auto out = slot.start(false);
    EXPECT_FALSE(has<spawn_worker>(out));
    EXPECT_EQ(slot.state(), slot_state::stopped);
    EXPECT_TRUE(logged(out, log_level::info, "no enabled providers"));
    EXPECT_TRUE(slot.tick().empty());
}

TEST_F(WorkerSlotTest, StartupIsSpawnHelloConfigReady) {
    auto out = slot.start(true);
    EXPECT_TRUE(has<spawn_worker>(out));
    EXPECT_EQ(slot.state(), slot_state::starting);

    out = slot.spawned(4242);
    EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + 10s) << "startup deadline";
    EXPECT_EQ(slot.status().pid, 4242);
    out = slot.hello_received();
    EXPECT_EQ(only<push_config>(out).generation, 1u);
    EXPECT_EQ(slot.state(), slot_state::starting);

    out = slot.config_ack_received(1, true, "");
    EXPECT_EQ(slot.state(), slot_state::starting) << "ready, not the ack, ends the startup";
    out = slot.ready_received(1);
    EXPECT_EQ(slot.state(), slot_state::ready);
    EXPECT_TRUE(logged(out, log_level::info, "worker pid 4242 ready"));
    EXPECT_EQ(slot.status().restarts, 0u);
}

TEST_F(WorkerSlotTest, ReadyBeforeHelloAndDuplicateHelloAreIgnored) {
    slot.start(true);
    slot.spawned(7);
    EXPECT_TRUE(slot.ready_received(1).empty());
    EXPECT_EQ(slot.state(), slot_state::starting);
    EXPECT_TRUE(has<push_config>(slot.hello_received()));
    EXPECT_FALSE(has<push_config>(slot.hello_received()));
}

TEST_F(WorkerSlotTest, ConfigChangePushesANewGenerationAndWaitsForTheAck) {
    bring_up();
    auto out = slot.config_changed(true);
    EXPECT_EQ(only<push_config>(out).generation, 2u);
    EXPECT_EQ(slot.state(), slot_state::reloading);
    out = slot.config_ack_received(2, true, "");
    EXPECT_EQ(slot.state(), slot_state::ready);
    EXPECT_TRUE(logged(out, log_level::info, "applied config generation 2"));
    EXPECT_EQ(slot.status().generation, 2u);
}

TEST_F(WorkerSlotTest, RejectedReloadKeepsTheWorkerAndReportsTheError) {
    bring_up();
    slot.config_changed(true);
    const auto out = slot.config_ack_received(2, false, "providers[0].base_url: bad");
    EXPECT_EQ(slot.state(), slot_state::ready);
    EXPECT_FALSE(has<kill_worker>(out));
    EXPECT_TRUE(logged(out, log_level::warn, "keeps its previous config"));
    EXPECT_EQ(slot.status().last_reload_error, "providers[0].base_url: bad");

    slot.config_changed(true);
    slot.config_ack_received(3, true, "");
    EXPECT_EQ(slot.status().last_reload_error, "") << "a good reload clears the error";
}

TEST_F(WorkerSlotTest, OnlyTheAckOfTheNewestPushCounts) {
    bring_up();
    slot.config_changed(true);
    EXPECT_EQ(only<push_config>(slot.config_changed(true)).generation, 3u);
    slot.config_ack_received(2, true, "");
    EXPECT_EQ(slot.state(), slot_state::reloading);
    slot.config_ack_received(3, true, "");
    EXPECT_EQ(slot.state(), slot_state::ready);
}

TEST_F(WorkerSlotTest, ConfigChangeDuringStartupIsPushedAfterReady) {
    slot.start(true);
    slot.spawned(5);
    EXPECT_EQ(only<push_config>(slot.hello_received()).generation, 1u);
    EXPECT_FALSE(has<push_config>(slot.config_changed(true)));
    const auto out = slot.ready_received(1);
    EXPECT_EQ(only<push_config>(out).generation, 2u);
    EXPECT_EQ(slot.state(), slot_state::reloading);
}

TEST_F(WorkerSlotTest, ConfigChangeBeforeHelloIsSentAtHello) {
    slot.start(true);
    slot.spawned(5);
    slot.config_changed(true);
    EXPECT_EQ(only<push_config>(slot.hello_received()).generation, 2u);
    EXPECT_TRUE(slot.ready_received(2).size() >= 1);
    EXPECT_EQ(slot.state(), slot_state::ready);
}

TEST_F(WorkerSlotTest, CrashRestartsAfterAShortBackoff) {
    bring_up(100);
    clock.advance(5s);
    auto out = slot.exited(exit_status::signal(SIGSEGV));
    EXPECT_EQ(slot.state(), slot_state::backoff);
    EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + 100ms);
    EXPECT_TRUE(logged(out, log_level::warn, "pid 100 died (signal 11 (SIGSEGV)) after 5s; restarting in 100ms"))
        << logs(out);
    EXPECT_EQ(slot.status().restart_at, clock.now() + 100ms);
    EXPECT_FALSE(slot.status().pid);

    clock.advance(50ms);
    out = slot.tick();
    EXPECT_FALSE(has<spawn_worker>(out)) << "too early";
    EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + 50ms) << "an early tick re-arms the timer";

    clock.advance(50ms);
    out = slot.tick();
    EXPECT_TRUE(has<spawn_worker>(out));
    EXPECT_EQ(slot.state(), slot_state::starting);
    EXPECT_EQ(slot.status().restarts, 1u);
    EXPECT_EQ(slot.status().last_exit, "signal 11 (SIGSEGV)");
}

TEST_F(WorkerSlotTest, RepeatedCrashesBackOffExponentially) {
    slot.start(true);
    EXPECT_EQ(crash_now(1), 100ms);
    restart_after(100ms);
    EXPECT_EQ(crash_now(2), 200ms);
    restart_after(200ms);
    EXPECT_EQ(crash_now(3), 400ms);
    restart_after(400ms);
    EXPECT_EQ(slot.status().restarts, 3u);
}

TEST_F(WorkerSlotTest, AHealthyMinuteResetsTheBackoff) {
    slot.start(true);
    EXPECT_EQ(crash_now(1), 100ms);
    restart_after(100ms);
    EXPECT_EQ(crash_now(2), 200ms);
    restart_after(200ms);
    bring_up(3);
    for (int i = 0; i < 60; ++i) {
        clock.advance(1s);
        slot.heartbeat_received();
        ASSERT_FALSE(has<kill_worker>(slot.tick()));
    }
    const auto out = slot.exited(exit_status::code(70));
    EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + 100ms);
}

TEST_F(WorkerSlotTest, TenCrashesInAMinuteParkTheSlotUntilTheConfigChanges) {
    slot.start(true);
    // Crashing at once, the tenth crash comes 51.1 s after the first (100 ms doubling).
    for (int i = 1; i < 10; ++i) {
        const auto d = crash_now(i);
        ASSERT_GT(d, 0ms) << i;
        restart_after(d);
    }
    slot.spawned(10);
    const auto out = slot.exited(exit_status::code(1));
    EXPECT_EQ(slot.state(), slot_state::failed);
    EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + 1min) << "the cool-off";
    EXPECT_TRUE(logged(out, log_level::error, "crashed 10 times within 1m0s; parked, trying again in 1m0s"))
        << logs(out);
    clock.advance(30s);
    EXPECT_FALSE(has<spawn_worker>(slot.tick()));

    const auto revived = slot.config_changed(true);
    EXPECT_TRUE(has<spawn_worker>(revived));
    EXPECT_EQ(slot.state(), slot_state::starting);
    // The history is gone: the next crash restarts fast again.
    EXPECT_EQ(crash_now(11), 100ms);
}

TEST_F(WorkerSlotTest, AParkedSlotIsTriedAgainByItselfAfterACoolOff) {
    slot_policy p;
    p.backoff.crash_limit = 1;
    worker_slot s(profile::gemini, clock, p);
    s.start(true);
    s.spawned(1);
    s.exited(exit_status::code(1));
    ASSERT_EQ(s.state(), slot_state::failed);
    EXPECT_EQ(s.status().restart_at, clock.now() + 1min) << "status tells when it will retry";

    clock.advance(59s);
    EXPECT_FALSE(has<spawn_worker>(s.tick())) << "too early";
    clock.advance(1s);
    const auto out = s.tick();
    EXPECT_TRUE(has<spawn_worker>(out));
    EXPECT_TRUE(logged(out, log_level::info, "cool-off over")) << logs(out);
    EXPECT_EQ(s.state(), slot_state::starting);
}

TEST_F(WorkerSlotTest, AWorkerThatFailsAfterItsCoolOffIsParkedAgainForTwiceAsLongUpToTheCap) {
    slot_policy p;
    p.backoff.crash_limit = 1;
    worker_slot s(profile::gemini, clock, p);
    s.start(true);
    s.spawned(1);
    s.exited(exit_status::code(1));
    const std::chrono::minutes expected[] = {2min, 4min, 8min, 16min, 30min, 30min};
    clipal::duration cool_off = 1min;
    int pid = 2;
    for (const auto want : expected) {
        clock.advance(cool_off);
        ASSERT_TRUE(has<spawn_worker>(s.tick()));
        s.spawned(pid++);
        clock.advance(5s);
        const auto out = s.exited(exit_status::code(1));
        ASSERT_EQ(s.state(), slot_state::failed) << "one failure after a cool-off parks it again";
        EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + want);
        EXPECT_TRUE(logged(out, log_level::error, "failed again after its cool-off")) << logs(out);
        cool_off = want;
    }
}

TEST_F(WorkerSlotTest, AHealthyRunAfterTheCoolOffForgetsTheParking) {
    slot_policy p;
    p.backoff.crash_limit = 2;
    worker_slot s(profile::gemini, clock, p);
    const auto park = [&](int pid) {
        s.spawned(pid);
        const auto d = only<schedule_tick>(s.exited(exit_status::code(1))).at - clock.now();
        clock.advance(d);
        ASSERT_TRUE(has<spawn_worker>(s.tick()));
        s.spawned(pid + 1);
        s.exited(exit_status::code(1));
        ASSERT_EQ(s.state(), slot_state::failed);
    };
    s.start(true);
    park(1);
    EXPECT_EQ(*s.status().restart_at, clock.now() + 1min);
    clock.advance(1min);
    ASSERT_TRUE(has<spawn_worker>(s.tick()));
    s.spawned(3);
    const auto push = only<push_config>(s.hello_received());
    s.ready_received(push.generation);
    for (int i = 0; i < 70; ++i) {
        clock.advance(1s);
        s.heartbeat_received();
    }
    // Died after 70 s of health: an ordinary restart, and the next park starts at 1 min again.
    auto out = s.exited(exit_status::signal(SIGSEGV));
    EXPECT_EQ(s.state(), slot_state::backoff);
    clock.advance(only<schedule_tick>(out).at - clock.now());
    ASSERT_TRUE(has<spawn_worker>(s.tick()));
    s.spawned(5);
    s.exited(exit_status::code(1));
    ASSERT_EQ(s.state(), slot_state::failed);
    EXPECT_EQ(*s.status().restart_at, clock.now() + 1min);
}

TEST_F(WorkerSlotTest, AConfigChangeRevivesAParkedSlotAndForgetsItsCoolOff) {
    slot_policy p;
    p.backoff.crash_limit = 1;
    worker_slot s(profile::gemini, clock, p);
    s.start(true);
    s.spawned(1);
    s.exited(exit_status::code(1));
    clock.advance(1min);
    s.tick();
    s.spawned(2);
    s.exited(exit_status::code(1));
    ASSERT_EQ(*s.status().restart_at, clock.now() + 2min);

    EXPECT_TRUE(has<spawn_worker>(s.config_changed(true)));
    s.spawned(3);
    s.exited(exit_status::code(1));
    ASSERT_EQ(s.state(), slot_state::failed);
    EXPECT_EQ(*s.status().restart_at, clock.now() + 1min);
}

TEST_F(WorkerSlotTest, ParkedSlotWhoseProvidersAreRemovedStopsAndStartsWhenTheyReturn) {
    slot_policy p;
    p.backoff.crash_limit = 1;
    worker_slot s(profile::gemini, clock, p);
    s.start(true);
    s.spawned(1);
    s.exited(exit_status::code(1));
    ASSERT_EQ(s.state(), slot_state::failed);
    auto out = s.config_changed(false);
    EXPECT_FALSE(has<spawn_worker>(out));
    EXPECT_EQ(s.state(), slot_state::stopped);
    EXPECT_TRUE(logged(out, log_level::info, "no enabled providers")) << logs(out);
    out = s.config_changed(true);
    EXPECT_TRUE(has<spawn_worker>(out));
    EXPECT_EQ(s.state(), slot_state::starting);
}

TEST_F(WorkerSlotTest, ThreeMissedHeartbeatsMeanHungAndKilled) {
    bring_up(100);
    clock.advance(1s);
    slot.heartbeat_received();
    clock.advance(2900ms);
    EXPECT_FALSE(has<kill_worker>(slot.tick()));
    clock.advance(100ms);
    auto out = slot.tick();
    EXPECT_TRUE(only<kill_worker>(out).force);
    EXPECT_TRUE(logged(out, log_level::error, "missed 3 heartbeats")) << logs(out);
    EXPECT_FALSE(has<kill_worker>(slot.tick())) << "killed once";

    out = slot.exited(exit_status::signal(SIGKILL));
    EXPECT_EQ(slot.state(), slot_state::backoff);
    EXPECT_NE(slot.status().last_exit.find("signal 9 (SIGKILL) (missed 3 heartbeats"), std::string::npos)
        << slot.status().last_exit;
}

TEST_F(WorkerSlotTest, EachHeartbeatMovesTheHangDeadline) {
    bring_up();
    clock.advance(1500ms);
    EXPECT_EQ(only<schedule_tick>(slot.heartbeat_received()).at, clock.now() + 3s);
}

TEST_F(WorkerSlotTest, HeartbeatsKeepAWorkerAlive) {
    bring_up();
    for (int i = 0; i < 300; ++i) {
        clock.advance(1s);
        slot.heartbeat_received();
        ASSERT_FALSE(has<kill_worker>(slot.tick())) << i;
    }
    EXPECT_EQ(slot.state(), slot_state::ready);
}

TEST_F(WorkerSlotTest, AWorkerThatNeverBecomesReadyIsKilled) {
    slot.start(true);
    slot.spawned(9);
    slot.hello_received();
    clock.advance(9s);
    EXPECT_FALSE(has<kill_worker>(slot.tick()));
    clock.advance(1s);
    const auto out = slot.tick();
    EXPECT_TRUE(only<kill_worker>(out).force);
    EXPECT_TRUE(logged(out, log_level::error, "did not become ready within 10s"));
    slot.exited(exit_status::signal(SIGKILL));
    EXPECT_EQ(slot.state(), slot_state::backoff);
}

TEST_F(WorkerSlotTest, AnUnansweredConfigPushKillsTheWorker) {
    bring_up();
    slot.config_changed(true);
    for (int i = 0; i < 10; ++i) {
        clock.advance(1s);
        slot.heartbeat_received();
        if (i < 9) {
            ASSERT_FALSE(has<kill_worker>(slot.tick())) << i;
        }
    }
    const auto out = slot.tick();
    EXPECT_TRUE(only<kill_worker>(out).force);
    EXPECT_TRUE(logged(out, log_level::error, "did not answer config generation 2")) << logs(out);
}

TEST_F(WorkerSlotTest, ExitCode78WaitsForAConfigChange) {
    bring_up(50);
    const auto out = slot.exited(exit_status::code(78));
    EXPECT_EQ(slot.state(), slot_state::config_error);
    EXPECT_FALSE(has<schedule_tick>(out));
    EXPECT_TRUE(logged(out, log_level::error, "config error"));
    clock.advance(10min);
    EXPECT_FALSE(has<spawn_worker>(slot.tick()));
    EXPECT_TRUE(has<spawn_worker>(slot.config_changed(true)));
}

TEST_F(WorkerSlotTest, ARejectedFirstConfigIsAConfigError) {
    slot.start(true);
    slot.spawned(8);
    slot.hello_received();
    auto out = slot.config_ack_received(1, false, "cannot parse");
    EXPECT_EQ(slot.state(), slot_state::config_error);
    EXPECT_FALSE(only<kill_worker>(out).force) << "asked to stop first";
    EXPECT_EQ(slot.status().last_reload_error, "cannot parse");

    // It does not stop in time: killed.
    clock.advance(2s);
    EXPECT_TRUE(only<kill_worker>(slot.tick()).force);
    slot.exited(exit_status::signal(SIGKILL));
    EXPECT_EQ(slot.state(), slot_state::config_error);
    EXPECT_TRUE(has<spawn_worker>(slot.config_changed(true)));
}

TEST_F(WorkerSlotTest, ConfigChangeWhileARejectedWorkerIsStoppingStartsANewOneAfterExit) {
    slot.start(true);
    slot.spawned(8);
    slot.hello_received();
    slot.config_ack_received(1, false, "bad");
    EXPECT_FALSE(has<spawn_worker>(slot.config_changed(true)));
    EXPECT_EQ(slot.state(), slot_state::draining);
    EXPECT_TRUE(has<spawn_worker>(slot.exited(exit_status::code(0))));
}

TEST_F(WorkerSlotTest, RemovingAllProvidersDrainsTheWorkerAndAddingThemStartsIt) {
    bring_up(70);
    auto out = slot.config_changed(false);
    EXPECT_EQ(only<send_drain>(out).deadline, 30s);
    EXPECT_EQ(slot.state(), slot_state::draining);
    out = slot.exited(exit_status::code(0));
    EXPECT_EQ(slot.state(), slot_state::stopped);
    EXPECT_FALSE(has<spawn_worker>(out));
    EXPECT_TRUE(has<spawn_worker>(slot.config_changed(true)));
}

TEST_F(WorkerSlotTest, ProvidersBackWhileDrainingStartAFreshWorkerAfterExit) {
    bring_up();
    slot.config_changed(false);
    EXPECT_FALSE(has<spawn_worker>(slot.config_changed(true)));
    const auto out = slot.exited(exit_status::code(0));
    EXPECT_TRUE(has<spawn_worker>(out));
    EXPECT_EQ(slot.state(), slot_state::starting);
}

TEST_F(WorkerSlotTest, ShutdownDrainsThenKillsAtTheDeadlineAndNeverRespawns) {
    bring_up();
    auto out = slot.drain_requested(5s);
    EXPECT_EQ(only<send_drain>(out).deadline, 5s);
    EXPECT_EQ(only<schedule_tick>(out).at, clock.now() + 7s) << "deadline plus kill grace";
    EXPECT_EQ(slot.state(), slot_state::draining);
    clock.advance(7s);
    out = slot.tick();
    EXPECT_TRUE(only<kill_worker>(out).force);
    out = slot.exited(exit_status::signal(SIGKILL));
    EXPECT_EQ(slot.state(), slot_state::stopped);
    EXPECT_FALSE(has<spawn_worker>(out));
    EXPECT_FALSE(has<spawn_worker>(slot.config_changed(true)));
}

TEST_F(WorkerSlotTest, ShutdownDuringBackoffJustStops) {
    bring_up();
    slot.exited(exit_status::code(1));
    ASSERT_EQ(slot.state(), slot_state::backoff);
    const auto out = slot.drain_requested(5s);
    EXPECT_EQ(slot.state(), slot_state::stopped);
    EXPECT_TRUE(has<cancel_tick>(out));
    EXPECT_FALSE(has<send_drain>(out));
}

TEST_F(WorkerSlotTest, AWorkerSpawnedAfterShutdownWasRequestedIsStopped) {
    slot.start(true);
    slot.drain_requested(5s);
    EXPECT_EQ(slot.state(), slot_state::draining);
    const auto out = slot.spawned(12);
    EXPECT_FALSE(only<kill_worker>(out).force);
    slot.exited(exit_status::signal(SIGTERM));
    EXPECT_EQ(slot.state(), slot_state::stopped);
}

TEST_F(WorkerSlotTest, ALostChannelKillsAWorkerThatDoesNotExit) {
    bring_up(33);
    auto out = slot.channel_lost("bad frame magic");
    EXPECT_TRUE(logged(out, log_level::warn, "channel to worker pid 33 lost (bad frame magic)"));
    // Heartbeats cannot arrive without a channel; here they would not save it either.
    for (int i = 0; i < 4; ++i) {
        clock.advance(1s);
        slot.heartbeat_received();
        ASSERT_FALSE(has<kill_worker>(slot.tick())) << i;
    }
    clock.advance(1s);
    slot.heartbeat_received();
    out = slot.tick();
    EXPECT_TRUE(only<kill_worker>(out).force);
    slot.exited(exit_status::signal(SIGKILL));
    EXPECT_EQ(slot.state(), slot_state::backoff) << "counts as a crash";
    EXPECT_NE(slot.status().last_exit.find("channel lost: bad frame magic"), std::string::npos)
        << slot.status().last_exit;
}

TEST_F(WorkerSlotTest, ExitWhileReloadingIsACrash) {
    bring_up();
    slot.config_changed(true);
    slot.exited(exit_status::signal(SIGABRT));
    EXPECT_EQ(slot.state(), slot_state::backoff);
}

TEST_F(WorkerSlotTest, SpawnFailureCountsAsACrash) {
    slot.start(true);
    const auto out = slot.spawn_failed("fork: Resource temporarily unavailable");
    EXPECT_EQ(slot.state(), slot_state::backoff);
    EXPECT_TRUE(logged(out, log_level::warn, "could not start: fork")) << logs(out);
}

TEST_F(WorkerSlotTest, LateAndStrayEventsAreIgnored) {
    EXPECT_TRUE(slot.exited(exit_status::code(0)).empty());
    EXPECT_TRUE(slot.config_ack_received(1, true, "").empty());
    EXPECT_TRUE(slot.hello_received().empty());
    EXPECT_TRUE(slot.channel_lost("x").empty());
    bring_up(5);
    EXPECT_TRUE(slot.spawned(6).empty()) << "a second pid is not accepted";
    EXPECT_EQ(slot.status().pid, 5);
    EXPECT_TRUE(slot.config_ack_received(1, true, "").empty()) << "no push outstanding";
    EXPECT_EQ(slot.state(), slot_state::ready);
}

TEST_F(WorkerSlotTest, StatusCarriesPidStartTimeRestartsAndLastExit) {
    slot.start(true);
    const auto spawned_at = clock.now();
    slot.spawned(77);
    auto s = slot.status();
    EXPECT_EQ(s.id, profile::codex);
    EXPECT_EQ(s.state, slot_state::starting);
    EXPECT_EQ(s.pid, 77);
    EXPECT_EQ(s.started_at, spawned_at);
    EXPECT_EQ(s.restarts, 0u);
    slot.exited(exit_status::code(70));
    s = slot.status();
    EXPECT_FALSE(s.pid);
    EXPECT_FALSE(s.started_at);
    EXPECT_EQ(s.last_exit, "exit code 70");
    EXPECT_EQ(to_string(s.state), "backoff");
}
