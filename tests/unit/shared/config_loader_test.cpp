#include "shared/config_loader.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace {

std::vector<clipal::config_issue> global_errors(std::string_view yaml) {
    std::vector<clipal::config_issue> errors;
    clipal::parse_global_yaml(yaml, "config.yaml", errors);
    return errors;
}

std::vector<clipal::config_issue> profile_errors(std::string_view yaml) {
    std::vector<clipal::config_issue> errors;
    clipal::parse_profile_yaml(clipal::profile::codex, yaml, "codex.yaml", errors);
    return errors;
}

std::string only_error(const std::vector<clipal::config_issue>& errors) {
    EXPECT_EQ(errors.size(), 1u);
    return errors.empty() ? std::string() : errors.front().to_string();
}

} // namespace

TEST(GlobalConfig, DefaultsMatchTheSpec) {
    std::vector<clipal::config_issue> errors;
    const auto g = clipal::parse_global_yaml("", "config.yaml", errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(g.listen_addr, "127.0.0.1");
    EXPECT_EQ(g.port, 3333);
    EXPECT_EQ(g.level, clipal::log_level::info);
    EXPECT_EQ(g.reactivate_after, 1h);
    EXPECT_EQ(g.upstream_idle_timeout, 3min);
    EXPECT_EQ(g.response_header_timeout, 2min);
    EXPECT_EQ(g.max_request_body_bytes, 33554432u);
    EXPECT_EQ(g.log_retention_days, 7);
    EXPECT_TRUE(g.log_stdout);
    EXPECT_FALSE(g.ignore_count_tokens_failover);
    EXPECT_EQ(g.stream_first_byte_timeout, 30s);
    EXPECT_EQ(g.retries_per_provider, 1u);
    EXPECT_EQ(g.max_inline_wait, 3s);
    EXPECT_TRUE(g.failback);
    EXPECT_EQ(g.usage_retention_days, 90);
    EXPECT_TRUE(g.prices.empty());
}

TEST(GlobalConfig, ReadsEveryField) {
    std::vector<clipal::config_issue> errors;
    const auto g = clipal::parse_global_yaml(R"(
listen_addr: 0.0.0.0
port: 8080
log_level: debug
reactivate_after: 30m
upstream_idle_timeout: 0
response_header_timeout: 1m30s
max_request_body_bytes: 1024
request_body_budget_bytes: 4096
log_dir: /var/log/clipal
log_retention_days: 0
log_stdout: false
ignore_count_tokens_failover: true
stream_first_byte_timeout: 45s
retries_per_provider: 3
max_inline_wait: 1500ms
failback: false
)",
                                             "config.yaml", errors);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front().to_string());
    EXPECT_EQ(g.stream_first_byte_timeout, 45s);
    EXPECT_EQ(g.retries_per_provider, 3u);
    EXPECT_EQ(g.max_inline_wait, 1500ms);
    EXPECT_FALSE(g.failback);
    EXPECT_EQ(g.listen_addr, "0.0.0.0");
    EXPECT_EQ(g.port, 8080);
    EXPECT_EQ(g.level, clipal::log_level::debug);
    EXPECT_EQ(g.reactivate_after, 30min);
    EXPECT_EQ(g.upstream_idle_timeout, 0s);
    EXPECT_EQ(g.response_header_timeout, 90s);
    EXPECT_EQ(g.max_request_body_bytes, 1024u);
    EXPECT_EQ(g.request_body_budget_bytes, 4096u);
    EXPECT_EQ(g.log_dir, "/var/log/clipal");
    EXPECT_EQ(g.log_retention_days, 0);
    EXPECT_FALSE(g.log_stdout);
    EXPECT_TRUE(g.ignore_count_tokens_failover);
}

TEST(GlobalConfig, EmptyLogDirMeansDefault) {
    std::vector<clipal::config_issue> errors;
    EXPECT_EQ(clipal::parse_global_yaml("log_dir: \"\"\n", "config.yaml", errors).log_dir, "");
    EXPECT_EQ(clipal::parse_global_yaml("log_dir:\n", "config.yaml", errors).log_dir, "");
    EXPECT_TRUE(errors.empty());
}

TEST(GlobalConfig, EachValidationErrorNamesFileLineAndField) {
    EXPECT_EQ(only_error(global_errors("port: 1\nlisten_addr: \"\"\n")),
              "config.yaml:2: listen_addr: must not be empty (use 127.0.0.1 for this machine only)");
    EXPECT_THAT(only_error(global_errors("port: 0\n")), HasSubstr("config.yaml:1: port: must be between 1 and 65535"));
    EXPECT_THAT(only_error(global_errors("port: 65536\n")), HasSubstr("port: must be between 1 and 65535"));
    EXPECT_THAT(only_error(global_errors("port: abc\n")), HasSubstr("port: must be a whole number"));
    EXPECT_THAT(only_error(global_errors("log_level: verbose\n")),
                HasSubstr("log_level: must be one of debug, info, warn, error"));
    EXPECT_THAT(only_error(global_errors("reactivate_after: -1s\n")), HasSubstr("reactivate_after: negative"));
    EXPECT_THAT(only_error(global_errors("upstream_idle_timeout: soon\n")),
                HasSubstr("upstream_idle_timeout: invalid"));
    EXPECT_THAT(only_error(global_errors("response_header_timeout: 0\n")),
                HasSubstr("response_header_timeout: must be greater than 0"));
    EXPECT_THAT(only_error(global_errors("response_header_timeout: 30\n")), HasSubstr("missing unit"));
    EXPECT_THAT(only_error(global_errors("max_request_body_bytes: 0\n")),
                HasSubstr("max_request_body_bytes: must be at least 1"));
    EXPECT_THAT(only_error(global_errors("log_retention_days: -1\n")), HasSubstr("log_retention_days: must be 0"));
    EXPECT_THAT(only_error(global_errors("log_stdout: maybe\n")), HasSubstr("log_stdout: must be true or false"));
    EXPECT_THAT(only_error(global_errors("ignore_count_tokens_failover: [1]\n")),
                HasSubstr("ignore_count_tokens_failover: must be true or false"));
    EXPECT_THAT(only_error(global_errors("max_request_body_bytes: 100\nrequest_body_budget_bytes: 10\n")),
                HasSubstr("config.yaml:2: request_body_budget_bytes: must be at least max_request_body_bytes"));
}

