// Chaos: 50 clients stream through clipal for ~20 s while a worker is SIGKILLed every 2 s,
// profile files get valid and invalid edits, and one provider flaps between 503 and
// success. Afterwards every answer was either complete and byte-identical to what a
// provider sends, or a clear failure (a JSON error, or a connection visibly cut); none
// hung; descriptors and memory of every clipal process are back near where they started;
// and `clipal status` agrees with the config on disk.
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace clipal::test {
namespace {

using namespace std::chrono_literals;

#ifdef CLIPAL_SANITIZED_BINARY
constexpr bool rss_is_meaningful = false;
#else
constexpr bool rss_is_meaningful = true;
#endif

constexpr int client_count = 50;
constexpr auto chaos_time = 20s;
constexpr auto kill_every = 2s;
constexpr auto edit_every = 1500ms;
// Longer than the supervisor holds a connection for a restarting worker (10 s) plus a
// stream: an answer slower than this counts as hung.
constexpr auto answer_bound = 30s;

struct profile_case {
    const char* profile;
    const char* target;        // through clipal
    const char* direct_target; // the same request straight to a provider
    const char* body;
};

const profile_case cases[] = {
    {"claude-code", "/claudecode/v1/messages", "/v1/messages",
     R"({"model":"m","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]})"},
    {"codex", "/codex/responses", "/v1/responses", R"({"model":"m","stream":true,"input":"hi"})"},
    {"gemini", "/gemini/v1beta/models/m:streamGenerateContent?alt=sse",
     "/v1beta/models/m:streamGenerateContent?alt=sse", R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})"},
};

// Answers take 100 ms, so 50 clients make a steady few hundred requests a second instead of
// saturating the machine that runs the other tests beside this one.
constexpr const char* paced_ok = "ok;delay=100";

// A provider that fails three requests in ten, in a pattern long enough for the whole run.
std::string flapping_script() {
    std::string s;
    for (int i = 0; i < 400; ++i) s += "status:503*3,ok;delay=100*7,";
    return s + paced_ok;
}

struct outcome_counts {
    std::mutex m;
    std::map<std::string, int> by_kind;
    std::vector<std::string> violations;
    void add(const std::string& kind) {
        std::lock_guard l(m);
        ++by_kind[kind];
    }
    void violation(std::string what) {
        std::lock_guard l(m);
        if (violations.size() < 20) violations.push_back(std::move(what));
    }
};

class ChaosTest : public ::testing::Test {
protected:
    void SetUp() override {
        fake_upstream_options o;
        o.providers = {{"flappy", flapping_script()},
                       {"steady", paced_ok},
                       {"codexp", paced_ok},
                       {"geminip", paced_ok}};
        upstream_ = std::make_unique<fake_upstream_process>(o);
        sup_.write("config.yaml", "log_level: info\nlog_stdout: true\n");
        sup_.write("claude-code.yaml", claude_yaml());
        sup_.write("codex.yaml", provider_yaml({{"codexp", upstream_->base_url("codexp") + "/v1"}}));
        sup_.write("gemini.yaml", gemini_yaml(1));
        sup_.start(3);
        // What each provider sends for each request: answers must equal one of these.
        for (const auto& c : cases)
            for (const char* p : {"flappy", "steady", "codexp", "geminip"})
                for (int attempt = 0; attempt < 10; ++attempt) { // the flapping one answers 503 at times
                    http_probe probe("127.0.0.1", upstream_->port(p));
                    auto r = probe.request("POST", c.direct_target, {{"Content-Type", "application/json"}}, c.body);
                    if (r.complete() && r.status == 200) {
                        expected_[c.profile].insert(r.body);
                        break;
                    }
                }
    }

    std::string claude_yaml() const {
        return provider_yaml({{"flappy", upstream_->base_url("flappy")}, {"steady", upstream_->base_url("steady")}});
    }
    std::string gemini_yaml(int variant) const {
        // Valid edits that keep the same provider (names and priorities move), so answers stay predictable.
        return "providers:\n  - {name: geminip" + std::to_string(variant) + ", base_url: \"" +
               upstream_->base_url("geminip") +
               "\", api_key: key-geminip-000000000000, priority: " + std::to_string(variant) + "}\n";
    }

    supervisor_fixture sup_;
    std::unique_ptr<fake_upstream_process> upstream_;
    std::map<std::string, std::set<std::string>> expected_;
};

