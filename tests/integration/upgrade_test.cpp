// The last step of `clipal update`, for real: a supervisor under load is asked to
// re-execute into its replaced binary. No request may fail, a stream spanning the switch
// must complete, the PID and the port stay (systemd's main PID; clipal runs on `--port 0`
// here, and the port is the listener it hands on), the previous workers finish and exit,
// and new workers serve.
#include "app/control_commands.hpp"
#include "integration/supervisor_fixture.hpp"
#include "supervisor/control_socket_path.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

const std::string messages_body = R"({"model":"m","max_tokens":16,"messages":[{"role":"user","content":"hi"}]})";
const header_list json_headers{{"content-type", "application/json"}, {"x-api-key", "client-key"}};

// The clipal under test as an installed copy, so the test can replace the file the way
// `clipal update` does (new file, rename over the old one).
std::filesystem::path install_copy(const temp_dir& dir) {
    const auto bin = dir.path() / "bin";
    std::filesystem::create_directories(bin);
    std::filesystem::copy_file(clipal_binary(), bin / "clipal");
    return bin / "clipal";
}

void replace_binary(const std::filesystem::path& installed) {
    const auto fresh = installed.parent_path() / ".clipal.new";
    std::filesystem::copy_file(clipal_binary(), fresh, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(fresh, installed);
}

clipal::app::control_reply ask(const supervisor_fixture& s, std::string_view command) {
    return clipal::app::ask_supervisor(clipal::supervisor::control_socket_path(s.dir().path()), command);
}

std::string exe_of(int pid) {
    std::error_code ec;
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
}

// Client load for the length of a test: some threads open a connection per request, one
// keeps its connection alive. Every failure is recorded with what happened.
class load {
public:
    load(std::uint16_t port, int fresh_threads) {
        for (int i = 0; i < fresh_threads; ++i)
            threads_.emplace_back([this, port] {
                while (!stop_) {
                    http_probe p("127.0.0.1", port, 2s);
                    record(p.request("POST", "/claudecode/v1/messages", json_headers, messages_body, 10s));
                }
            });
        threads_.emplace_back([this, port] {
            http_probe p("127.0.0.1", port, 2s);
            bool reused = false;
            while (!stop_) {
                auto r = p.request("POST", "/claudecode/v1/messages", json_headers, messages_body, 10s);
                // A server may close a kept-alive connection while it is idle (a draining
                // worker does); HTTP clients then resend on a new connection when nothing of
                // a response arrived (RFC 9112 §9.3.1). Counted, so the test can show it.
                if (reused && r.raw_bytes == 0 && !r.complete()) {
                    ++resent_;
                    p = http_probe("127.0.0.1", port, 2s);
                    r = p.request("POST", "/claudecode/v1/messages", json_headers, messages_body, 10s);
                }
                record(r);
                const auto conn = r.header("connection");
                reused = !(conn && *conn == "close");
                if (!reused || !r.complete()) p = http_probe("127.0.0.1", port, 2s);
            }
        });
    }
    ~load() { finish(); }

    void finish() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

    int ok() const { return ok_; }
    int resent() const { return resent_; }
    std::vector<std::string> failures() {
        std::lock_guard lock(mutex_);
        return failures_;
    }

private:
    void record(const http_response& r) {
        if (r.complete() && r.status == 200) {
            ++ok_;
            return;
        }
        std::lock_guard lock(mutex_);
        failures_.push_back(std::to_string(r.status) + " " + to_string(r.end) + " " + r.error + " " + r.body);
    }

    std::atomic<bool> stop_{false};
    std::atomic<int> ok_{0};
    std::atomic<int> resent_{0};
    std::mutex mutex_;
    std::vector<std::string> failures_;
    std::vector<std::thread> threads_;
};

} // namespace