TEST(GlobalConfig, UnknownFieldIsRejectedByName) {
    EXPECT_THAT(only_error(global_errors("port: 3333\nlisten_adress: 0.0.0.0\n")),
                HasSubstr("config.yaml:2: listen_adress: unknown field"));
}

TEST(GlobalConfig, AllErrorsAreReportedNotOnlyTheFirst) {
    EXPECT_EQ(global_errors("port: 0\nlog_level: loud\nfoo: 1\n").size(), 3u);
}

TEST(GlobalConfig, SyntaxErrorNamesTheLine) {
    const auto errors = global_errors("port: 3333\nlog_level: [info\n");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_GE(errors[0].line, 2);
    EXPECT_THAT(errors[0].to_string(), HasSubstr("not valid YAML"));
}

TEST(GlobalConfig, NonMappingFileIsAnError) {
    EXPECT_THAT(only_error(global_errors("- a\n- b\n")), HasSubstr("must be a mapping"));
}

TEST(GlobalConfig, BudgetFollowsALargerBodyLimit) {
    std::vector<clipal::config_issue> errors;
    auto g = clipal::parse_global_yaml("max_request_body_bytes: 1073741824\n", "config.yaml", errors);
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(g.request_body_budget_bytes, 1073741824u);
}

TEST(ProfileConfig, SortsByPriorityStablyAndFiltersDisabled) {
    std::vector<clipal::config_issue> errors;
    const auto pc = clipal::parse_profile_yaml(clipal::profile::claude_code, R"(
providers:
  - {name: c, base_url: "https://c.example", api_key: kc, priority: 2}
  - {name: a, base_url: "https://a.example", api_key: ka, priority: 1}
  - {name: off, base_url: "https://off.example", api_key: ko, priority: 0, enabled: false}
  - {name: d, base_url: "https://d.example", api_key: kd, priority: 2}
  - {name: b, base_url: "https://b.example", api_key: kb, priority: 1}
  - {name: z, base_url: "https://z.example", api_key: kz}
)",
                                               "claude-code.yaml", errors);
    ASSERT_TRUE(errors.empty()) << errors[0].to_string();
    std::vector<std::string> names;
    for (const auto& p : pc.providers) names.push_back(p.name);
    EXPECT_EQ(names, (std::vector<std::string>{"z", "a", "b", "c", "d"}));
    ASSERT_EQ(pc.disabled.size(), 1u);
    EXPECT_EQ(pc.disabled[0].name, "off");
}

TEST(ProfileConfig, BaseUrlWithoutSchemeGetsHttps) {
    std::vector<clipal::config_issue> errors;
    const auto pc = clipal::parse_profile_yaml(clipal::profile::codex, R"(
providers:
  - {name: a, base_url: "api.example.com/v1", api_key: k}
  - {name: b, base_url: "localhost:8080/v1", api_key: k}
  - {name: c, base_url: "http://127.0.0.1:9000", api_key: k}
)",
                                               "codex.yaml", errors);
    ASSERT_TRUE(errors.empty());
    EXPECT_EQ(pc.providers[0].base_url, "https://api.example.com/v1");
    EXPECT_EQ(pc.providers[1].base_url, "https://localhost:8080/v1");
    EXPECT_EQ(pc.providers[2].base_url, "http://127.0.0.1:9000");
}

TEST(ProfileConfig, ReadsAuthHeaderOverride) {
    std::vector<clipal::config_issue> errors;
    const auto pc =
        clipal::parse_profile_yaml(clipal::profile::claude_code,
                                   "providers:\n  - {name: a, base_url: x.io, api_key: k, auth_header: x-api-key}\n",
                                   "claude-code.yaml", errors);
    ASSERT_TRUE(errors.empty());
    EXPECT_EQ(pc.providers[0].auth_header, clipal::auth_carrier::x_api_key);
}

TEST(ProfileConfig, RequiredFieldsAreNamed) {
    const auto errors = profile_errors("providers:\n  - name: a\n    priority: 1\n");
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0].to_string(), "codex.yaml:2: providers[0].base_url: is required");
    EXPECT_EQ(errors[1].to_string(),
              "codex.yaml:2: providers[0].api_key: is required (or api_keys: [KEY1, KEY2, ...] for several keys)");
}

