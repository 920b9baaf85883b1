// Faults that must neither keep a profile down nor flood the log or the memory: a parked
// (crash-looping) worker comes back on `clipal reload` and SIGHUP, refusals and malformed
// requests are logged once per burst, a worker gives memory back after a burst of short
// connections, and clipal's processes keep their memory (keys) out of core dumps.
#include "integration/supervisor_fixture.hpp"
#include "integration/worker_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

const std::string gemini_target = "/gemini/v1beta/models/m:generateContent";
const std::string gemini_body = R"({"contents":[{"parts":[{"text":"hi"}]}]})";

int post_status(std::uint16_t port, const std::string& target, const std::string& body) {
    http_probe p("127.0.0.1", port, 2s);
    return p.request("POST", target, {{"content-type", "application/json"}}, body, 10s).status;
}

// A worker program that crashes at once while `flag` exists and is the real worker otherwise.
std::filesystem::path crashing_worker(const temp_dir& bin, const std::filesystem::path& flag) {
    return bin.write("worker",
                     "#!/bin/sh\n[ -e '" + flag.string() + "' ] && exit 1\nexec '" + clipal_binary().string() +
                         "' \"$@\"\n",
                     std::filesystem::perms::owner_all);
}

std::string state_of(supervisor_fixture& s, const std::string& profile) {
    const auto w = s.worker(profile);
    return w ? std::string(w->at("state").as_string()) : std::string("?");
}

// Starts clipal with gemini's worker in a crash loop and waits until it is parked.
void park_gemini(supervisor_fixture& s, fake_upstream_process& up, const temp_dir& bin,
                 const std::filesystem::path& flag) {
    bin.write(flag.filename().string(), "");
    s.write("gemini.yaml", provider_yaml({{"g", up.base_url("g")}}));
    s.start(0, {{"CLIPAL_WORKER_EXECUTABLE", crashing_worker(bin, flag).string()}});
    // Ten crashes with restarts after 0.1, 0.2 ... 2 s: about 11 s.
    ASSERT_TRUE(wait_until([&] { return state_of(s, "gemini") == "failed"; }, 40s)) << s.process().stdout_text();
}

} // namespace

TEST(SelfHealing, ClipalReloadRevivesAParkedWorkerAndStatusSaysWhenItRetries) {
    fake_upstream_process up(fake_upstream_options{{{"g"}}});
    temp_dir bin;
    const auto flag = bin.path() / "crash";
    supervisor_fixture s;
    park_gemini(s, up, bin, flag);
    const auto w = s.worker("gemini");
    ASSERT_TRUE(w);
    EXPECT_TRUE(w->at("restart_at").is_string()) << "a parked worker tries again by itself; status says when";
    EXPECT_EQ(post_status(s.port(), gemini_target, gemini_body), 503);

    std::filesystem::remove(flag); // the fault is gone
    spawn_options o;
    o.args = {"reload", "--config-dir", s.dir().path().string()};
    child_process reload(clipal_binary(), o);
    const auto st = reload.wait_exit(10s);
    ASSERT_TRUE(st && st->exited_with(0)) << reload.stdout_text() << reload.stderr_text();
    EXPECT_TRUE(s.wait_worker_ready("gemini", std::nullopt, 10s)) << s.process().stdout_text();
    EXPECT_EQ(post_status(s.port(), gemini_target, gemini_body), 200);
}

TEST(SelfHealing, SighupRevivesAParkedWorker) {
    fake_upstream_process up(fake_upstream_options{{{"g"}}});
    temp_dir bin;
    const auto flag = bin.path() / "crash";
    supervisor_fixture s;
    park_gemini(s, up, bin, flag);

    std::filesystem::remove(flag);
    s.process().signal(SIGHUP);
    EXPECT_TRUE(s.wait_worker_ready("gemini", std::nullopt, 10s)) << s.process().stdout_text();
    EXPECT_EQ(post_status(s.port(), gemini_target, gemini_body), 200);
    EXPECT_TRUE(s.process().running());
}

