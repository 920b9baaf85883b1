// `clipal status --watch` as a user sees it: run in a real terminal (a detached tmux
// session with a fixed size, its screen read with `tmux capture-pane -p`), the live view of
// a supervisor serving two fake providers refreshes as requests come in, Ctrl-C ends it
// cleanly with the cursor shown again; with stdout a pipe it prints one snapshot; with no
// supervisor it says so and keeps trying.
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

const std::string messages_body = R"({"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";

int post(std::uint16_t port) {
    http_probe p("127.0.0.1", port, 2s);
    return p
        .request("POST", "/claudecode/v1/messages", {{"content-type", "application/json"}, {"x-api-key", "client-key"}},
                 messages_body, 10s)
        .status;
}

std::optional<std::filesystem::path> find_tmux() {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / "tmux";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return std::nullopt;
}

// A single-quoted shell word.
std::string shell_quoted(std::string_view s) {
    std::string out = "'";
    for (const char c : s) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

// A private tmux server (its own socket, no user config) running `command` in one detached
// session of a fixed size. The pane stays after the command ends (remain-on-exit), so its
// last screen can be read; the pane's raw output is also copied to a file (pipe-pane). The
// server is killed when this object goes away, whatever happened.
class tmux_session {
public:
    tmux_session(const std::filesystem::path& tmux, const std::string& command, int columns, int rows)
        : tmux_(tmux), socket_(dir_.path() / "tmux.sock"), raw_(dir_.path() / "pane.raw") {
        std::vector<std::string> args{"new-session", "-d", "-s", "watch"};
        args.insert(args.end(), {"-x", std::to_string(columns), "-y", std::to_string(rows), command});
        // In the same tmux call, before the command can end: keep the pane once it exits, copy its output.
        args.insert(args.end(), {";", "set-option", "-t", "watch", "remain-on-exit", "on"});
        args.insert(args.end(), {";", "pipe-pane", "-t", "watch", "cat >> " + shell_quoted(raw_.string())});
        ran_ = run(std::move(args));
        if (const auto pid = run({"display-message", "-p", "-t", "watch", "#{pid}"}))
            server_pid_ = std::atoi(pid->c_str());
    }
    ~tmux_session() {
        run({"kill-server"});
        // Belt and braces: the server by its own pid, if kill-server did not end it.
        if (server_pid_ > 0 && ::kill(server_pid_, 0) == 0) {
            std::this_thread::sleep_for(200ms);
            if (::kill(server_pid_, 0) == 0) ::kill(server_pid_, SIGKILL);
        }
    }
    tmux_session(const tmux_session&) = delete;
    tmux_session& operator=(const tmux_session&) = delete;

    bool started() const { return ran_.has_value(); }

    // The screen as text, one line per row (trailing blanks trimmed by tmux).
    std::string screen() { return run({"capture-pane", "-p", "-t", "watch"}).value_or(""); }

    // Polls the screen (every 200 ms) until `done` holds for it or `timeout` passes.
    template <class Pred>
    bool wait_screen(Pred done, std::chrono::milliseconds timeout, std::string* last = nullptr) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto text = screen();
            if (last != nullptr) *last = text;
            if (done(text)) return true;
            if (std::chrono::steady_clock::now() >= end) return false;
            std::this_thread::sleep_for(200ms);
        }
    }

    void send_keys(const std::string& keys) { run({"send-keys", "-t", "watch", keys}); }

    // "0" while the pane's command runs.
    std::string pane_dead() { return format("#{pane_dead}"); }
    // The process the pane runs (the shell of watch_command).
    int pane_pid() { return std::atoi(format("#{pane_pid}").c_str()); }
    // "1" while the terminal shows its cursor, "0" while an application hid it.
    std::string cursor_flag() { return format("#{cursor_flag}"); }

    std::string raw_output() const {
        std::ifstream in(raw_, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

private:
    std::string format(const std::string& f) {
        auto s = run({"display-message", "-p", "-t", "watch", f}).value_or("");
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        return s;
    }

    std::optional<std::string> run(std::vector<std::string> args) {
        spawn_options o;
        o.args = {"-S", socket_.string(), "-f", "/dev/null"};
        o.args.insert(o.args.end(), args.begin(), args.end());
        o.env = {{"TERM", "xterm-256color"}};
        o.unset_env = {"TMUX"}; // not nested in a tmux the tests may run in
        child_process c(tmux_, o);
        const auto st = c.wait_exit(5s);
        if (!st || !st->exited_with(0)) return std::nullopt;
        return c.stdout_text();
    }

    temp_dir dir_;
    std::filesystem::path tmux_;
    std::filesystem::path socket_;
    std::filesystem::path raw_;
    std::optional<std::string> ran_;
    int server_pid_ = 0;
};

// The row of `provider` in a provider table: marker, name, then the columns after it.
std::optional<std::string> provider_row(const std::string& screen, std::string_view provider) {
    std::istringstream lines(screen);
    for (std::string line; std::getline(lines, line);) {
        std::istringstream words(line);
        std::string first, second;
        words >> first >> second;
        if (first == provider || (first == "*" && second == provider)) return line;
    }
    return std::nullopt;
}

// REQ/1M, FAIL/1M, P50 TTFB, IN, OUT, CACHE R, CACHE W of a provider row: its last seven
// words, one each, however many words the state and breaker columns take.
std::vector<std::string> activity_of(const std::string& row) {
    std::istringstream words(row);
    std::vector<std::string> all;
    for (std::string w; words >> w;) all.push_back(w);
    if (all.size() < 7) return {};
    return {all.end() - 7, all.end()};
}

bool shows_requests(const std::string& screen, std::string_view provider, std::string_view requests) {
    const auto row = provider_row(screen, provider);
    if (!row) return false;
    const auto a = activity_of(*row);
    return a.size() == 7 && a[0] == requests;
}

// The watch run by a shell that then prints how it ended, as a user's shell would show it.
// (tmux 3.3a does not always reap a pane's process, so #{pane_dead_status} can stay empty.)
std::string watch_command(const std::filesystem::path& config_dir) {
    const std::string watch =
        shell_quoted(clipal_binary().string()) + " status --watch --config-dir " + shell_quoted(config_dir.string());
    return "bash -c " + shell_quoted(watch + "; echo \"[watch exited: $?]\"");
}

bool ended_cleanly(const std::string& screen) { return screen.find("[watch exited: 0]") != std::string::npos; }

} // namespace