TEST(ProfileConfig, EachValidationErrorNamesItsField) {
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: \"ftp://x\", api_key: k}\n")),
                HasSubstr("codex.yaml:2: providers[0].base_url: must start with http:// or https://"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: \"https://\", api_key: k}\n")),
                HasSubstr("providers[0].base_url:"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: \"https://x/?a=1\", api_key: k}\n")),
                HasSubstr("must not contain a query"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: \"\"}\n")),
                HasSubstr("providers[0].api_key: must not be empty"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: \"sk-1\\n\"}\n")),
                HasSubstr("providers[0].api_key: contains spaces or control characters"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: k, priority: high}\n")),
                HasSubstr("providers[0].priority: must be a whole number"));
    EXPECT_THAT(only_error(
                    profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: k, enabled: sometimes}\n")),
                HasSubstr("providers[0].enabled: must be true or false"));
    EXPECT_THAT(only_error(
                    profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: k, auth_header: basic}\n")),
                HasSubstr("providers[0].auth_header: must be one of x-api-key, bearer, x-goog-api-key"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: k, weight: 3}\n")),
                HasSubstr("providers[0].weight: unknown field"));
    EXPECT_THAT(only_error(profile_errors("provider:\n  - {name: a}\n")),
                HasSubstr("codex.yaml:1: provider: unknown field"));
    EXPECT_THAT(only_error(profile_errors("providers: nope\n")), HasSubstr("providers: must be a list"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - just-a-string\n")),
                HasSubstr("providers[0]: must be a mapping"));
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: k}\n"
                                          "  - {name: a, base_url: y.io, api_key: k2}\n")),
                HasSubstr("codex.yaml:3: providers[1].name: \"a\" is used by another provider"));
}

TEST(ProfileConfig, ErrorsNeverEchoTheKey) {
    const auto errors = profile_errors("providers:\n  - {name: a, base_url: x.io, api_key: \"sk-very-secret key\"}\n");
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string().find("sk-very-secret"), std::string::npos);
}

// The worker parses base_url with the same validator, so what passes here it can use:
// this URL used to pass `clipal check` and then park the worker in config_error.
TEST(ProfileConfig, BaseUrlIsRefusedInTheWorkersWordsNamingTheProvider) {
    EXPECT_EQ(only_error(profile_errors("providers:\n  - {name: a, base_url: \"https://h:443x/v1\", api_key: k}\n")),
              "codex.yaml:2: providers[0].base_url: has an invalid port (must be 1-65535) (provider \"a\")");
    EXPECT_EQ(only_error(profile_errors("providers:\n  - {name: a, base_url: \"h:65536\", api_key: k}\n")),
              "codex.yaml:2: providers[0].base_url: has an invalid port (must be 1-65535) (provider \"a\")");
    EXPECT_THAT(only_error(profile_errors("providers:\n  - {name: a, base_url: \"https://bad!host/\", api_key: k}\n")),
                HasSubstr("providers[0].base_url: has an invalid host name"));
    const auto leaked =
        only_error(profile_errors("providers:\n  - {name: a, base_url: \"https://h/v1?key=sk-9876\", api_key: k}\n"));
    EXPECT_EQ(leaked.find("sk-9876"), std::string::npos) << leaked;
}

// Found by fuzz_config: a name that is not UTF-8 passed `clipal check`, and the worker could
// not read the config JSON it was sent ("config is not valid JSON: syntax error").
TEST(ProfileConfig, TextThatIsNotUtf8IsRefusedByField) {
    EXPECT_EQ(only_error(
                  profile_errors("providers:\n  - {name: \"go\xC3\x97\xCB\x7F\", base_url: h.io, api_key: k}\n")),
              "codex.yaml:2: providers[0].name: is not UTF-8 text (save the file as UTF-8)");
    EXPECT_EQ(only_error(global_errors("log_dir: \"/var/log/cl\xE9pal\"\n")),
              "config.yaml:1: log_dir: is not UTF-8 text (save the file as UTF-8)");
    EXPECT_TRUE(profile_errors("providers:\n  - {name: \"caf\xC3\xA9\", base_url: h.io, api_key: k}\n").empty());
}

TEST(ProfileConfig, EmptyFileAndEmptyListMeanNoProviders) {
    EXPECT_TRUE(profile_errors("").empty());
    EXPECT_TRUE(profile_errors("# only a comment\n").empty());
    EXPECT_TRUE(profile_errors("providers: []\n").empty());
    EXPECT_TRUE(profile_errors("providers:\n").empty());
}

class ConfigDir : public ::testing::Test {
protected:
    clipal::test::temp_dir tmp;
};

TEST_F(ConfigDir, MissingFilesMeanDefaultsAndNoProviders) {
    const auto r = clipal::load_config(tmp.path());
    ASSERT_TRUE(r.cfg);
    EXPECT_TRUE(r.errors.empty());
    EXPECT_TRUE(r.warnings.empty());
    EXPECT_EQ(r.cfg->global.port, 3333);
    EXPECT_EQ(r.cfg->global.log_dir, (tmp.path() / "logs").string());
    for (const auto& p : clipal::all_profiles) EXPECT_TRUE(r.cfg->of(p.id).providers.empty());
}