TEST(SelfHealing, AFloodOfRefusedRequestsIsOneLineAndACount) {
    supervisor_fixture s; // no profile has providers: every request is refused with a 503
    s.start(0);
    constexpr int flood = 100;
    for (int i = 0; i < flood; ++i) ASSERT_EQ(post_status(s.port(), gemini_target, gemini_body), 503) << i;
    // The summary comes when the 10 s window of the first line is over.
    ASSERT_TRUE(s.wait_log_count("more refused requests", 1, 20s)) << s.process().stdout_text();
    const auto out = s.process().stdout_text();
    EXPECT_EQ(supervisor_fixture::occurrences(out,
                                              "refused a request: gemini cannot serve: it has no enabled providers"),
              1)
        << "the first line of the burst is complete and specific";
    EXPECT_NE(out.find(std::to_string(flood - 1) + " more refused requests"), std::string::npos) << out;
}

TEST(SelfHealing, AFloodOfMalformedRequestsIsLoggedOncePerBurst) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    worker_process w(worker_options{"claude-code", {{"cc", up.base_url("cc")}}});
    constexpr int flood = 200;
    for (int i = 0; i < flood; ++i) {
        auto p = w.connect();
        ASSERT_TRUE(p.send("POST /claudecode/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon here\r\n\r\n"));
        ASSERT_EQ(p.read_response(5s).status, 400) << i;
    }
    // Log lines are written in order: once this request's line is there, all earlier ones are.
    EXPECT_EQ(w.request("POST", "/claudecode/v1/messages", {{"content-type", "application/json"}}, "{}").status, 200);
    ASSERT_TRUE(w.wait_for_log("request completed via cc"));
    EXPECT_EQ(supervisor_fixture::occurrences(w.log_text(), "malformed request from"), 1) << w.log_text();
}

TEST(SelfHealing, AConnectionTheClientClosesIsReleasedAtOnceNotAfterTheLingerTime) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);
    const auto worker = s.worker_pid("claude-code");
    ASSERT_TRUE(worker);
    ASSERT_EQ(post_status(s.port(), "/claudecode/v1/messages", R"({"model":"m"})"), 200); // the upstream connection
    const auto before = open_descriptor_count(*worker);
    // One connection at a time, each closed by the client after its answer. Held until the
    // 2 s linger deadline, they piled up by the hundred (and their buffers with them).
    std::size_t most = before;
    for (int i = 0; i < 300; ++i) {
        {
            http_probe p("127.0.0.1", s.port(), 2s);
            ASSERT_EQ(p.request("POST", "/claudecode/v1/messages",
                                {{"content-type", "application/json"}, {"connection", "close"}}, R"({"model":"m"})")
                          .status,
                      200);
        }
        most = std::max(most, open_descriptor_count(*worker));
    }
    EXPECT_LE(most, before + 16) << "descriptors open in the worker: " << before << " before, up to " << most;
}

TEST(SelfHealing, AWorkerGivesMemoryBackAfterABurstOfShortConnections) {
#ifdef CLIPAL_SANITIZED_BINARY
    GTEST_SKIP() << "the sanitizer's allocator holds freed memory in quarantine by design";
#endif
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    s.write("config.yaml", "log_level: warn\n");
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(0);
    const auto ready = s.wait_worker_ready("claude-code", std::nullopt, 10s);
    ASSERT_TRUE(ready);
    const int worker = *ready;
    ASSERT_EQ(post_status(s.port(), "/claudecode/v1/messages", R"({"model":"m"})"), 200);
    const long before = resident_kib(worker);
    ASSERT_GT(before, 0);

    constexpr int requests = 10000;
    std::atomic<int> next{0}, failed{0};
    std::atomic<long> peak{before};
    std::vector<std::thread> clients;
    for (int t = 0; t < 32; ++t)
        clients.emplace_back([&] {
            while (next.fetch_add(1) < requests) {
                http_probe p("127.0.0.1", s.port(), 5s);
                if (p.request("POST", "/claudecode/v1/messages",
                              {{"content-type", "application/json"}, {"connection", "close"}}, R"({"model":"m"})", 10s)
                        .status != 200)
                    ++failed;
                if (next.load() % 500 == 0) peak = std::max(peak.load(), resident_kib(worker));
            }
        });
    for (auto& c : clients) c.join();
    EXPECT_EQ(failed.load(), 0);
    peak = std::max(peak.load(), resident_kib(worker));

    // Pages, not time: the worker gives back what the burst took once it is quiet.
    long after = 0;
    const bool back = wait_until(
        [&] {
            after = resident_kib(worker);
            return after > 0 && after <= before + 8 * 1024;
        },
        15s);
    EXPECT_TRUE(back) << "VmRSS before " << before << " KiB, peak " << peak.load() << " KiB, after " << after << " KiB";
    EXPECT_EQ(s.worker_pid("claude-code"), worker) << "the same worker, not a restarted one";
}

