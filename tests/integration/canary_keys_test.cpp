// Keys never leave clipal except towards the upstream they belong to (SPEC §10): provider
// keys and the clients' own credentials are unique canary strings, every path a key could
// take is driven (success, failover, 401 deactivation, 429 cooldown, all providers failed,
// a refused request) at log_level debug, and then every place a user, another program or
// a log reader could see is searched for them.
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

// Canaries: long enough that no fingerprint (3 + 4 characters) or log line could hold one by chance.
const std::string provider_auth_key = "sk-canary-prov-auth-5b1d8e0c9a7f4e21";
const std::string provider_limit_key = "sk-canary-prov-limit-0e93c4a1d2b87f56";
const std::string provider_flaky_key = "sk-canary-prov-flaky-8c2f6a90e1d34b7c";
const std::string provider_codex_key = "sk-canary-prov-codex-4d7e1b3a9c0f2e85";
const std::string provider_gemini_key = "canary-prov-gemini-6f0b9d2e1c8a";
const std::string client_x_api_key = "canary-client-xapikey-7a1e5c3b9d0f";
const std::string client_bearer = "canary-client-bearer-2f8d6b0e4a1c";
const std::string client_goog_key = "canary-client-googkey-9e3a7c1f5b2d";
const std::string client_query_key = "canary-client-querykey-6c0b8e2a4f9d";

const std::vector<std::string>& provider_keys() {
    static const std::vector<std::string> k{provider_auth_key, provider_limit_key, provider_flaky_key,
                                            provider_codex_key, provider_gemini_key};
    return k;
}

const std::vector<std::string>& client_credentials() {
    static const std::vector<std::string> k{client_x_api_key, client_bearer, client_goog_key, client_query_key};
    return k;
}

// Every canary found in `text`, for a message that says which one leaked.
std::string canaries_in(const std::string& text) {
    std::string found;
    for (const auto* list : {&provider_keys(), &client_credentials()})
        for (const auto& k : *list)
            if (text.find(k) != std::string::npos) found += k + " ";
    return found;
}

std::string provider(const std::string& name, const std::string& url, const std::string& key, int priority) {
    return "  - {name: " + name + ", base_url: \"" + url + "\", api_key: \"" + key +
           "\", priority: " + std::to_string(priority) + "}\n";
}

std::string command_output(const std::vector<std::string>& args) {
    spawn_options o;
    o.args = args;
    child_process c(clipal_binary(), o);
    const auto st = c.wait_exit(10s);
    EXPECT_TRUE(st) << "clipal " << args.front() << " did not finish";
    return c.stdout_text() + c.stderr_text();
}

} // namespace

