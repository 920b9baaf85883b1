// Running as a service: the real supervisor talking the systemd notify protocol to a
// datagram socket the test binds (READY=1 once it serves, RELOADING=1/READY=1 around a
// reload, WATCHDOG=1 pings, STOPPING=1 on SIGTERM, and no NOTIFY_SOCKET for workers);
// `clipal service` against a stand-in systemctl; and a real systemd user manager where
// one is reachable.
#include "integration/supervisor_fixture.hpp"
#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/http_probe.hpp"
#include "support/proc_stat.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using clipal::test::child_process;
using clipal::test::clipal_binary;
using clipal::test::http_probe;
using clipal::test::spawn_options;
using clipal::test::temp_dir;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Plays systemd's side of sd_notify: a bound AF_UNIX datagram socket.
class notify_listener {
public:
    explicit notify_listener(fs::path path) : path_(std::move(path)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("cannot bind the notify socket " + path_.string());
    }
    ~notify_listener() { ::close(fd_); }
    notify_listener(const notify_listener&) = delete;
    notify_listener& operator=(const notify_listener&) = delete;

    const fs::path& path() const { return path_; }
    const std::vector<std::string>& received() const { return messages_; }

    // Receives until a datagram contains the line `line` (e.g. "READY=1"), skipping
    // `skip` earlier ones that do; false at the timeout.
    bool wait_for(std::string_view line, std::chrono::milliseconds timeout, std::size_t skip = 0) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        std::size_t seen = count(line);
        while (seen <= skip) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left <= 0ms) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) continue;
            messages_.emplace_back(buf, static_cast<std::size_t>(n));
            if (has_line(messages_.back(), line)) ++seen;
        }
        return true;
    }

    std::size_t count(std::string_view line) const {
        return static_cast<std::size_t>(
            std::count_if(messages_.begin(), messages_.end(), [&](const std::string& m) { return has_line(m, line); }));
    }
    // Index of the first datagram holding `line` at or after `from`; npos when none.
    std::size_t index_of(std::string_view line, std::size_t from = 0) const {
        for (std::size_t i = from; i < messages_.size(); ++i)
            if (has_line(messages_[i], line)) return i;
        return std::string::npos;
    }

private:
    static bool has_line(const std::string& message, std::string_view line) {
        std::istringstream in(message);
        for (std::string l; std::getline(in, l);)
            if (l == line) return true;
        return false;
    }

    fs::path path_;
    int fd_ = -1;
    std::vector<std::string> messages_;
};

std::vector<std::string> environment_of(int pid) {
    const auto raw = clipal::test::read_proc_file("/proc/" + std::to_string(pid) + "/environ").value_or("");
    std::vector<std::string> entries;
    for (std::size_t at = 0; at < raw.size();) {
        const auto end = raw.find('\0', at);
        entries.push_back(raw.substr(at, end - at));
        if (end == std::string::npos) break;
        at = end + 1;
    }
    return entries;
}

bool has_variable(const std::vector<std::string>& env, std::string_view name) {
    return std::any_of(env.begin(), env.end(),
                       [&](const std::string& e) { return e.starts_with(std::string(name) + "="); });
}

class SupervisorNotify : public ::testing::Test {
protected:
    SupervisorNotify() : notify_(dir_.path() / "notify.sock") {
        dir_.write("config/config.yaml", "log_level: debug\n");
        // One profile with a provider, so a worker process runs; it is never contacted.
        dir_.write("config/codex.yaml",
                   "providers:\n  - {name: p1, base_url: \"http://127.0.0.1:9\", api_key: key-p1-000000000000}\n");
    }

    void start(std::vector<std::pair<std::string, std::string>> env = {}) {
        spawn_options o;
        o.args = {"--config-dir", (dir_.path() / "config").string(), "--port", "0"};
        o.env = std::move(env);
        o.env.emplace_back("NOTIFY_SOCKET", notify_.path().string());
        clipal_ = std::make_unique<child_process>(clipal_binary(), o);
    }

    // The free port clipal got, from `clipal status --json`; 0 when it does not say.
    std::uint16_t reported_port() {
        return clipal::test::listen_port_of(clipal::test::clipal_status(dir_.path() / "config")).value_or(0);
    }

    ~SupervisorNotify() override {
        if (clipal_) {
            clipal_->stop(5s);
            EXPECT_FALSE(clipal_->has_sanitizer_report()) << clipal_->stderr_text();
        }
    }

    temp_dir dir_;
    notify_listener notify_;
    std::unique_ptr<child_process> clipal_;
};

} // namespace

