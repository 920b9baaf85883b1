// One base_url validator for `clipal check`, the supervisor and the worker: a URL the worker
// could not use is refused up front (naming file, field and provider), and a plain-http URL
// to another machine is warned about by check and in the log at start.
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace clipal::test;

struct check_result {
    exit_status status;
    std::string output;
};

check_result run_check(const temp_dir& dir) {
    spawn_options o;
    o.args = {"check", "--config-dir", dir.path().string()};
    child_process p(clipal_binary(), o);
    const auto st = p.wait_exit(10s);
    if (!st) ADD_FAILURE() << "clipal check did not finish";
    return {st.value_or(exit_status{}), p.stdout_text() + p.stderr_text()};
}

TEST(BaseUrlCheck, CheckRefusesABadPortNamingFileProviderAndField) {
    temp_dir dir;
    dir.write("claude-code.yaml", "providers:\n"
                                  "  - name: primary\n"
                                  "    base_url: \"https://h:443x/v1\"\n"
                                  "    api_key: sk-check-secret-1234\n");
    const auto r = run_check(dir);
    EXPECT_TRUE(r.status.exited_with(78)) << r.status.describe() << "\n" << r.output;
    EXPECT_NE(r.output.find("error: " + (dir.path() / "claude-code.yaml").string() +
                            ":3: providers[0].base_url: has an invalid port (must be 1-65535) (provider \"primary\")"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("configuration ok"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("sk-check-secret"), std::string::npos) << r.output;
}

TEST(BaseUrlCheck, CheckWarnsAboutPlainHttpToAnotherMachine) {
    temp_dir dir;
    dir.write("codex.yaml", "providers:\n"
                            "  - {name: local, base_url: \"http://127.0.0.1:8080/v1\", api_key: sk-local-1234}\n"
                            "  - {name: relay, base_url: \"http://192.0.2.1:8080/v1\", api_key: sk-relay-1234}\n");
    const auto r = run_check(dir);
    EXPECT_TRUE(r.status.exited_with(0)) << r.status.describe() << "\n" << r.output;
    EXPECT_NE(r.output.find("warning: " + (dir.path() / "codex.yaml").string() +
                            ":3: providers[1].base_url: http://192.0.2.1:8080/v1 sends the API key and every prompt "
                            "unencrypted to a host that is not this machine; use https:// (provider \"relay\")"),
              std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("(provider \"local\")"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("configuration ok"), std::string::npos) << r.output;
}

// The URL that used to pass the supervisor's check and then park the worker in
// config_error: now the edit is refused and the running config keeps serving.
TEST(BaseUrlCheck, SupervisorWarnsAtStartAndRefusesAnEditTheWorkerCouldNotUse) {
    fake_upstream_process up(fake_upstream_options{{{"cc"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"cc", up.base_url("cc")}, {"relay", "http://192.0.2.1:9/v1"}}));
    s.start(1);
    EXPECT_NE(s.process().stdout_text().find("providers[1].base_url: http://192.0.2.1:9/v1 sends the API key and "
                                             "every prompt unencrypted to a host that is not this machine"),
              std::string::npos)
        << s.process().stdout_text();

    s.write("claude-code.yaml", provider_yaml({{"cc", "https://h:443x/v1"}}));
    ASSERT_TRUE(s.wait_log_count("config reload failed, keeping the running config: ", 1, 10s))
        << s.process().stdout_text();
    EXPECT_NE(s.process().stdout_text().find("providers[0].base_url: has an invalid port (must be 1-65535) "
                                             "(provider \"cc\")"),
              std::string::npos)
        << s.process().stdout_text();
    http_probe p("127.0.0.1", s.port());
    const auto r = p.request("POST", "/claudecode/v1/messages", {{"x-api-key", "client-key"}}, "{}");
    EXPECT_EQ(r.status, 200) << r.body;
    const auto w = s.worker("claude-code");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->at("state").as_string(), "ready") << boost::json::serialize(*w);
}

} // namespace