TEST(StatusWatch, TerminalViewRefreshesEverySecondAndCtrlCEndsItCleanly) {
    const auto tmux = find_tmux();
    if (!tmux) GTEST_SKIP() << "tmux is not installed (apt-get install tmux; scripts/clipal-dev test installs it)";

    fake_upstream_process up(fake_upstream_options{{{"primary", "status:503"}, {"backup"}}});
    supervisor_fixture s;
    s.write("config.yaml", "log_level: debug\nretries_per_provider: 0\nfailback: false\n");
    s.write("claude-code.yaml",
            provider_yaml({{"primary", up.base_url("primary")}, {"backup", up.base_url("backup")}}));
    s.start(1);
    for (int i = 0; i < 3; ++i) ASSERT_EQ(post(s.port()), 200);

    tmux_session t(*tmux, watch_command(s.dir().path()), 200, 50);
    ASSERT_TRUE(t.started());
    std::string screen;
    ASSERT_TRUE(t.wait_screen([](const std::string& x) { return shows_requests(x, "backup", "3"); }, 15s, &screen))
        << screen;
    EXPECT_NE(screen.find("clipal status --watch, every 1s (Ctrl-C quits)"), std::string::npos) << screen;
    EXPECT_NE(screen.find("claude-code (/claudecode)"), std::string::npos) << screen;
    EXPECT_NE(screen.find(": primary -> backup (server_error)"), std::string::npos) << screen;
    EXPECT_NE(screen.find("REQ/1M  FAIL/1M  P50 TTFB  IN"), std::string::npos) << screen;
    const auto backup = activity_of(provider_row(screen, "backup").value_or(""));
    ASSERT_EQ(backup.size(), 7u) << screen;
    EXPECT_EQ(backup[1], "0") << screen;              // no failures: the client always got a 200
    EXPECT_TRUE(backup[2].ends_with("ms")) << screen; // a fake answers within a second
    EXPECT_NE(backup[3], "0") << screen;              // the fake reports real-looking usage
    EXPECT_NE(backup[4], "0") << screen;
    const auto primary = provider_row(screen, "primary");
    ASSERT_TRUE(primary) << screen;
    // The first request left the primary for the backup (sticky after that): one request, one
    // failure for the primary; the backup answered all three.
    EXPECT_EQ(activity_of(*primary)[0], "1") << screen;
    EXPECT_EQ(activity_of(*primary)[1], "1") << screen;
    EXPECT_EQ(t.pane_dead(), "0") << screen;
    EXPECT_EQ(t.cursor_flag(), "0") << "the cursor is hidden while the view runs";

    // It redraws every second: the clock in the title moves on.
    const auto title = screen.substr(0, screen.find('\n'));
    ASSERT_TRUE(t.wait_screen([&](const std::string& x) { return x.substr(0, x.find('\n')) != title; }, 3s, &screen))
        << title;

    // It refreshes: two more requests show up within a few seconds.
    for (int i = 0; i < 2; ++i) ASSERT_EQ(post(s.port()), 200);
    ASSERT_TRUE(t.wait_screen([](const std::string& x) { return shows_requests(x, "backup", "5"); }, 10s, &screen))
        << screen;

    // Ctrl-C: the process ends with status 0, having shown the cursor again.
    t.send_keys("C-c");
    ASSERT_TRUE(t.wait_screen(ended_cleanly, 5s, &screen)) << screen;
    std::string raw;
    ASSERT_TRUE(wait_until(
        [&] {
            raw = t.raw_output();
            return raw.find("[watch exited: 0]") != std::string::npos;
        },
        3s))
        << raw;
    const auto shown = raw.rfind("\033[?25h"), hidden = raw.rfind("\033[?25l");
    EXPECT_NE(shown, std::string::npos) << "the cursor is shown again at the end";
    EXPECT_TRUE(hidden == std::string::npos || hidden < shown);
    EXPECT_LT(shown, raw.find("[watch exited: 0]"));
}

