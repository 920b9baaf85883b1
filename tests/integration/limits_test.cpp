// Descriptor exhaustion, max_connections and stray signals, against the real binaries:
// the soft descriptor limit is raised at start; an accept loop out of descriptors backs off
// and logs once per burst; a hand-off the worker cannot receive costs that one connection,
// never the worker; connections past max_connections get the protocol's 503; SIGHUP to
// clipal's process group reloads without touching the workers' streams.
#include "integration/supervisor_fixture.hpp"
#include "integration/worker_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <future>
#include <sstream>
#include <vector>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

// UBSan's vptr check opens a pipe to inspect an object whose type it has not seen yet; in a
// process with no descriptor left it reports a false "invalid vptr" and exits (seen in the
// worker's on_handoff and accept paths). The tests that leave a process without a free
// descriptor therefore run in the normal tree only.
#ifdef CLIPAL_SANITIZED_BINARY
constexpr bool sanitizer_needs_descriptors = true;
#else
constexpr bool sanitizer_needs_descriptors = false;
#endif
constexpr const char* no_descriptors_under_ubsan = "UBSan cannot check types in a process without free descriptors";

const std::string messages_body = R"({"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";
const std::string stream_body =
    R"({"model":"m","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]})";

http_response post(std::uint16_t port, const std::string& body = messages_body,
                   std::chrono::milliseconds timeout = 10s) {
    http_probe p("127.0.0.1", port, 2s);
    return p.request("POST", "/claudecode/v1/messages",
                     {{"content-type", "application/json"}, {"x-api-key", "client-key"}}, body, timeout);
}

// Sets another process's soft descriptor limit (its hard one unchanged); returns the old soft limit.
rlim_t set_soft_nofile(int pid, rlim_t soft) {
    rlimit old{};
    EXPECT_EQ(::prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0) << std::strerror(errno);
    rlimit next = old;
    next.rlim_cur = soft;
    EXPECT_EQ(::prlimit(pid, RLIMIT_NOFILE, &next, nullptr), 0) << std::strerror(errno);
    return old.rlim_cur;
}

// "Max open files  <soft>  <hard>  files" from /proc/<pid>/limits.
std::string nofile_limits(int pid) {
    const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/limits");
    if (!text) return {};
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("Max open files", 0) == 0) {
            std::istringstream words(line.substr(14));
            std::string soft, hard;
            words >> soft >> hard;
            return soft + " " + hard;
        }
    return {};
}

// User plus system CPU time of a process so far, in clock ticks.
long cpu_ticks(int pid) {
    const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return -1;
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    std::istringstream rest(text->substr(text->rfind(')') + 2));
    std::string field;
    long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stol(field);
        if (i == 15) stime = std::stol(field);
    }
    return utime + stime;
}

std::vector<http_probe> open_silent_connections(std::uint16_t port, int n) {
    std::vector<http_probe> out;
    for (int i = 0; i < n; ++i) {
        out.emplace_back("127.0.0.1", port, 2s);
        EXPECT_TRUE(out.back().connected()) << out.back().last_error();
    }
    return out;
}

// A script that runs clipal through `wrapper` (a program taking the command to run as its
// arguments, e.g. setsid or prlimit), keeping clipal's PID: every step execs.
std::filesystem::path wrapped_clipal(const temp_dir& dir, const std::string& wrapper) {
    return dir.write("clipal-wrapped", "#!/bin/sh\nexec " + wrapper + " '" + clipal_binary().string() + "' \"$@\"\n",
                     std::filesystem::perms::owner_all);
}

// While a process is out of descriptors for `window`, how it behaves: the log lines naming
// `needle` that it wrote and the CPU it used meanwhile.
struct exhaustion {
    int lines = 0;
    long cpu_ticks = 0;
};

template <class Log>
exhaustion observe(int pid, Log log_text, std::string_view needle, std::chrono::milliseconds window) {
    const long before = cpu_ticks(pid);
    // Not a wait for something to finish: the window is what is being measured.
    std::this_thread::sleep_for(window);
    return {supervisor_fixture::occurrences(log_text(), needle), cpu_ticks(pid) - before};
}

} // namespace