TEST(Upgrade, UnderLoadLosesNoRequest) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}, {"cx", "sse:40:50"}}});
    supervisor_fixture s;
    const auto installed = install_copy(s.dir());
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.write("codex.yaml", provider_yaml({{"cx", up.base_url("cx") + "/v1"}}));
    s.start(2, {}, installed);
    const int supervisor_pid = s.process().pid();
    const auto old_cc = s.worker_pid("claude-code");
    const auto old_cx = s.worker_pid("codex");
    ASSERT_TRUE(old_cc && old_cx);

    load clients(s.port(), 3);
    // A 2 s stream that the previous codex worker must finish after the switch.
    auto stream = std::async(std::launch::async, [&] {
        http_probe p("127.0.0.1", s.port(), 2s);
        return p.request("POST", "/codex/responses", json_headers, R"({"model":"m","input":"hi","stream":true})", 15s);
    });
    // The switch happens under load, with the stream under way at its provider.
    ASSERT_TRUE(wait_until([&] { return clients.ok() >= 10; }, 10s)) << clients.failures().size() << " failed";
    ASSERT_TRUE(up.wait_for_requests(1, 5s, "cx"));

    replace_binary(installed);
    const auto reply = ask(s, "upgrade");
    ASSERT_EQ(reply.result, clipal::app::control_reply::outcome::ok) << reply.error;
    ASSERT_TRUE(reply.value.as_object().at("ok").as_bool()) << reply.raw;

    const auto new_cc = s.wait_worker_ready("claude-code", old_cc, 10s);
    const auto new_cx = s.wait_worker_ready("codex", old_cx, 10s);
    EXPECT_TRUE(new_cc);
    EXPECT_TRUE(new_cx);
    auto streamed = stream.get();
    wait_until([&] { return process_gone(*old_cc) && process_gone(*old_cx); }, 10s);
    // Load on the new workers alone: requests completed after the previous ones are gone.
    const int before = clients.ok();
    EXPECT_TRUE(wait_until([&] { return clients.ok() >= before + 10; }, 10s));
    clients.finish();

    EXPECT_TRUE(clients.failures().empty())
        << clients.failures().size() << " failed, first: " << clients.failures().front();
    EXPECT_GT(clients.ok(), 20);
    std::cout << "[ upgrade  ] " << clients.ok() << " requests served, " << clients.resent()
              << " resent after an idle keep-alive close\n";
    EXPECT_TRUE(streamed.complete()) << to_string(streamed.end) << " " << streamed.error;
    EXPECT_EQ(supervisor_fixture::occurrences(streamed.body, "data:"), 40);

    EXPECT_TRUE(process_gone(*old_cc));
    EXPECT_TRUE(process_gone(*old_cx));
    EXPECT_EQ(s.process().pid(), supervisor_pid);
    EXPECT_FALSE(process_gone(supervisor_pid));
    // The process now runs the file at the installed path, not the replaced (deleted) one.
    EXPECT_EQ(exe_of(supervisor_pid), installed.string());
    const auto log = s.process().stdout_text();
    EXPECT_NE(log.find("kept the listener on"), std::string::npos) << log;
    EXPECT_NE(log.find("previous worker " + std::to_string(*old_cx) + " exited"), std::string::npos) << log;
    auto st = s.status();
    ASSERT_TRUE(st.is_object());
    EXPECT_TRUE(st.at("previous_workers").as_array().empty());
    EXPECT_FALSE(st.at("upgrading").as_bool());
    EXPECT_EQ(listen_port_of(st), s.port());
}

TEST(Upgrade, TwiceInARowKeepsServing) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    const auto installed = install_copy(s.dir());
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1, {}, installed);
    std::optional<int> worker = s.worker_pid("claude-code");
    for (int round = 0; round < 2; ++round) {
        replace_binary(installed);
        const auto reply = ask(s, "upgrade");
        ASSERT_EQ(reply.result, clipal::app::control_reply::outcome::ok) << reply.error;
        worker = s.wait_worker_ready("claude-code", worker, 10s);
        ASSERT_TRUE(worker) << "round " << round;
        EXPECT_EQ(s.listen_port(), s.port()) << "round " << round;
        http_probe p("127.0.0.1", s.port(), 2s);
        EXPECT_EQ(p.request("POST", "/claudecode/v1/messages", json_headers, messages_body).status, 200);
    }
}

TEST(Upgrade, RefusedWhenTheBinaryIsGoneAndServingContinues) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    const auto installed = install_copy(s.dir());
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1, {}, installed);
    std::filesystem::remove(installed);

    const auto reply = ask(s, "upgrade");
    ASSERT_EQ(reply.result, clipal::app::control_reply::outcome::ok) << reply.error;
    EXPECT_FALSE(reply.value.as_object().at("ok").as_bool());
    EXPECT_NE(reply.raw.find("cannot re-execute"), std::string::npos) << reply.raw;
    http_probe p("127.0.0.1", s.port(), 2s);
    EXPECT_EQ(p.request("POST", "/claudecode/v1/messages", json_headers, messages_body).status, 200);
}

TEST(Upgrade, RefusedWhileTheConfigHasErrors) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    const auto installed = install_copy(s.dir());
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1, {}, installed);
    s.write("codex.yaml", "providers:\n  - {name: x}\n");

    const auto reply = ask(s, "upgrade");
    ASSERT_EQ(reply.result, clipal::app::control_reply::outcome::ok) << reply.error;
    EXPECT_FALSE(reply.value.as_object().at("ok").as_bool());
    EXPECT_NE(reply.raw.find("codex.yaml"), std::string::npos) << reply.raw;
    http_probe p("127.0.0.1", s.port(), 2s);
    EXPECT_EQ(p.request("POST", "/claudecode/v1/messages", json_headers, messages_body).status, 200);
}