TEST_F(SupervisorNotify, ReadyComesOnceItServesAndStoppingOnSigterm) {
    start();
    ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << clipal_->stdout_text() << clipal_->stderr_text();
    // READY=1 means "serving": /health answers at once, no retry needed.
    const auto port = reported_port();
    ASSERT_NE(port, 0) << clipal_->stdout_text();
    http_probe probe("127.0.0.1", port, 2s);
    ASSERT_TRUE(probe.connected()) << probe.last_error();
    const auto health = probe.request("GET", "/health", {}, {}, 5s);
    EXPECT_EQ(health.status, 200);
    EXPECT_THAT(health.body, HasSubstr("healthy"));
    EXPECT_EQ(notify_.count("READY=1"), 1u);

    clipal_->signal(SIGTERM);
    ASSERT_TRUE(notify_.wait_for("STOPPING=1", 20s)) << clipal_->stdout_text();
    const auto status = clipal_->wait_exit(30s);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->exited_with(0)) << status->describe();
    EXPECT_LT(notify_.index_of("READY=1"), notify_.index_of("STOPPING=1"));
}

TEST_F(SupervisorNotify, WorkersNeverSeeNotifySocket) {
    start({{"WATCHDOG_USEC", "30000000"}});
    ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << clipal_->stdout_text() << clipal_->stderr_text();
    ASSERT_TRUE(clipal_->wait_for_output(" ready (config generation", 20s)) << clipal_->stdout_text();
    // The supervisor itself was given the variables (else this test proves nothing)...
    const auto own = environment_of(clipal_->pid());
    ASSERT_TRUE(has_variable(own, "NOTIFY_SOCKET"));
    ASSERT_TRUE(has_variable(own, "WATCHDOG_USEC"));
    // ...its worker was not.
    const auto workers = clipal::test::children_of(clipal_->pid());
    ASSERT_EQ(workers.size(), 1u) << clipal_->stdout_text();
    const auto env = environment_of(workers.front());
    ASSERT_FALSE(env.empty()) << "cannot read /proc/" << workers.front() << "/environ";
    EXPECT_FALSE(has_variable(env, "NOTIFY_SOCKET"));
    EXPECT_FALSE(has_variable(env, "WATCHDOG_USEC"));
    EXPECT_FALSE(has_variable(env, "WATCHDOG_PID"));
    EXPECT_TRUE(has_variable(env, "PATH")) << "the rest of the environment is passed on";
}

TEST_F(SupervisorNotify, ReadyWaitsForTheWorkers) {
    start();
    ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << clipal_->stdout_text() << clipal_->stderr_text();
    EXPECT_THAT(clipal_->stdout_text(), HasSubstr("[codex] worker pid"));
    EXPECT_THAT(clipal_->stdout_text(), HasSubstr(" ready (config generation 1)"));
}

TEST_F(SupervisorNotify, ReloadIsFramedByReloadingAndReady) {
    start();
    ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << clipal_->stdout_text() << clipal_->stderr_text();
    spawn_options o;
    o.args = {"reload", "--config-dir", (dir_.path() / "config").string()};
    child_process reload(clipal_binary(), o);
    const auto st = reload.wait_exit(15s);
    ASSERT_TRUE(st && st->exited_with(0)) << reload.stderr_text();
    ASSERT_TRUE(notify_.wait_for("READY=1", 10s, 1)) << clipal_->stdout_text();
    const auto reloading = notify_.index_of("RELOADING=1");
    ASSERT_NE(reloading, std::string::npos);
    // systemd (Type=notify-reload) needs the monotonic time of the reload with it.
    EXPECT_THAT(notify_.received()[reloading], HasSubstr("MONOTONIC_USEC="));
    EXPECT_GT(reloading, notify_.index_of("READY=1"));
    EXPECT_NE(notify_.index_of("READY=1", reloading + 1), std::string::npos);
}

TEST_F(SupervisorNotify, WatchdogPingsWhenSystemdAsksForThem) {
    // 400 ms: systemd wants a ping at least that often; clipal pings at half of it.
    start({{"WATCHDOG_USEC", "400000"}});
    ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << clipal_->stdout_text() << clipal_->stderr_text();
    EXPECT_TRUE(notify_.wait_for("WATCHDOG=1", 10s, 2)) << "fewer than 3 WATCHDOG=1 datagrams";
}