TEST(DescriptorLimits, SupervisorRaisesTheSoftLimitToTheHardOneForItselfAndItsWorkers) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    temp_dir bin;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1, {}, wrapped_clipal(bin, "prlimit --nofile=200:400"));

    EXPECT_NE(s.process().stdout_text().find("descriptor limit: soft 200 raised to 400, hard 400"), std::string::npos)
        << s.process().stdout_text();
    EXPECT_EQ(nofile_limits(s.process().pid()), "400 400");
    const auto worker = s.worker_pid("claude-code");
    ASSERT_TRUE(worker);
    EXPECT_EQ(nofile_limits(*worker), "400 400");
}

TEST(DescriptorLimits, RouterOutOfDescriptorsBacksOffLogsOnceAndServesWhenConnectionsClose) {
    if (sanitizer_needs_descriptors) GTEST_SKIP() << no_descriptors_under_ubsan;
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    s.write("config.yaml", "log_level: info\n");
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);
    const int pid = s.process().pid();
    const auto worker = s.worker_pid("claude-code");
    set_soft_nofile(pid, 64);

    // More connections than the supervisor has descriptors left: the rest wait in the backlog.
    auto silent = open_silent_connections(s.port(), 100);
    ASSERT_TRUE(s.wait_log_count("accept failed: Too many open files", 1, 5s)) << s.process().stdout_text();
    const auto seen = observe(
        pid, [&] { return s.process().stdout_text(); }, "accept failed", 1s);
    // Before the back-off: thousands of lines a second, and a core busy retrying.
    EXPECT_LE(seen.lines, 2) << s.process().stdout_text().substr(0, 2000);
    EXPECT_LT(seen.cpu_ticks, ::sysconf(_SC_CLK_TCK) / 2);

    silent.clear();
    EXPECT_TRUE(wait_until([&] { return post(s.port(), messages_body, 2s).status == 200; }, 10s));
    EXPECT_EQ(s.worker_pid("claude-code"), worker);
}

TEST(DescriptorLimits, WorkerAcceptLoopOutOfDescriptorsBacksOffLogsOnceAndServesAgain) {
    if (sanitizer_needs_descriptors) GTEST_SKIP() << no_descriptors_under_ubsan;
    fake_upstream_process up(fakes({{"a"}}));
    worker_process w({.providers = providers_of(up, {"a"})});
    const int pid = w.process().pid();
    set_soft_nofile(pid, 32);

    auto silent = open_silent_connections(w.port(), 60);
    ASSERT_TRUE(w.wait_for_log("accept failed: Too many open files", 5s)) << w.log_text();
    const auto seen = observe(
        pid, [&] { return w.log_text(); }, "accept failed", 1s);
    EXPECT_LE(seen.lines, 2) << w.log_text().substr(0, 2000);
    EXPECT_LT(seen.cpu_ticks, ::sysconf(_SC_CLK_TCK) / 2);

    silent.clear();
    EXPECT_TRUE(wait_until([&] { return answered_by(claude_message(w, false, {}, 2s), "a"); }, 10s));
}

TEST(DescriptorLimits, HandOffToAWorkerWithoutAFreeDescriptorCostsOnlyThatConnection) {
    if (sanitizer_needs_descriptors) GTEST_SKIP() << no_descriptors_under_ubsan;
    fake_upstream_process up(fake_upstream_options{{{"cc", "sse:30:50"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);
    const auto worker = s.worker_pid("claude-code");
    ASSERT_TRUE(worker);

    // A 1.5 s stream runs on the worker across the refusals.
    auto stream = std::async(std::launch::async, [&] { return post(s.port(), stream_body); });
    ASSERT_TRUE(up.wait_for_requests(1, 5s));
    const auto soft = set_soft_nofile(*worker, 0);

    // More than the ten crashes that would park the profile, had each one cost the worker.
    for (int i = 0; i < 12; ++i) {
        const auto r = post(s.port());
        EXPECT_EQ(r.status, 503) << r.body;
        EXPECT_NE(r.body.find("no free file descriptor"), std::string::npos) << r.body;
        EXPECT_TRUE(r.header("retry-after")) << r.body;
        EXPECT_NE(r.body.find(R"("type":"error")"), std::string::npos) << r.body;
    }
    const auto streamed = stream.get();
    EXPECT_TRUE(streamed.complete()) << to_string(streamed.end) << " " << streamed.error;
    EXPECT_EQ(supervisor_fixture::occurrences(streamed.body, "data:"), 30);
    EXPECT_EQ(up.requests().size(), 1u);

    const auto w = s.worker("claude-code");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->at("pid").as_int64(), *worker);
    EXPECT_EQ(w->at("restarts").as_int64(), 0);
    EXPECT_EQ(w->at("state").as_string(), "ready");

    set_soft_nofile(*worker, soft);
    const auto again = post(s.port(), stream_body);
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(supervisor_fixture::occurrences(again.body, "data:"), 30);
}

TEST(ConnectionLimits, RouterReadingMaxConnectionsAnswersTheNextRequest503) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    s.write("config.yaml", "log_level: debug\nmax_connections: 3\n");
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);

    // Three connections that send nothing hold the router's three places (accepted in order).
    auto silent = open_silent_connections(s.port(), 3);
    const auto refused = post(s.port());
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.header("retry-after"), "1");
    EXPECT_NE(refused.body.find(R"("type":"error")"), std::string::npos) << refused.body; // Anthropic's shape
    EXPECT_NE(refused.body.find("max_connections (3)"), std::string::npos) << refused.body;
    EXPECT_TRUE(up.requests().empty());
    // Health checks are still answered.
    http_probe h("127.0.0.1", s.port());
    EXPECT_EQ(h.request("GET", "/health").status, 200);

    silent.clear();
    EXPECT_TRUE(wait_until([&] { return post(s.port(), messages_body, 2s).status == 200; }, 10s));
}