TEST(StatusWatch, OneSnapshotWhenStdoutIsAPipe) {
    fake_upstream_process up(fake_upstream_options{{{"primary"}, {"backup"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml",
            provider_yaml({{"primary", up.base_url("primary")}, {"backup", up.base_url("backup")}}));
    s.start(1);
    for (int i = 0; i < 2; ++i) ASSERT_EQ(post(s.port()), 200);

    // Through a real pipe (popen); `timeout` bounds a watch that would wrongly keep running.
    const std::string command = "timeout 10 " + watch_command(s.dir().path());
    std::string out;
    int status = -1;
    // The usage rows reach the supervisor with the worker's next heartbeat: ask until they have.
    const auto end = std::chrono::steady_clock::now() + 10s;
    for (;;) {
        FILE* pipe = ::popen(command.c_str(), "r");
        ASSERT_NE(pipe, nullptr);
        out.clear();
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
        status = ::pclose(pipe);
        if (shows_requests(out, "primary", "2")) break;
        ASSERT_LT(std::chrono::steady_clock::now(), end) << out;
        std::this_thread::sleep_for(200ms);
    }
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << out;
    EXPECT_EQ(out.find('\033'), std::string::npos) << "no screen control into a pipe";
    EXPECT_TRUE(out.starts_with("clipal ")) << out;
    EXPECT_EQ(out.find("--watch"), std::string::npos) << "no title: the same as plain status" << out;
    EXPECT_NE(out.find("\ncodex (/codex)\n  last switch: none\n  no providers\n"), std::string::npos) << out;
    EXPECT_NE(out.find("REQ/1M, FAIL/1M, P50 TTFB: the last 60 s"), std::string::npos) << out;
}

TEST(StatusWatch, WithoutASupervisorOneShotExitsThreeTheViewKeepsTryingAndSigtermEndsIt) {
    supervisor_fixture s; // its config dir; started later
    {
        spawn_options o;
        o.args = {"status", "--watch", "--config-dir", s.dir().path().string()};
        child_process c(clipal_binary(), o);
        const auto st = c.wait_exit(5s);
        ASSERT_TRUE(st);
        EXPECT_TRUE(st->exited_with(3)) << st->describe();
        EXPECT_NE(c.stderr_text().find("clipal is not running for config dir"), std::string::npos) << c.stderr_text();
    }

    const auto tmux = find_tmux();
    if (!tmux) GTEST_SKIP() << "tmux is not installed (apt-get install tmux; scripts/clipal-dev test installs it)";
    tmux_session t(*tmux, watch_command(s.dir().path()), 160, 40);
    ASSERT_TRUE(t.started());
    std::string screen;
    ASSERT_TRUE(t.wait_screen(
        [](const std::string& x) {
            return x.find("clipal is not running for config dir") != std::string::npos &&
                   x.find("(trying again every second)") != std::string::npos;
        },
        10s, &screen))
        << screen;

    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1);
    ASSERT_TRUE(t.wait_screen([](const std::string& x) { return shows_requests(x, "cc", "0"); }, 10s, &screen))
        << screen;
    EXPECT_EQ(screen.find("not running"), std::string::npos) << screen;

    // SIGTERM (as `kill` sends) ends it as cleanly as Ctrl-C.
    const int shell = t.pane_pid();
    ASSERT_GT(shell, 0);
    std::ifstream children("/proc/" + std::to_string(shell) + "/task/" + std::to_string(shell) + "/children");
    int watch = 0;
    ASSERT_TRUE(children >> watch) << "no child of the pane's shell " << shell;
    ASSERT_EQ(::kill(watch, SIGTERM), 0);
    ASSERT_TRUE(t.wait_screen(ended_cleanly, 5s, &screen)) << screen;
}