TEST_F(ConfigDir, LoadsEachProfileFromItsFile) {
    tmp.write("config.yaml", "port: 4444\nlog_dir: mylogs\n");
    tmp.write("claude-code.yaml", "providers:\n  - {name: cc, base_url: a.io, api_key: k1}\n");
    tmp.write("gemini.yaml", "providers:\n  - {name: g, base_url: g.io, api_key: k2}\n");
    const auto r = clipal::load_config(tmp.path());
    ASSERT_TRUE(r.cfg);
    EXPECT_EQ(r.cfg->global.port, 4444);
    EXPECT_EQ(r.cfg->global.log_dir, (tmp.path() / "mylogs").string());
    EXPECT_EQ(r.cfg->of(clipal::profile::claude_code).providers.at(0).name, "cc");
    EXPECT_TRUE(r.cfg->of(clipal::profile::codex).providers.empty());
    EXPECT_EQ(r.cfg->of(clipal::profile::gemini).providers.at(0).name, "g");
}

TEST_F(ConfigDir, ErrorsFromSeveralFilesAreAllReportedWithPaths) {
    tmp.write("config.yaml", "port: 0\n");
    tmp.write("codex.yaml", "providers:\n  - {name: a}\n");
    const auto r = clipal::load_config(tmp.path());
    EXPECT_FALSE(r.cfg);
    ASSERT_EQ(r.errors.size(), 3u);
    EXPECT_THAT(r.errors[0].to_string(), HasSubstr((tmp.path() / "config.yaml").string() + ":1: port"));
    EXPECT_THAT(r.errors[1].to_string(), HasSubstr((tmp.path() / "codex.yaml").string() + ":2: providers[0].base_url"));
}

TEST_F(ConfigDir, GroupReadableFileIsWarnedAbout) {
    tmp.write("codex.yaml", "providers: []\n",
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                  std::filesystem::perms::group_read);
    const auto r = clipal::load_config(tmp.path());
    ASSERT_TRUE(r.cfg);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_THAT(r.warnings[0].to_string(), HasSubstr("chmod 600"));
}

TEST_F(ConfigDir, PlainHttpToAnotherHostIsWarnedAbout) {
    tmp.write("codex.yaml", "providers:\n"
                            "  - {name: local, base_url: \"http://127.0.0.1:8080/v1\", api_key: k1}\n"
                            "  - {name: named-local, base_url: \"http://localhost:8080\", api_key: k2}\n"
                            "  - {name: off, base_url: \"http://relay.example\", api_key: k3, enabled: false}\n"
                            "  - {name: tls, base_url: \"https://relay.example\", api_key: k4}\n"
                            "  - {name: relay, base_url: \"http://relay.example/v1\", api_key: sk-relay-5555}\n");
    const auto r = clipal::load_config(tmp.path());
    ASSERT_TRUE(r.cfg) << "a warning refuses nothing";
    EXPECT_EQ(r.cfg->of(clipal::profile::codex).providers.size(), 4u);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_EQ(r.warnings[0].to_string(),
              (tmp.path() / "codex.yaml").string() +
                  ":6: providers[4].base_url: http://relay.example/v1 sends the API key and every prompt unencrypted "
                  "to a host that is not this machine; use https:// (provider \"relay\")");
    EXPECT_EQ(r.warnings[0].to_string().find("sk-relay"), std::string::npos);
}

TEST_F(ConfigDir, MissingDirectoryIsAnError) {
    const auto r = clipal::load_config(tmp.path() / "nope");
    EXPECT_FALSE(r.cfg);
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_THAT(r.errors[0].to_string(), HasSubstr("does not exist"));
}

TEST_F(ConfigDir, CommandLineOverridesWin) {
    tmp.write("config.yaml", "port: 4444\nlisten_addr: 127.0.0.2\nlog_level: warn\n");
    clipal::config_overrides o;
    o.port = 5555;
    o.listen_addr = "::1";
    o.level = clipal::log_level::debug;
    const auto r = clipal::load_config(tmp.path(), o);
    ASSERT_TRUE(r.cfg);
    EXPECT_EQ(r.cfg->global.port, 5555);
    EXPECT_EQ(r.cfg->global.listen_addr, "::1");
    EXPECT_EQ(r.cfg->global.level, clipal::log_level::debug);
}

TEST(ConfigDirResolution, FlagThenEnvThenHome) {
    setenv("CLIPAL_CONFIG_DIR", "/from/env", 1);
    setenv("HOME", "/home/someone", 1);
    EXPECT_EQ(clipal::resolve_config_dir(std::string("/from/flag")), "/from/flag");
    EXPECT_EQ(clipal::resolve_config_dir(std::nullopt), "/from/env");
    unsetenv("CLIPAL_CONFIG_DIR");
    EXPECT_EQ(clipal::resolve_config_dir(std::nullopt), "/home/someone/.clipal");
}

TEST(GlobalConfig, ReadsAccessSettingsInTheGuardsForm) {
    std::vector<clipal::config_issue> errors;
    const auto g = clipal::parse_global_yaml(R"(
allowed_hosts: [Clipal.LAN, "[FE80:0::1]", 10.0.0.2]
allowed_origins: ["HTTP://LocalHost:8080/", "https://app.example:443"]
access_token: clipal-token-0123456789abcdef
)",
                                             "config.yaml", errors);
    EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front().to_string());
    EXPECT_EQ(g.allowed_hosts, (std::vector<std::string>{"clipal.lan", "fe80::1", "10.0.0.2"}));
    EXPECT_EQ(g.allowed_origins, (std::vector<std::string>{"http://localhost:8080", "https://app.example"}));
    EXPECT_EQ(g.access_token, "clipal-token-0123456789abcdef");
    const auto d = clipal::parse_global_yaml("", "config.yaml", errors);
    EXPECT_TRUE(d.allowed_hosts.empty() && d.allowed_origins.empty() && d.access_token.empty());
}