namespace {

constexpr uid_t nobody = 65534;

// Whether a program of user `nobody` can read /proc/<pid>/environ of a process of the same
// user: it can unless that process is not dumpable. (Root can read it either way.)
bool environ_readable_by_nobody(int pid) {
    const std::string path = "/proc/" + std::to_string(pid) + "/environ";
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(nobody) != 0 || ::setuid(nobody) != 0) ::_exit(3);
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        ::_exit(fd >= 0 ? 0 : (errno == EACCES || errno == EPERM ? 1 : 2));
    }
    int status = 0;
    if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
        ADD_FAILURE() << "probe process failed";
        return true;
    }
    EXPECT_NE(WEXITSTATUS(status), 2) << "unexpected error opening " << path;
    EXPECT_NE(WEXITSTATUS(status), 3) << "the probe cannot become nobody";
    return WEXITSTATUS(status) == 0;
}

spawn_options as_nobody(std::vector<std::string> command) {
    spawn_options o;
    o.args = {"--reuid=65534", "--regid=65534", "--clear-groups"};
    o.args.insert(o.args.end(), command.begin(), command.end());
    o.unset_env = {"XDG_RUNTIME_DIR"}; // the control socket goes to /tmp/clipal-65534
    return o;
}

} // namespace

TEST(SelfHealing, ClipalProcessesKeepTheirMemoryOutOfCoreDumps) {
    // As root everything in /proc is readable; a non-dumpable process shows to its own user.
    temp_dir d;
    d.write("config.yaml", "log_level: debug\n");
    d.write("claude-code.yaml", provider_yaml({{"cc", "http://127.0.0.1:" + std::to_string(unused_loopback_port())}}));
    for (const auto& p : {d.path(), d.path() / "config.yaml", d.path() / "claude-code.yaml"})
        ASSERT_EQ(::chown(p.c_str(), nobody, nobody), 0) << p;
    child_process clipal("/usr/bin/setpriv",
                         as_nobody({clipal_binary().string(), "--config-dir", d.path().string(), "--port", "0"}));
    ASSERT_TRUE(clipal.wait_for_output(" ready (config generation", 10s))
        << clipal.stdout_text() << clipal.stderr_text();
    const auto workers = children_of(clipal.pid());
    ASSERT_EQ(workers.size(), 1u);
    child_process sleeper("/usr/bin/setpriv", as_nobody({"sleep", "30"}));
    ASSERT_TRUE(wait_until(
        [&] {
            return read_proc_file("/proc/" + std::to_string(sleeper.pid()) + "/cmdline").value_or("").find("sleep") ==
                   0;
        },
        5s));

    EXPECT_TRUE(environ_readable_by_nobody(sleeper.pid())) << "the probe must see an ordinary process of its user";
    EXPECT_FALSE(environ_readable_by_nobody(clipal.pid())) << "supervisor";
    EXPECT_FALSE(environ_readable_by_nobody(workers.front())) << "worker";
    // What `clipal stop` and the tests read about clipal's processes stays readable.
    EXPECT_TRUE(read_proc_stat(clipal.pid()));
    sleeper.stop(5s);
    EXPECT_TRUE(clipal.stop(10s).exited_with(0)) << clipal.stderr_text();
}