TEST_F(SupervisorNotify, WatchdogMeantForAnotherProcessIsIgnored) {
    start({{"WATCHDOG_USEC", "200000"}, {"WATCHDOG_PID", "1"}});
    ASSERT_TRUE(notify_.wait_for("READY=1", 20s)) << clipal_->stdout_text() << clipal_->stderr_text();
    const auto port = reported_port();
    ASSERT_NE(port, 0) << clipal_->stdout_text();
    // Several intervals pass while /health is asked; no ping may arrive meanwhile.
    for (int i = 0; i < 10; ++i) {
        http_probe probe("127.0.0.1", port, 2s);
        ASSERT_EQ(probe.request("GET", "/health", {}, {}, 5s).status, 200);
        std::this_thread::sleep_for(100ms);
    }
    EXPECT_FALSE(notify_.wait_for("WATCHDOG=1", 200ms));
}

namespace {

// `clipal service` with a stand-in `systemctl` first in PATH that logs its arguments, and
// XDG_CONFIG_HOME in a temp dir, so the Linux code path runs without a user manager.
class ServiceCommand : public ::testing::Test {
protected:
    ServiceCommand() {
        dir_.write("bin/systemctl",
                   "#!/bin/sh\necho \"$*\" >> \"" + log_.string() +
                       "\"\n"
                       "if [ -n \"$FAKE_SYSTEMCTL_FAIL\" ]; then echo \"$FAKE_SYSTEMCTL_FAIL\" >&2; exit 1; fi\n"
                       "if [ \"$2\" = status ]; then echo 'clipal.service - clipal'; exit 3; fi\n",
                   fs::perms::owner_all);
        fs::create_directories(config_dir_);
    }

    // Runs `clipal service <args...> --config-dir <config_dir_>`; returns its exit code.
    int run(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
        spawn_options o;
        o.args = {"service"};
        o.args.insert(o.args.end(), args.begin(), args.end());
        o.args.insert(o.args.end(), {"--config-dir", config_dir_.string()});
        const char* path = std::getenv("PATH");
        o.env = std::move(env);
        o.env.emplace_back("PATH", (dir_.path() / "bin").string() + ":" + (path ? path : "/usr/bin:/bin"));
        o.env.emplace_back("XDG_CONFIG_HOME", (dir_.path() / "xdg").string());
        child_process c(clipal_binary(), o);
        const auto st = c.wait_exit(30s);
        out_ = c.stdout_text();
        err_ = c.stderr_text();
        EXPECT_TRUE(st.has_value());
        EXPECT_FALSE(c.has_sanitizer_report()) << err_;
        return st && !st->signaled ? st->value : -1;
    }

    std::vector<std::string> systemctl_calls() const {
        std::istringstream in(read_file(log_));
        std::vector<std::string> lines;
        for (std::string l; std::getline(in, l);) lines.push_back(l);
        return lines;
    }

    temp_dir dir_;
    fs::path log_ = dir_.path() / "systemctl.log";
    fs::path config_dir_ = dir_.path() / "my config";
    fs::path unit_ = dir_.path() / "xdg" / "systemd" / "user" / "clipal.service";
    std::string out_;
    std::string err_;
};

} // namespace

TEST_F(ServiceCommand, InstallWritesTheUnitAndEnablesIt) {
    ASSERT_EQ(run({"install"}), 0) << out_ << err_;
    const auto unit = read_file(unit_);
    // The real binary and the absolute config dir, quoted because of the space.
    const auto exe = fs::canonical(clipal_binary()).string();
    EXPECT_THAT(unit, HasSubstr("\nExecStart=" + exe + " --config-dir \"" + config_dir_.string() + "\"\n"));
    EXPECT_THAT(unit, HasSubstr("\nExecReload=" + exe + " reload --config-dir \"" + config_dir_.string() + "\"\n"));
    EXPECT_THAT(unit, HasSubstr("\nType=notify\n"));
    EXPECT_EQ(systemctl_calls(),
              (std::vector<std::string>{"--user daemon-reload", "--user enable --now clipal.service"}));
    EXPECT_THAT(out_, HasSubstr("wrote " + unit_.string()));
    EXPECT_THAT(out_, HasSubstr("loginctl enable-linger"));
}

TEST_F(ServiceCommand, StartStopAndStatusDriveTheInstalledUnit) {
    ASSERT_EQ(run({"install"}), 0) << err_;
    EXPECT_EQ(run({"stop"}), 0) << err_;
    EXPECT_EQ(run({"start"}), 0) << err_;
    // systemctl's own answer: 3 = installed but not running.
    EXPECT_EQ(run({"status"}), 3) << err_;
    EXPECT_THAT(out_, HasSubstr("clipal.service - clipal"));
    const auto calls = systemctl_calls();
    ASSERT_EQ(calls.size(), 5u);
    EXPECT_EQ(calls[2], "--user stop clipal.service");
    EXPECT_EQ(calls[3], "--user start clipal.service");
    EXPECT_EQ(calls[4], "--user status --no-pager clipal.service");
}