TEST(GlobalConfig, CarelessAccessSettingsAreRefusedByField) {
    EXPECT_THAT(only_error(global_errors("allowed_hosts: clipal.lan\n")),
                HasSubstr("config.yaml:1: allowed_hosts: must be a list"));
    EXPECT_THAT(only_error(global_errors("allowed_hosts: [\"clipal.lan:3333\"]\n")),
                HasSubstr("allowed_hosts[0]: must be a host name or IP address without port"));
    EXPECT_THAT(only_error(global_errors("allowed_hosts: [\"[::1]:3333\"]\n")), HasSubstr("allowed_hosts[0]"));
    EXPECT_THAT(only_error(global_errors("allowed_hosts: [ok.lan, \"http://clipal.lan\"]\n")),
                HasSubstr("allowed_hosts[1]"));
    EXPECT_THAT(only_error(global_errors("allowed_hosts: [\"*\"]\n")), HasSubstr("allowed_hosts[0]"));
    EXPECT_THAT(only_error(global_errors("allowed_origins: [\"null\"]\n")),
                HasSubstr("allowed_origins[0]: \"null\" is the origin of sandboxed pages"));
    EXPECT_THAT(only_error(global_errors("allowed_origins: [\"*\"]\n")), HasSubstr("list each origin"));
    EXPECT_THAT(only_error(global_errors("allowed_origins: [\"app.example\"]\n")),
                HasSubstr("must look like http://host[:port]"));
    EXPECT_THAT(only_error(global_errors("allowed_origins: [\"https://app.example/chat\"]\n")), HasSubstr("no path"));
    EXPECT_THAT(only_error(global_errors("access_token: \"\"\n")), HasSubstr("access_token: must not be empty"));
    EXPECT_THAT(only_error(global_errors("access_token: \"token with space-0123456\"\n")),
                HasSubstr("access_token: contains spaces"));
    EXPECT_THAT(only_error(global_errors("access_token: [a]\n")), HasSubstr("access_token: must be a string"));
}

TEST_F(ConfigDir, ShortAccessTokenIsWarnedAboutWithoutShowingIt) {
    tmp.write("config.yaml", "access_token: abc123\n");
    const auto r = clipal::load_config(tmp.path());
    ASSERT_TRUE(r.cfg);
    ASSERT_EQ(r.warnings.size(), 1u);
    EXPECT_THAT(r.warnings[0].to_string(), HasSubstr("access_token: is only 6 characters"));
    EXPECT_THAT(r.warnings[0].to_string(), ::testing::Not(HasSubstr("abc123")));
}

TEST(GlobalConfig, MaxConnectionsDefaultsTo4096AndMustBeAPositiveCount) {
    std::vector<clipal::config_issue> errors;
    EXPECT_EQ(clipal::parse_global_yaml("", "config.yaml", errors).max_connections, 4096u);
    EXPECT_EQ(clipal::parse_global_yaml("max_connections: 3\n", "config.yaml", errors).max_connections, 3u);
    EXPECT_TRUE(errors.empty());
    EXPECT_THAT(only_error(global_errors("max_connections: 0\n")),
                HasSubstr("config.yaml:1: max_connections: must be between 1 and 1000000, got 0"));
    EXPECT_THAT(only_error(global_errors("max_connections: 2000000\n")),
                HasSubstr("max_connections: must be between 1 and 1000000"));
    EXPECT_THAT(only_error(global_errors("max_connections: -5\n")), HasSubstr("max_connections: must be between"));
    EXPECT_THAT(only_error(global_errors("max_connections: many\n")), HasSubstr("max_connections"));
}

// Failover v2 (SPEC §4 policies) and the streaming bound of SPEC §5.
TEST(GlobalConfig, FailoverSettingsTakeTheirEdgeValues) {
    std::vector<clipal::config_issue> errors;
    auto g = clipal::parse_global_yaml("retries_per_provider: 0\nmax_inline_wait: 0\nstream_first_byte_timeout: 0\n",
                                       "config.yaml", errors);
    EXPECT_TRUE(errors.empty()) << errors.front().to_string();
    EXPECT_EQ(g.retries_per_provider, 0u);
    EXPECT_EQ(g.max_inline_wait, 0s);
    EXPECT_EQ(g.stream_first_byte_timeout, 0s);
    g = clipal::parse_global_yaml("retries_per_provider: 5\nmax_inline_wait: 1m\nfailback: true\n", "config.yaml",
                                  errors);
    EXPECT_TRUE(errors.empty()) << errors.front().to_string();
    EXPECT_EQ(g.retries_per_provider, 5u);
    EXPECT_EQ(g.max_inline_wait, 60s);
    EXPECT_TRUE(g.failback);
}