TEST(CanaryKeys, NoKeyOrClientCredentialAppearsAnywhereButTheUpstreamItBelongsTo) {
    fake_upstream_options fo;
    fo.providers = {
        {"cc-auth", "status:401;body=anthropic-auth"},
        {"cc-limit", "status:429;retry-after=120;body=anthropic-rate-limit"},
        {"cc-flaky", "ok*2,status:503"},
        {"cx", "ok"},
        {"g", "ok"},
    };
    fake_upstream_process up(fo);
    supervisor_fixture s; // log_level: debug
    s.write("claude-code.yaml", "providers:\n" + provider("cc-auth", up.base_url("cc-auth"), provider_auth_key, 1) +
                                    provider("cc-limit", up.base_url("cc-limit"), provider_limit_key, 2) +
                                    provider("cc-flaky", up.base_url("cc-flaky"), provider_flaky_key, 3));
    s.write("codex.yaml", "providers:\n" + provider("cx", up.base_url("cx") + "/v1", provider_codex_key, 1));
    s.write("gemini.yaml", "providers:\n" + provider("g", up.base_url("g"), provider_gemini_key, 1));
    s.start(3);

    std::vector<http_response> answers;
    const auto send = [&](const std::string& target, const header_list& h, const std::string& body) {
        http_probe p("127.0.0.1", s.port(), 2s);
        answers.push_back(p.request("POST", target, h, body, 20s));
        return answers.back().status;
    };
    const std::string messages = R"({"model":"m","max_tokens":8,"messages":[{"role":"user","content":"hi"}]})";
    const header_list anthropic{{"content-type", "application/json"}, {"x-api-key", client_x_api_key}};
    const header_list anthropic_bearer{{"content-type", "application/json"},
                                       {"authorization", "Bearer " + client_bearer}};

    // 401 (cc-auth deactivated), 429 (cc-limit cooling), then cc-flaky answers: failover and success.
    EXPECT_EQ(send("/claudecode/v1/messages", anthropic, messages), 200);
    EXPECT_EQ(send("/claudecode/v1/messages", anthropic_bearer, messages), 200);
    // cc-flaky fails from now on: every provider has failed or is unavailable.
    const int exhausted = send("/claudecode/v1/messages", anthropic, messages);
    EXPECT_TRUE(exhausted == 429 || exhausted == 503) << exhausted;
    // Nothing is left to try: answered without an upstream.
    const int unavailable = send("/claudecode/v1/messages", anthropic_bearer, messages);
    EXPECT_TRUE(unavailable == 429 || unavailable == 503) << unavailable;
    EXPECT_EQ(send("/codex/responses",
                   {{"content-type", "application/json"}, {"authorization", "Bearer " + client_bearer}},
                   R"({"model":"m","input":"hi"})"),
              200);
    EXPECT_EQ(send("/gemini/v1beta/models/m:generateContent?key=" + client_query_key,
                   {{"content-type", "application/json"}, {"x-goog-api-key", client_goog_key}},
                   R"({"contents":[{"parts":[{"text":"hi"}]}]})"),
              200);
    // Refused before any worker: an unknown prefix, and a malformed request to a worker.
    EXPECT_EQ(send("/nowhere/v1/messages?key=" + client_query_key, anthropic, messages), 404);
    {
        http_probe p("127.0.0.1", s.port(), 2s);
        ASSERT_TRUE(p.send("POST /claudecode/v1/messages?key=" + client_query_key +
                           " HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: " + client_x_api_key +
                           "\r\nbad header\r\n\r\n"));
        answers.push_back(p.read_response(5s));
    }
    for (const auto* line :
         {"deactivated", "cooling down", "switching to", "request completed via cc-flaky", "no provider could answer",
          "request completed via cx", "request completed via g", "malformed request"})
        EXPECT_TRUE(s.wait_log_count(line, 1, 5s)) << "the scenario did not reach: " << line << "\n"
                                                   << s.process().stdout_text();

    // Clients' answers, heads and bodies.
    for (const auto& a : answers) {
        std::string all = a.body;
        for (const auto& [name, value] : a.headers) all += name + ": " + value + "\n";
        EXPECT_EQ(canaries_in(all), "") << a.status << " " << a.body;
    }
    // Upstreams get their own provider's key and never a client's credential.
    for (const auto& r : up.requests()) {
        std::string all = r.target + "\n" + r.body;
        for (const auto& [name, value] : r.headers) all += name + ": " + value + "\n";
        for (const auto& k : client_credentials()) {
            EXPECT_EQ(all.find(k), std::string::npos) << r.provider << " received the client's " << k;
        }
    }
    // The processes' command lines and environments.
    std::vector<int> pids{s.process().pid()};
    for (const auto* p : {"claude-code", "codex", "gemini"})
        if (const auto pid = s.worker_pid(p)) pids.push_back(*pid);
    ASSERT_EQ(pids.size(), 4u);
    for (const int pid : pids)
        for (const auto* file : {"cmdline", "environ"}) {
            const auto path = "/proc/" + std::to_string(pid) + "/" + file;
            const auto text = read_proc_file(path);
            // Not readable at all is fine too (a non-dumpable process without CAP_SYS_PTRACE).
            if (text) {
                EXPECT_EQ(canaries_in(*text), "") << path;
            }
        }
    // What the operator runs.
    const auto dir = s.dir().path().string();
    EXPECT_EQ(canaries_in(command_output({"status", "--config-dir", dir})), "");
    EXPECT_EQ(canaries_in(command_output({"status", "--json", "--config-dir", dir})), "");
    const auto check = command_output({"check", "--config-dir", dir});
    EXPECT_NE(check.find("cc-flaky"), std::string::npos) << check;
    EXPECT_EQ(canaries_in(check), "") << check;

    // Stopped, so that every log line is written out; then stdout, stderr and the log files.
    const auto st = s.process().stop(10s);
    EXPECT_TRUE(st.exited_with(0)) << st.describe();
    EXPECT_EQ(canaries_in(s.process().stdout_text()), "") << s.process().stdout_text();
    EXPECT_EQ(canaries_in(s.process().stderr_text()), "") << s.process().stderr_text();
    int log_files = 0;
    for (const auto& e : std::filesystem::directory_iterator(s.dir().path() / "logs")) {
        ++log_files;
        const auto text = read_proc_file(e.path().string());
        ASSERT_TRUE(text) << e.path();
        EXPECT_EQ(canaries_in(*text), "") << e.path();
    }
    EXPECT_GE(log_files, 1);
}