TEST_F(ServiceCommand, UninstallDisablesAndRemovesTheUnit) {
    ASSERT_EQ(run({"install"}), 0) << err_;
    ASSERT_EQ(run({"uninstall"}), 0) << err_;
    EXPECT_FALSE(fs::exists(unit_));
    const auto calls = systemctl_calls();
    ASSERT_EQ(calls.size(), 4u);
    EXPECT_EQ(calls[2], "--user disable --now clipal.service");
    EXPECT_EQ(calls[3], "--user daemon-reload");
    // A second uninstall has nothing to do and says so.
    EXPECT_EQ(run({"uninstall"}), 0);
    EXPECT_THAT(out_, HasSubstr("not installed"));
}

TEST_F(ServiceCommand, ActionsOnAMissingUnitSaySoWithoutCallingSystemctl) {
    EXPECT_EQ(run({"status"}), 3);
    EXPECT_THAT(out_, HasSubstr("clipal is not installed as a service (no " + unit_.string() + ")"));
    EXPECT_EQ(run({"start"}), 1);
    EXPECT_THAT(err_, HasSubstr("run `clipal service install` first"));
    EXPECT_TRUE(systemctl_calls().empty());
}

TEST_F(ServiceCommand, UnreachableUserManagerIsExplained) {
    EXPECT_EQ(run({"install"}, {{"FAKE_SYSTEMCTL_FAIL", "Failed to connect to bus: No medium found"}}), 1);
    EXPECT_THAT(err_, HasSubstr("`systemctl --user daemon-reload` failed (exit code 1)"));
    EXPECT_THAT(err_, HasSubstr("no systemd user session is reachable"));
}

TEST_F(ServiceCommand, UnknownOrMissingActionIsAUsageError) {
    EXPECT_EQ(run({"restart"}), 64);
    EXPECT_THAT(err_, HasSubstr("unknown action \"restart\"; use install, uninstall, start, stop or status"));
    EXPECT_EQ(run({}), 64);
    EXPECT_THAT(err_, HasSubstr("an action is needed"));
    EXPECT_TRUE(systemctl_calls().empty());
}

// The real thing, where a systemd user manager answers (not in containers or CI).
TEST(ServiceWithSystemd, InstallRunsClipalUntilUninstalled) {
    const auto probe = [] {
        try {
            child_process c("systemctl", spawn_options{{"--user", "show-environment"}});
            const auto st = c.wait_exit(10s);
            return st && st->exited_with(0);
        } catch (const std::exception&) {
            return false; // no systemctl at all
        }
    };
    if (!probe())
        GTEST_SKIP() << "no systemd user manager reachable (`systemctl --user` fails here); "
                        "the systemd path is covered by ServiceCommand with a stand-in systemctl";
    const char* home = std::getenv("HOME");
    ASSERT_NE(home, nullptr);
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    const fs::path own_unit =
        fs::path(xdg && *xdg ? xdg : std::string(home) + "/.config") / "systemd/user/clipal.service";
    if (fs::exists(own_unit)) GTEST_SKIP() << "a clipal.service is installed for this user; not replacing " << own_unit;

    temp_dir dir;
    // The unit's command line has no --port: the port is named in config.yaml and held
    // until clipal listens on it (see reserved_port).
    const clipal::test::reserved_port reserved;
    const auto port = reserved.port();
    dir.write("config/config.yaml", "port: " + std::to_string(port) + "\nlog_stdout: false\n");
    // The unit runs a copy that lives as long as the test, not the build's binary.
    fs::copy_file(clipal_binary(), dir.path() / "clipal");
    fs::permissions(dir.path() / "clipal", fs::perms::owner_all);
    const auto clipal = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--config-dir", (dir.path() / "config").string()});
        child_process c(dir.path() / "clipal", spawn_options{args});
        const auto st = c.wait_exit(200s);
        return std::make_pair(st && st->exited_with(0), c.stdout_text() + c.stderr_text());
    };
    const auto [installed, install_out] = clipal({"service", "install"});
    EXPECT_TRUE(installed) << install_out;
    if (installed) {
        // enable --now returns after READY=1, so it serves now.
        http_probe p("127.0.0.1", port, 2s);
        EXPECT_EQ(p.request("GET", "/health", {}, {}, 5s).status, 200);
        const auto [running, status_out] = clipal({"service", "status"});
        EXPECT_TRUE(running) << status_out;
    }
    const auto [removed, uninstall_out] = clipal({"service", "uninstall"});
    EXPECT_TRUE(removed) << uninstall_out;
    EXPECT_FALSE(fs::exists(own_unit));
}