TEST(GlobalConfig, FailoverSettingsAreRefusedWithTheirRange) {
    EXPECT_EQ(only_error(global_errors("retries_per_provider: 6\n")),
              "config.yaml:1: retries_per_provider: must be between 0 and 5 (0 = move to the next provider at once), "
              "got 6");
    EXPECT_EQ(only_error(global_errors("port: 1\nretries_per_provider: -1\n")),
              "config.yaml:2: retries_per_provider: must be between 0 and 5 (0 = move to the next provider at once), "
              "got -1");
    EXPECT_EQ(only_error(global_errors("retries_per_provider: twice\n")),
              "config.yaml:1: retries_per_provider: must be a whole number, got \"twice\"");
    EXPECT_EQ(only_error(global_errors("max_inline_wait: 61s\n")),
              "config.yaml:1: max_inline_wait: must be at most 1m0s (0 disables inline waits), got 1m1s");
    EXPECT_EQ(only_error(global_errors("max_inline_wait: 1h\n")),
              "config.yaml:1: max_inline_wait: must be at most 1m0s (0 disables inline waits), got 1h0m0s");
    EXPECT_THAT(only_error(global_errors("max_inline_wait: -1s\n")),
                HasSubstr("config.yaml:1: max_inline_wait: negative"));
    EXPECT_THAT(only_error(global_errors("max_inline_wait: 3\n")), HasSubstr("max_inline_wait: missing unit"));
    EXPECT_EQ(only_error(global_errors("failback: sometimes\n")),
              "config.yaml:1: failback: must be true or false, got \"sometimes\"");
    EXPECT_THAT(only_error(global_errors("stream_first_byte_timeout: -30s\n")),
                HasSubstr("config.yaml:1: stream_first_byte_timeout: negative"));
    EXPECT_EQ(only_error(global_errors("stream_first_byte_timeout: [30s]\n")),
              "config.yaml:1: stream_first_byte_timeout: must be a duration such as 90s, 1h30m or 0, got a list");
    EXPECT_THAT(only_error(global_errors("retries_per_providers: 2\n")),
                HasSubstr("config.yaml:1: retries_per_providers: unknown field"));
}

namespace {

clipal::profile_config profile_ok(clipal::profile p, std::string_view yaml) {
    std::vector<clipal::config_issue> errors;
    auto pc = clipal::parse_profile_yaml(p, yaml, "x.yaml", errors);
    EXPECT_TRUE(errors.empty()) << errors.front().to_string();
    return pc;
}

std::vector<clipal::config_issue> gemini_errors(std::string_view yaml) {
    std::vector<clipal::config_issue> errors;
    clipal::parse_profile_yaml(clipal::profile::gemini, yaml, "gemini.yaml", errors);
    return errors;
}

} // namespace

TEST(ProfileConfig, OneKeyOrAListOfKeysInOrder) {
    auto pc = profile_ok(clipal::profile::codex, "providers:\n  - {name: a, base_url: x.io, api_key: k1}\n");
    EXPECT_EQ(pc.providers.at(0).api_keys, (std::vector<std::string>{"k1"}));
    pc = profile_ok(clipal::profile::codex, "providers:\n"
                                            "  - name: a\n"
                                            "    base_url: x.io\n"
                                            "    api_keys: [k2, k1, k3]\n"
                                            "  - {name: b, base_url: y.io, api_keys: [only], enabled: false}\n");
    EXPECT_EQ(pc.providers.at(0).api_keys, (std::vector<std::string>{"k2", "k1", "k3"}));
    EXPECT_EQ(pc.disabled.at(0).api_keys, (std::vector<std::string>{"only"}));
    // A null api_key beside api_keys counts as absent, like any other null field.
    pc = profile_ok(clipal::profile::codex, "providers:\n  - {name: a, base_url: x.io, api_key: ~, api_keys: [k]}\n");
    EXPECT_EQ(pc.providers.at(0).api_keys, (std::vector<std::string>{"k"}));
}

TEST(ProfileConfig, ApiKeyAndApiKeysAreExclusive) {
    EXPECT_EQ(only_error(profile_errors("providers:\n  - name: a\n    base_url: x.io\n    api_key: k1\n"
                                        "    api_keys: [k2]\n")),
              "codex.yaml:5: providers[0].api_keys: api_key and api_keys are both set; use api_key for one key or "
              "api_keys for several, not both");
    EXPECT_EQ(only_error(profile_errors("providers:\n  - {name: a, base_url: x.io, api_keys: ~}\n")),
              "codex.yaml:2: providers[0].api_key: is required (or api_keys: [KEY1, KEY2, ...] for several keys)");
}

TEST(ProfileConfig, EachApiKeysErrorNamesTheKeyByIndexOnly) {
    const std::string head = "providers:\n  - {name: a, base_url: x.io, ";
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: []}\n")),
              "codex.yaml:2: providers[0].api_keys: must list at least one key");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: sk-secret-1}\n")),
              "codex.yaml:2: providers[0].api_keys: must be a list of keys, e.g. [KEY1, KEY2], got a single value "
              "(write api_key: KEY for one key)");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: {a: sk-secret-1}}\n")),
              "codex.yaml:2: providers[0].api_keys: must be a list of keys, e.g. [KEY1, KEY2], got a mapping");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: [k1, \"\"]}\n")),
              "codex.yaml:2: providers[0].api_keys[1]: must not be empty");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: [\"sk-secret 1\", k2]}\n")),
              "codex.yaml:2: providers[0].api_keys[0]: contains spaces or control characters; check for a stray "
              "newline or quote");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: [k1, [k2]]}\n")),
              "codex.yaml:2: providers[0].api_keys[1]: must be a string, got a list");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: [k1, ~]}\n")),
              "codex.yaml:2: providers[0].api_keys[1]: must be a string, got nothing");
    EXPECT_EQ(only_error(profile_errors(head + "api_keys: [sk-secret-1, k2, sk-secret-1]}\n")),
              "codex.yaml:2: providers[0].api_keys[2]: is the same key as api_keys[0]; list each key once");
    // The index is the list's even when a key before it was refused.
    EXPECT_THAT(profile_errors(head + "api_keys: [\"\", sk-secret-1, sk-secret-1]}\n").at(1).to_string(),
                HasSubstr("providers[0].api_keys[2]: is the same key as api_keys[1]"));
    EXPECT_EQ(only_error(profile_errors(head + "api_key: [k1, k2]}\n")),
              "codex.yaml:2: providers[0].api_key: must be a string, got a list");
    for (const auto& yaml : {head + "api_keys: sk-secret-1}\n", head + "api_keys: [sk-secret-1, sk-secret-1]}\n",
                             head + "api_keys: [\"sk-secret 1\"]}\n"})
        for (const auto& e : profile_errors(yaml))
            EXPECT_EQ(e.to_string().find("sk-secret"), std::string::npos) << e.to_string();
}