TEST(ConnectionLimits, WorkerWithMaxConnectionsOpenAnswersTheNextRequest503) {
    fake_upstream_process up(fake_upstream_options{{{"cc", "sse:40:50"}}});
    supervisor_fixture s;
    s.write("config.yaml", "log_level: debug\nmax_connections: 3\n");
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);

    std::vector<std::future<http_response>> streams;
    for (int i = 0; i < 3; ++i)
        streams.push_back(std::async(std::launch::async, [&] { return post(s.port(), stream_body); }));
    ASSERT_TRUE(up.wait_for_requests(3, 5s));

    const auto refused = post(s.port());
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.header("retry-after"), "1");
    EXPECT_NE(refused.body.find(R"("type":"error")"), std::string::npos) << refused.body;
    EXPECT_NE(refused.body.find("max_connections (3)"), std::string::npos) << refused.body;
    EXPECT_EQ(up.requests().size(), 3u);

    for (auto& f : streams) {
        const auto r = f.get();
        EXPECT_TRUE(r.complete()) << to_string(r.end);
        EXPECT_EQ(supervisor_fixture::occurrences(r.body, "data:"), 40);
    }
    // The streams' connections close as their clients leave; then there is room again.
    EXPECT_TRUE(wait_until([&] { return post(s.port(), stream_body, 5s).status == 200; }, 10s));
}

TEST(Signals, HangupToClipalsProcessGroupReloadsAndStreamsFinishOnTheSameWorkers) {
    fake_upstream_process up(fake_upstream_options{{{"cc", "sse:30:50"}}});
    supervisor_fixture s;
    temp_dir bin;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    // Its own session and process group, like a clipal started from a terminal: the test
    // signals that group and nothing else.
    s.start(1, {}, wrapped_clipal(bin, "setsid"));
    const int pid = s.process().pid();
    ASSERT_EQ(::getpgid(pid), pid);
    const auto worker = s.worker_pid("claude-code");
    ASSERT_TRUE(worker);

    auto stream = std::async(std::launch::async, [&] { return post(s.port(), stream_body); });
    ASSERT_TRUE(up.wait_for_requests(1, 5s));
    // A closing terminal or `kill -HUP -PGID`; then `pkill -HUP clipal` and a stray SIGINT,
    // which reach the worker directly.
    ASSERT_EQ(::kill(-pid, SIGHUP), 0);
    ASSERT_EQ(::kill(*worker, SIGHUP), 0);
    ASSERT_EQ(::kill(*worker, SIGINT), 0);
    EXPECT_TRUE(s.wait_log_count("config reloaded (SIGHUP)", 1, 5s)) << s.process().stdout_text();

    const auto r = stream.get();
    EXPECT_TRUE(r.complete()) << to_string(r.end) << " " << r.error;
    EXPECT_EQ(supervisor_fixture::occurrences(r.body, "data:"), 30);
    EXPECT_FALSE(process_gone(*worker));
    const auto w = s.worker("claude-code");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->at("pid").as_int64(), *worker);
    EXPECT_EQ(w->at("restarts").as_int64(), 0);
    EXPECT_TRUE(s.process().running());
    EXPECT_EQ(post(s.port()).status, 200);
}