TEST_F(ChaosTest, StreamsSurviveKilledWorkersEditsAndAFlappingProvider) {
    for (const auto& c : cases) ASSERT_FALSE(expected_[c.profile].empty()) << c.profile;
    const int supervisor_pid = sup_.process().pid();

    // Baseline after one request through each profile.
    for (const auto& c : cases) {
        http_probe p("127.0.0.1", sup_.port());
        (void)p.request("POST", c.target, {{"Content-Type", "application/json"}}, c.body);
    }
    std::map<int, std::size_t> fds_before;
    std::map<int, long> rss_before;
    fds_before[supervisor_pid] = open_descriptor_count(supervisor_pid);
    rss_before[supervisor_pid] = resident_kib(supervisor_pid);
    long worker_rss_before = 0;
    std::size_t worker_fds_before = 0;
    for (int w : children_of(supervisor_pid)) {
        worker_rss_before = std::max(worker_rss_before, resident_kib(w));
        worker_fds_before = std::max(worker_fds_before, open_descriptor_count(w));
    }

    std::atomic<bool> stop{false};
    outcome_counts counts;
    std::vector<std::thread> clients;
    for (int i = 0; i < client_count; ++i)
        clients.emplace_back([&, i] {
            const auto& c = cases[i % 3];
            while (!stop) {
                http_probe p("127.0.0.1", sup_.port(), 5s);
                if (!p.connected()) {
                    counts.violation("cannot connect: " + p.last_error());
                    counts.add("connect-failed");
                    continue;
                }
                auto r = p.request("POST", c.target, {{"Content-Type", "application/json"}, {"x-api-key", "client"}},
                                   c.body, answer_bound);
                if (r.end == end_kind::timed_out) {
                    counts.violation(std::string(c.profile) + ": no answer within 30 s (hung)");
                    counts.add("hung");
                } else if (r.complete() && r.status == 200) {
                    if (expected_.at(c.profile).count(r.body)) {
                        counts.add("ok");
                    } else {
                        counts.violation(std::string(c.profile) +
                                         ": a complete 200 whose body no provider sent: " + r.body.substr(0, 200));
                        counts.add("corrupt");
                    }
                } else if (r.complete()) {
                    // clipal's own or a passed-through error: must be a readable JSON error.
                    boost::system::error_code ec;
                    (void)boost::json::parse(r.body, ec);
                    if (ec || r.status < 400) {
                        counts.violation(std::string(c.profile) + ": status " + std::to_string(r.status) +
                                         " without a JSON error body: " + r.body.substr(0, 200));
                        counts.add("unclear-error");
                    } else {
                        counts.add("error-" + std::to_string(r.status));
                    }
                } else if (r.end == end_kind::reset || r.end == end_kind::closed_early) {
                    counts.add("cut"); // its worker was killed mid-answer: visibly incomplete
                } else {
                    counts.violation(std::string(c.profile) + ": " + to_string(r.end) + " " + r.error);
                    counts.add(to_string(r.end));
                }
            }
        });

    std::thread killer([&] {
        std::mt19937 rng(12345);
        auto next = std::chrono::steady_clock::now() + kill_every;
        while (!stop) {
            std::this_thread::sleep_until(next);
            next += kill_every;
            if (stop) break;
            auto workers = children_of(supervisor_pid);
            if (workers.empty()) continue;
            ::kill(workers[rng() % workers.size()], SIGKILL);
        }
    });

    std::thread editor([&] {
        int step = 0;
        while (!stop) {
            std::this_thread::sleep_for(edit_every);
            if (stop) break;
            switch (step++ % 4) {
            case 0: sup_.write("gemini.yaml", "providers:\n  - {name: broken}\n"); break; // invalid: kept running
            case 1: sup_.write("gemini.yaml", gemini_yaml(step)); break;
            case 2: sup_.write("codex.yaml", "providers: [[[\n"); break; // does not parse
            default:
                sup_.write("codex.yaml", provider_yaml({{"codexp", upstream_->base_url("codexp") + "/v1"}}));
                break;
            }
        }
    });

    std::this_thread::sleep_for(chaos_time); // the length of the experiment, not a wait for a condition
    stop = true;
    killer.join();
    editor.join();
    for (auto& t : clients) t.join();

    // The last edits were valid; end on a known config and let the restarts settle.
    sup_.write("gemini.yaml", gemini_yaml(99));
    sup_.write("codex.yaml", provider_yaml({{"codexp", upstream_->base_url("codexp") + "/v1"}}));
    for (const char* p : {"claude-code", "codex", "gemini"})
        ASSERT_TRUE(sup_.wait_worker_ready(p, std::nullopt, 15s)) << p << " not ready after the chaos";

    std::string summary;
    for (const auto& [k, n] : counts.by_kind) summary += k + "=" + std::to_string(n) + " ";
    std::cout << "[ chaos    ] " << summary << "\n";
    EXPECT_TRUE(counts.violations.empty()) << summary << "\n"
                                           << [&] {
                                                  std::string all;
                                                  for (const auto& v : counts.violations) all += v + "\n";
                                                  return all;
                                              }();
    EXPECT_GT(counts.by_kind["ok"], 1000) << summary;
    EXPECT_EQ(counts.by_kind["hung"], 0) << summary;

    // Status agrees with the config on disk: every worker ready, the last reload good, the
    // gemini provider the one named in the last edit.
    ASSERT_TRUE(wait_until(
        [&] {
            auto s = sup_.status();
            if (!s.is_object() || !s.at("last_reload").at("ok").as_bool()) return false;
            for (auto& w : s.at("workers").as_array())
                if (w.at("state").as_string() != "ready") return false;
            return true;
        },
        15s))
        << boost::json::serialize(sup_.status());
    const auto gemini = sup_.worker("gemini");
    ASSERT_TRUE(gemini);
    EXPECT_EQ(gemini->at("providers").as_array().at(0).at("name").as_string(), "geminip99");

    // Nothing leaked: the supervisor's descriptors are back where they were (connections it
    // held for restarting workers are closed), memory near the start. A worker keeps the
    // upstream connections its concurrent requests opened (at most one per client) pooled
    // until they idle out, and is otherwise as small as the first ones.
    EXPECT_TRUE(
        wait_until([&] { return open_descriptor_count(supervisor_pid) <= fds_before[supervisor_pid] + 2; }, 15s))
        << "supervisor descriptors: " << fds_before[supervisor_pid] << " before, "
        << open_descriptor_count(supervisor_pid) << " after";
    for (int w : children_of(supervisor_pid))
        EXPECT_LE(open_descriptor_count(w), worker_fds_before + client_count) << "worker " << w;
    if (!rss_is_meaningful) return;
    EXPECT_LE(resident_kib(supervisor_pid), rss_before[supervisor_pid] + 16 * 1024);
    for (int w : children_of(supervisor_pid))
        EXPECT_LE(resident_kib(w), worker_rss_before + 16 * 1024) << "worker " << w;
}

} // namespace
} // namespace clipal::test