TEST(ProfileConfig, ModelOverrideIsReadAndOptional) {
    auto pc = profile_ok(clipal::profile::codex, "providers:\n  - {name: a, base_url: x.io, api_key: k}\n");
    EXPECT_EQ(pc.providers.at(0).model, "");
    pc = profile_ok(clipal::profile::codex, "providers:\n  - {name: a, base_url: x.io, api_key: k, model: gpt-5}\n");
    EXPECT_EQ(pc.providers.at(0).model, "gpt-5");
    // In a JSON body a model may look like OpenRouter's or Ollama's names.
    pc =
        profile_ok(clipal::profile::claude_code,
                   "providers:\n  - {name: a, base_url: x.io, api_key: k, model: \"meta-llama/llama-3.3-70b:free\"}\n");
    EXPECT_EQ(pc.providers.at(0).model, "meta-llama/llama-3.3-70b:free");
    pc = profile_ok(clipal::profile::gemini,
                    "providers:\n  - {name: a, base_url: x.io, api_key: k, model: gemini-2.5-flash_preview.05~20}\n");
    EXPECT_EQ(pc.providers.at(0).model, "gemini-2.5-flash_preview.05~20");
    EXPECT_EQ(profile_ok(clipal::profile::gemini,
                         "providers:\n  - {name: a, base_url: x.io, api_key: k, model: a..b}\n")
                  .providers.at(0)
                  .model,
              "a..b");
    EXPECT_EQ(profile_ok(clipal::profile::gemini, "providers:\n  - {name: a, base_url: x.io, api_key: k, model: ~}\n")
                  .providers.at(0)
                  .model,
              "");
}

TEST(ProfileConfig, ModelOverrideIsRefusedSayingWhy) {
    const std::string head = "providers:\n  - {name: a, base_url: x.io, api_key: k, model: ";
    EXPECT_EQ(only_error(profile_errors(head + "\"\"}\n")),
              "codex.yaml:2: providers[0].model: must not be empty (remove the line to send each request's own model)");
    EXPECT_EQ(only_error(profile_errors(head + "\"gpt 5\"}\n")),
              "codex.yaml:2: providers[0].model: contains spaces or control characters; check for a stray newline or "
              "quote");
    EXPECT_EQ(only_error(profile_errors(head + "\"gpt-5\\t\"}\n")),
              "codex.yaml:2: providers[0].model: contains spaces or control characters; check for a stray newline or "
              "quote");
    EXPECT_EQ(only_error(profile_errors(head + "[gpt-5]}\n")),
              "codex.yaml:2: providers[0].model: must be a string, got a list");
    const std::string segment =
        " (it is placed in the Gemini request path as models/NAME:; use letters, digits and - . _)";
    for (const char* bad : {"/", "?", "#", ":", "%"}) {
        EXPECT_EQ(only_error(gemini_errors(head + "\"gem" + bad + "ini\"}\n")),
                  std::string("gemini.yaml:2: providers[0].model: must not contain \"") + bad + "\"" + segment);
    }
    EXPECT_EQ(only_error(gemini_errors(head + "\"a\\\\b\"}\n")),
              "gemini.yaml:2: providers[0].model: must not contain \"\\\"" + segment);
    for (const char* dots : {".", "..", "..."})
        EXPECT_EQ(only_error(gemini_errors(head + "\"" + dots + "\"}\n")),
                  "gemini.yaml:2: providers[0].model: must not be only dots (it is placed in the Gemini request path "
                  "as models/NAME:)");
    EXPECT_EQ(
        only_error(gemini_errors(head + "\"gemini-\xC3\xA9\"}\n")),
        "gemini.yaml:2: providers[0].model: must be ASCII (it is placed in the Gemini request path as models/NAME:)");
    EXPECT_EQ(only_error(gemini_errors(head + "\"gemini 2\"}\n")),
              "gemini.yaml:2: providers[0].model: contains spaces or control characters; check for a stray newline or "
              "quote");
}

TEST_F(ConfigDir, SeveralKeysAndAModelLoadFromTheFile) {
    tmp.write("gemini.yaml", "providers:\n"
                             "  - name: g\n"
                             "    base_url: g.io\n"
                             "    api_keys:\n"
                             "      - key-one-0001\n"
                             "      - key-two-0002\n"
                             "    model: gemini-2.5-pro\n");
    const auto r = clipal::load_config(tmp.path());
    ASSERT_TRUE(r.cfg) << r.errors.front().to_string();
    const auto& p = r.cfg->of(clipal::profile::gemini).providers.at(0);
    EXPECT_EQ(p.api_keys, (std::vector<std::string>{"key-one-0001", "key-two-0002"}));
    EXPECT_EQ(p.model, "gemini-2.5-pro");
}

TEST(GlobalConfig, UsageRetentionAndPricesAreRead) {
    std::vector<clipal::config_issue> errors;
    const auto g = clipal::parse_global_yaml(R"(
usage_retention_days: 0
prices:
  claude-sonnet-4-5: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}
  gpt-5.1:
    input: 1.25
    output: 10
  "gemini-2.5-pro": {output: 1e1}
  free-model: {}
)",
                                             "config.yaml", errors);
    ASSERT_TRUE(errors.empty()) << errors.front().to_string();
    EXPECT_EQ(g.usage_retention_days, 0);
    ASSERT_EQ(g.prices.size(), 4u);
    EXPECT_EQ(g.prices.at("claude-sonnet-4-5"), (clipal::model_price{3, 15, 0.3, 3.75}));
    EXPECT_EQ(g.prices.at("gpt-5.1"), (clipal::model_price{1.25, 10, 0, 0}));
    EXPECT_EQ(g.prices.at("gemini-2.5-pro"), (clipal::model_price{0, 10, 0, 0}));
    EXPECT_EQ(g.prices.at("free-model"), clipal::model_price{});
    EXPECT_EQ(clipal::parse_global_yaml("usage_retention_days: 100000\nprices:\n", "config.yaml", errors)
                  .usage_retention_days,
              100000);
    EXPECT_TRUE(errors.empty());
}

TEST(GlobalConfig, PricesTakePartInEquality) {
    std::vector<clipal::config_issue> errors;
    const auto a = clipal::parse_global_yaml("prices: {m: {input: 1}}\n", "config.yaml", errors);
    const auto b = clipal::parse_global_yaml("prices: {m: {input: 2}}\n", "config.yaml", errors);
    const auto c = clipal::parse_global_yaml("usage_retention_days: 30\n", "config.yaml", errors);
    ASSERT_TRUE(errors.empty());
    EXPECT_FALSE(a == b);
    EXPECT_FALSE(c == clipal::global_config{});
    EXPECT_TRUE(a == clipal::parse_global_yaml("prices: {m: {input: 1.0, output: 0}}\n", "config.yaml", errors));
}

TEST(GlobalConfig, UsageRetentionIsRefusedWithItsRange) {
    EXPECT_EQ(only_error(global_errors("usage_retention_days: -1\n")),
              "config.yaml:1: usage_retention_days: must be 0 (keep forever) or a number of days, got -1");
    EXPECT_THAT(only_error(global_errors("port: 1\nusage_retention_days: 100001\n")),
                HasSubstr("config.yaml:2: usage_retention_days: must be 0"));
    EXPECT_THAT(only_error(global_errors("usage_retention_days: 7d\n")),
                HasSubstr("usage_retention_days: must be a whole number"));
}

TEST(GlobalConfig, EachPricesErrorNamesFileLineAndField) {
    EXPECT_EQ(only_error(global_errors("prices:\n  m1: {input: -1}\n")),
              "config.yaml:2: prices.m1.input: must be a number of at least 0 (the price per million tokens), got "
              "\"-1\"");
    EXPECT_THAT(only_error(global_errors("prices:\n  m1:\n    input: 1\n    output: cheap\n")),
                HasSubstr("config.yaml:4: prices.m1.output: must be a number of at least 0"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1: {input: .inf}\n")),
                HasSubstr("prices.m1.input: must be a number"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1: {input: .nan}\n")),
                HasSubstr("prices.m1.input: must be a number"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1: {input: [1]}\n")),
                HasSubstr(
                    "prices.m1.input: must be a number of at least 0 (the price per million tokens), got a list"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1:\n    input: 1\n    cached: 2\n")),
                HasSubstr("config.yaml:4: prices.m1.cached: unknown field (known fields: cache_read, cache_write, "
                          "input, output)"));
    EXPECT_THAT(only_error(global_errors("prices: 3\n")),
                HasSubstr("config.yaml:1: prices: must be a mapping of model names to prices"));
    EXPECT_THAT(only_error(global_errors("prices: [gpt-5]\n")), HasSubstr("prices: must be a mapping"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1: 3\n")),
                HasSubstr("config.yaml:2: prices.m1: must be a mapping of prices per million tokens"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1:\n")),
                HasSubstr("config.yaml:2: prices.m1: must be a mapping"));
    EXPECT_THAT(only_error(global_errors("prices:\n  \"\": {input: 1}\n")),
                HasSubstr("config.yaml:2: prices: a model name must not be empty"));
    EXPECT_THAT(only_error(global_errors("prices:\n  [a, b]: {input: 1}\n")),
                HasSubstr("prices: a model name must be a string"));
    EXPECT_THAT(only_error(global_errors("prices:\n  m1: {input: 1}\n  m1: {input: 2}\n")),
                HasSubstr("config.yaml:3: prices.m1: is listed twice"));
    // Every bad price is reported, and a model with an error is not kept half-read.
    std::vector<clipal::config_issue> errors;
    const auto g =
        clipal::parse_global_yaml("prices:\n  a: {input: x, output: y}\n  b: {input: 1}\n", "config.yaml", errors);
    EXPECT_EQ(errors.size(), 2u);
    EXPECT_FALSE(g.prices.contains("a"));
}
