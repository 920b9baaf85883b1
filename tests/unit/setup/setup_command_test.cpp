// `clipal setup` against throwaway home directories: merging, idempotence, refusal of
// files it cannot parse, missing home, --undo, --dry-run and --status.
#include "app/setup_command.hpp"
#include "shared/exit_codes.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;
using clipal::profile;
using clipal::app::setup_action;
using clipal::app::setup_options;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

fs::perms mode_of(const fs::path& p) { return fs::status(p).permissions() & fs::perms::mask; }

// Every regular file under `dir`, by relative path, with its bytes and mode.
std::map<std::string, std::pair<std::string, fs::perms>> snapshot(const fs::path& dir) {
    std::map<std::string, std::pair<std::string, fs::perms>> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = {read(e.path()), mode_of(e.path())};
    return files;
}

struct result {
    int code;
    std::string out;
    std::string err;
};

constexpr auto rw = fs::perms::owner_read | fs::perms::owner_write;

class Setup : public ::testing::Test {
protected:
    void SetUp() override { config.write("config.yaml", "port: 4567\n"); }

    setup_options options(setup_action action, std::vector<profile> tools = all()) const {
        setup_options o;
        o.action = action;
        o.tools = std::move(tools);
        o.config_dir = config.path();
        o.env.home = home.path();
        return o;
    }

    static std::vector<profile> all() { return {profile::claude_code, profile::codex, profile::gemini}; }

    result run(const setup_options& o) const {
        std::ostringstream out;
        std::ostringstream err;
        const int code = clipal::app::run_setup(o, out, err);
        return {code, out.str(), err.str()};
    }
    result apply(std::vector<profile> tools = all()) const { return run(options(setup_action::apply, tools)); }
    result undo(std::vector<profile> tools = all()) const { return run(options(setup_action::undo, tools)); }
    result status() const { return run(options(setup_action::status)); }

    fs::path claude() const { return home.path() / ".claude" / "settings.json"; }
    fs::path codex() const { return home.path() / ".codex" / "config.toml"; }
    fs::path gemini() const { return home.path() / ".gemini" / "settings.json"; }
    fs::path dotenv() const { return home.path() / ".gemini" / ".env"; }

    clipal::test::temp_dir home;
    clipal::test::temp_dir config;
};

TEST_F(Setup, MergesIntoExistingFilesKeepingCommentsOrderAndUnknownKeys) {
    home.write(".claude/settings.json",
               "{\n  \"permissions\": {\n    \"allow\": [\"Bash(ls:*)\"]\n  },\n  \"futureKey\": {\"x\": 1}\n}\n",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    home.write(".codex/config.toml", "# my settings\nmodel = \"gpt-5\" # best\n\n[analytics]\nenabled = false\n");
    home.write(".gemini/settings.json", "{\n  // mine\n  \"general\": {\"enableAutoUpdate\": false}\n}\n");

    const auto r = apply();
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read(claude()),
              "{\n  \"permissions\": {\n    \"allow\": [\"Bash(ls:*)\"]\n  },\n  \"futureKey\": {\"x\": 1},\n"
              "  \"env\": {\n"
              "    \"ANTHROPIC_BASE_URL\": \"http://127.0.0.1:4567/claudecode\",\n"
              "    \"ANTHROPIC_AUTH_TOKEN\": \"clipal-placeholder\"\n"
              "  }\n}\n");
    EXPECT_EQ(read(codex()), "# my settings\nmodel = \"gpt-5\" # best\nmodel_provider = \"clipal\"\n\n[analytics]\n"
                             "enabled = false\n\n[model_providers.clipal]\nname = \"clipal\"\n"
                             "base_url = \"http://127.0.0.1:4567/codex\"\nwire_api = \"responses\"\n");
    EXPECT_EQ(read(gemini()),
              "{\n  // mine\n  \"general\": {\"enableAutoUpdate\": false},\n"
              "  \"security\": {\n    \"auth\": {\n      \"selectedType\": \"gemini-api-key\"\n    }\n  }\n}\n");
    EXPECT_EQ(read(dotenv()),
              "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:4567/gemini\nGEMINI_API_KEY=clipal-placeholder\n");
    // Modes: kept for edited files, owner-only for new ones.
    EXPECT_EQ(mode_of(claude()), fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
    EXPECT_EQ(mode_of(dotenv()), rw);
    EXPECT_THAT(r.out, HasSubstr("claude-code: points at http://127.0.0.1:4567/claudecode now"));
    EXPECT_THAT(r.out, HasSubstr("created ~/.gemini/.env"));
}

TEST_F(Setup, ACredentialTheToolHasIsKeptAndNoPlaceholderIsAdded) {
    home.write(".claude/settings.json", R"({"env": {"ANTHROPIC_API_KEY": "sk-mine"}})");
    home.write(".gemini/.env", "GEMINI_API_KEY=AIza-mine\n");
    ASSERT_EQ(apply().code, 0);
    EXPECT_EQ(read(claude()),
              R"({"env": {"ANTHROPIC_API_KEY": "sk-mine", "ANTHROPIC_BASE_URL": "http://127.0.0.1:4567/claudecode"}})");
    EXPECT_EQ(read(dotenv()), "GEMINI_API_KEY=AIza-mine\nGOOGLE_GEMINI_BASE_URL=http://127.0.0.1:4567/gemini\n");
    home.write(".claude/settings.json", R"({"apiKeyHelper": "~/bin/key"})");
    ASSERT_EQ(apply({profile::claude_code}).code, 0);
    EXPECT_THAT(read(claude()), Not(HasSubstr("ANTHROPIC_AUTH_TOKEN")));
}

TEST_F(Setup, TheAccessTokenIsWrittenAsTheToolsCredential) {
    config.write("config.yaml", "port: 4567\naccess_token: tok-0123456789abcdef\n");
    home.write(".claude/settings.json", R"({"env": {"ANTHROPIC_AUTH_TOKEN": "old"}})");
    const auto r = apply();
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(read(claude()), HasSubstr(R"("ANTHROPIC_AUTH_TOKEN": "tok-0123456789abcdef")"));
    EXPECT_THAT(read(codex()), HasSubstr("experimental_bearer_token = \"tok-0123456789abcdef\""));
    EXPECT_THAT(read(dotenv()), HasSubstr("GEMINI_API_KEY=tok-0123456789abcdef"));
    EXPECT_THAT(r.out, Not(HasSubstr("tok-0123456789abcdef")));
    EXPECT_THAT(r.out, HasSubstr("the access_token of config.yaml"));
    ASSERT_EQ(undo().code, 0);
    EXPECT_EQ(read(claude()), R"({"env": {"ANTHROPIC_AUTH_TOKEN": "old"}})");
}

TEST_F(Setup, RunningTwiceChangesNothingTheSecondTime) {
    home.write(".codex/config.toml", "model = \"x\"\n");
    ASSERT_EQ(apply().code, 0);
    const auto files = snapshot(home.path());
    const auto records = snapshot(config.path());
    const auto again = apply();
    ASSERT_EQ(again.code, 0) << again.err;
    EXPECT_THAT(again.out, HasSubstr("claude-code: already points at clipal"));
    EXPECT_THAT(again.out, HasSubstr("codex: already points at clipal"));
    EXPECT_THAT(again.out, HasSubstr("gemini: already points at clipal"));
    EXPECT_EQ(snapshot(home.path()), files);
    EXPECT_EQ(snapshot(config.path()), records);
}

TEST_F(Setup, AFileThatDoesNotParseIsRefusedAndNothingIsChanged) {
    home.write(".claude/settings.json", "{\"a\": 1}\n");
    home.write(".codex/config.toml", "model = \"x\"\n[broken\n");
    const auto before = snapshot(home.path());
    const auto r = apply();
    EXPECT_EQ(r.code, clipal::app::exit_setup_failed);
    EXPECT_THAT(r.err, HasSubstr("codex: ~/.codex/config.toml: line 2"));
    EXPECT_THAT(r.err, HasSubstr("nothing was changed"));
    EXPECT_EQ(snapshot(home.path()), before);
    EXPECT_FALSE(fs::exists(config.path() / "setup-backup"));

    home.write(".codex/config.toml", "model = \"x\"\n");
    home.write(".gemini/settings.json", "{\"security\": {\"auth\": {\"selectedType\": \"a\",}}}");
    const auto g = apply({profile::gemini});
    EXPECT_EQ(g.code, clipal::app::exit_setup_failed);
    EXPECT_THAT(g.err, HasSubstr("~/.gemini/settings.json: line 1, column"));
    EXPECT_FALSE(fs::exists(dotenv()));
}

TEST_F(Setup, AValueOfAnotherTypeIsRefused) {
    home.write(".claude/settings.json", R"({"env": {"ANTHROPIC_BASE_URL": 3}})");
    const auto r = apply({profile::claude_code});
    EXPECT_EQ(r.code, clipal::app::exit_setup_failed);
    EXPECT_THAT(r.err, HasSubstr("env.ANTHROPIC_BASE_URL is not a string"));
    home.write(".claude/settings.json", R"({"env": "x"})");
    EXPECT_THAT(apply({profile::claude_code}).err, HasSubstr("env is not an object"));
}

TEST_F(Setup, AMissingHomeDirectoryIsAClearError) {
    auto o = options(setup_action::apply);
    o.env.home = home.path() / "nobody";
    auto r = run(o);
    EXPECT_EQ(r.code, clipal::app::exit_setup_failed);
    EXPECT_THAT(r.err, HasSubstr("the home directory " + (home.path() / "nobody").string() + " does not exist"));
    o.env.home.clear();
    r = run(o);
    EXPECT_EQ(r.code, clipal::app::exit_setup_failed);
    EXPECT_THAT(r.err, HasSubstr("HOME is not set"));
    EXPECT_FALSE(fs::exists(config.path() / "setup-backup"));
    // A tool whose own variable names its directory needs no home.
    o.tools = {profile::codex};
    o.env.codex_home = home.path() / "codex-home";
    EXPECT_THAT(run(o).err, HasSubstr("CODEX_HOME=" + (home.path() / "codex-home").string() + " does not exist"));
    fs::create_directory(home.path() / "codex-home");
    EXPECT_EQ(run(o).code, 0);
    EXPECT_TRUE(fs::exists(home.path() / "codex-home" / "config.toml"));
}

TEST_F(Setup, UndoRestoresByteIdenticalFilesAndDeletesWhatItCreated) {
    home.write(".claude/settings.json", "{\r\n  \"theme\": \"dark\"\r\n}",
               fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    home.write(".codex/config.toml", "# only a comment\n");
    const auto before = snapshot(home.path());
    ASSERT_EQ(apply().code, 0);
    ASSERT_TRUE(fs::exists(dotenv()));
    const auto r = undo();
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(snapshot(home.path()), before);
    EXPECT_FALSE(fs::exists(home.path() / ".gemini")) << "the directory clipal setup created is gone too";
    EXPECT_FALSE(fs::exists(config.path() / "setup-backup"));
    EXPECT_THAT(r.out, HasSubstr("claude-code: restored ~/.claude/settings.json"));
    EXPECT_THAT(r.out, HasSubstr("removed ~/.gemini/.env (clipal setup had created it)"));
    // Once more: nothing left to undo.
    EXPECT_THAT(undo().out, HasSubstr("claude-code: nothing to undo"));
}

TEST_F(Setup, UndoOfOneToolLeavesTheOthers) {
    ASSERT_EQ(apply().code, 0);
    ASSERT_EQ(undo({profile::codex}).code, 0);
    EXPECT_FALSE(fs::exists(codex()));
    EXPECT_TRUE(fs::exists(claude()));
    EXPECT_TRUE(fs::exists(config.path() / "setup-backup" / "claude-code.json"));
    EXPECT_FALSE(fs::exists(config.path() / "setup-backup" / "codex.json"));
}

TEST_F(Setup, AfterAPortChangeUndoStillGoesBackToTheOriginal) {
    home.write(".codex/config.toml", "model_provider = \"openai\"\n");
    ASSERT_EQ(apply().code, 0);
    config.write("config.yaml", "port: 5678\n");
    ASSERT_EQ(apply().code, 0);
    EXPECT_THAT(read(codex()), HasSubstr("http://127.0.0.1:5678/codex"));
    ASSERT_EQ(undo().code, 0);
    EXPECT_EQ(read(codex()), "model_provider = \"openai\"\n");
    EXPECT_FALSE(fs::exists(claude()));
}

TEST_F(Setup, UndoAfterTheToolChangedTheFileTakesOutOnlyClipalsKeys) {
    home.write(".claude/settings.json", "{\n  \"theme\": \"dark\"\n}\n");
    home.write(".codex/config.toml", "model_provider = \"openai\"\n");
    ASSERT_EQ(apply().code, 0);
    // The tools (or the user) write to their files meanwhile.
    auto claude_text = read(claude());
    claude_text.replace(claude_text.find("\"dark\""), 6, "\"light\"");
    home.write(".claude/settings.json", claude_text);
    home.write(".codex/config.toml", read(codex()) + "\n[projects.\"/w\"]\ntrust_level = \"trusted\"\n");
    home.write(".gemini/.env", read(dotenv()) + "MINE=1\n");
    const auto r = undo();
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read(claude()), "{\n  \"theme\": \"light\"\n}\n");
    EXPECT_EQ(read(codex()), "model_provider = \"openai\"\n\n[projects.\"/w\"]\ntrust_level = \"trusted\"\n");
    EXPECT_EQ(read(dotenv()), "MINE=1\n");
    EXPECT_FALSE(fs::exists(gemini())) << "untouched since setup created it";
    EXPECT_THAT(r.out, HasSubstr("it was changed after clipal setup; the rest is kept"));
}

TEST_F(Setup, UndoLeavesAValueTheUserChangedSinceSetup) {
    ASSERT_EQ(apply({profile::claude_code}).code, 0);
    auto text = read(claude());
    text.replace(text.find("http://127.0.0.1:4567/claudecode"), 32, "https://mine.example");
    home.write(".claude/settings.json", text);
    const auto r = undo({profile::claude_code});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read(claude()), "{\n  \"env\": {\n    \"ANTHROPIC_BASE_URL\": \"https://mine.example\"\n  }\n}\n");
    EXPECT_THAT(r.out, HasSubstr("left env.ANTHROPIC_BASE_URL as it is"));
}

TEST_F(Setup, UndoRefusesAFileThatNoLongerParses) {
    ASSERT_EQ(apply({profile::claude_code}).code, 0);
    home.write(".claude/settings.json", "{ broken");
    const auto r = undo({profile::claude_code});
    EXPECT_EQ(r.code, clipal::app::exit_setup_failed);
    EXPECT_THAT(r.err, HasSubstr("~/.claude/settings.json: line 1"));
    EXPECT_EQ(read(claude()), "{ broken");
    EXPECT_TRUE(fs::exists(config.path() / "setup-backup" / "claude-code.json"));
}

TEST_F(Setup, DryRunPrintsTheDiffAndChangesNothing) {
    home.write(".claude/settings.json", "{\n  \"env\": {\"ANTHROPIC_AUTH_TOKEN\": \"sk-secret\"}\n}\n");
    const auto before = snapshot(home.path());
    auto o = options(setup_action::apply);
    o.dry_run = true;
    const auto r = run(o);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(snapshot(home.path()), before);
    EXPECT_FALSE(fs::exists(config.path() / "setup-backup"));
    EXPECT_THAT(r.out,
                HasSubstr("--- " + claude().string() + "\n+++ " + claude().string() + " (after clipal setup)\n"));
    EXPECT_THAT(r.out, HasSubstr("+  \"env\": {\"ANTHROPIC_AUTH_TOKEN\": \"****\", \"ANTHROPIC_BASE_URL\": "
                                 "\"http://127.0.0.1:4567/claudecode\"}\n"));
    EXPECT_THAT(r.out, Not(HasSubstr("sk-secret")));
    EXPECT_THAT(r.out, HasSubstr("--- /dev/null\n+++ " + dotenv().string()));
    EXPECT_THAT(r.out, HasSubstr("+GEMINI_API_KEY=clipal-placeholder\n"));
    EXPECT_THAT(r.out, HasSubstr("dry run: nothing was changed"));

    ASSERT_EQ(apply().code, 0);
    const auto applied = snapshot(home.path());
    const auto records = snapshot(config.path());
    auto u = options(setup_action::undo);
    u.dry_run = true;
    const auto ur = run(u);
    ASSERT_EQ(ur.code, 0) << ur.err;
    EXPECT_EQ(snapshot(home.path()), applied);
    EXPECT_EQ(snapshot(config.path()), records);
    EXPECT_THAT(ur.out, HasSubstr("+++ /dev/null"));
    EXPECT_THAT(ur.out,
                HasSubstr("-  \"env\": {\"ANTHROPIC_AUTH_TOKEN\": \"****\", \"ANTHROPIC_BASE_URL\": "
                          "\"http://127.0.0.1:4567/claudecode\"}\n+  \"env\": {\"ANTHROPIC_AUTH_TOKEN\": \"****\"}\n"));
}

TEST_F(Setup, StatusInEachState) {
    auto r = status();
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("clipal listens at http://127.0.0.1:4567"));
    EXPECT_THAT(r.out, HasSubstr("claude-code  not configured: Claude Code talks to Anthropic"));
    EXPECT_THAT(r.out, HasSubstr("codex        not configured: Codex talks to OpenAI"));
    EXPECT_THAT(r.out, HasSubstr("gemini       not configured: Gemini CLI talks to Google"));

    ASSERT_EQ(apply().code, 0);
    r = status();
    EXPECT_THAT(r.out, HasSubstr("claude-code  points at clipal: http://127.0.0.1:4567/claudecode "
                                 "(env.ANTHROPIC_BASE_URL in ~/.claude/settings.json)"));
    EXPECT_THAT(r.out, HasSubstr("codex        points at clipal: http://127.0.0.1:4567/codex"));
    EXPECT_THAT(r.out, HasSubstr("gemini       points at clipal: http://127.0.0.1:4567/gemini"));
    EXPECT_THAT(r.out, HasSubstr("`clipal setup --undo codex` puts it back"));

    // Elsewhere: another address, another provider, the environment winning over .env.
    config.write("config.yaml", "port: 4568\n");
    home.write(".codex/config.toml", "model_provider = \"ollama\"\n");
    auto o = options(setup_action::status);
    o.env.gemini_base_url = "https://proxy.example";
    r = run(o);
    EXPECT_THAT(r.out, HasSubstr("claude-code  points elsewhere: http://127.0.0.1:4567/claudecode"));
    EXPECT_THAT(r.out, HasSubstr("codex        points elsewhere: Codex's built-in provider \"ollama\""));
    EXPECT_THAT(r.out, HasSubstr("gemini       points elsewhere: https://proxy.example (GOOGLE_GEMINI_BASE_URL in "
                                 "this environment)"));

    // Half set up, and a file that cannot be read.
    config.write("config.yaml", "port: 4567\n");
    home.write(".gemini/settings.json", R"({"security": {"auth": {"selectedType": "oauth-personal"}}})");
    home.write(".claude/settings.json", "{");
    r = status();
    EXPECT_THAT(r.out, HasSubstr("gemini       half set up: GOOGLE_GEMINI_BASE_URL in ~/.gemini/.env names clipal, "
                                 "but security.auth.selectedType in ~/.gemini/settings.json is \"oauth-personal\""));
    EXPECT_THAT(r.out, HasSubstr("claude-code  cannot tell: ~/.claude/settings.json: line 1"));
}

TEST_F(Setup, ListenAddressesAsTheToolsReachThem) {
    const auto url = [&](const std::string& yaml, std::optional<std::string> override_addr = {}) {
        config.write("config.yaml", yaml);
        auto o = options(setup_action::status);
        if (override_addr) o.overrides.listen_addr = override_addr;
        const auto r = run(o);
        return r.out.substr(0, r.out.find('\n'));
    };
    EXPECT_THAT(url("listen_addr: 0.0.0.0\n"), HasSubstr("http://127.0.0.1:3333 "));
    EXPECT_THAT(url("listen_addr: \"::\"\nport: 9\n"), HasSubstr("http://127.0.0.1:9 "));
    EXPECT_THAT(url("listen_addr: \"::1\"\n"), HasSubstr("http://[::1]:3333 "));
    EXPECT_THAT(url("port: 9\n", "192.168.1.2"), HasSubstr("http://192.168.1.2:9 "));
    auto o = options(setup_action::apply, {profile::gemini});
    o.overrides.port = 0;
    EXPECT_EQ(run(o).code, clipal::exit_usage);
}

TEST_F(Setup, ABrokenConfigYamlStopsSetupButNotUndo) {
    ASSERT_EQ(apply({profile::codex}).code, 0);
    config.write("config.yaml", "port: [\n");
    const auto r = apply();
    EXPECT_EQ(r.code, clipal::exit_config);
    EXPECT_THAT(r.err, HasSubstr("config.yaml"));
    EXPECT_EQ(undo().code, 0);
    EXPECT_FALSE(fs::exists(codex()));
}

TEST_F(Setup, ASymlinkedSettingsFileStaysALink) {
    home.write("dotfiles/claude.json", "{}\n");
    fs::create_directories(home.path() / ".claude");
    fs::create_symlink(home.path() / "dotfiles" / "claude.json", claude());
    ASSERT_EQ(apply({profile::claude_code}).code, 0);
    EXPECT_TRUE(fs::is_symlink(claude()));
    EXPECT_THAT(read(home.path() / "dotfiles" / "claude.json"), HasSubstr("ANTHROPIC_BASE_URL"));
    ASSERT_EQ(undo({profile::claude_code}).code, 0);
    EXPECT_TRUE(fs::is_symlink(claude()));
    EXPECT_EQ(read(home.path() / "dotfiles" / "claude.json"), "{}\n");
}

TEST_F(Setup, RunAsRootAnEditedFileKeepsItsOwner) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
    home.write(".codex/config.toml", "model = \"x\"\n");
    ASSERT_EQ(::chown(codex().c_str(), 4321, 4321), 0);
    ASSERT_EQ(apply({profile::codex}).code, 0);
    struct stat st {};
    ASSERT_EQ(::stat(codex().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 4321u);
    EXPECT_EQ(st.st_gid, 4321u);
    ASSERT_EQ(undo({profile::codex}).code, 0);
    ASSERT_EQ(::stat(codex().c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 4321u);
}

TEST_F(Setup, NotesForSettingsThatWouldStillLeadElsewhere) {
    home.write(".claude/settings.json", R"({"env": {"CLAUDE_CODE_USE_BEDROCK": "1"}})");
    home.write(".codex/config.toml", "profile = \"work\"\n[profiles.work]\nmodel_provider = \"azure\"\n");
    home.write(".gemini/settings.json", R"({"security": {"auth": {"selectedType": "oauth-personal"}}})");
    home.write(".env", "GEMINI_API_KEY=x\n");
    config.write("claude-code.yaml", "providers:\n  - {name: anthropic, base_url: https://api.anthropic.com, "
                                     "api_key: sk-ant-0000000000000000}\n");
    const auto r = apply();
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("Claude Code then talks to Amazon Bedrock"));
    EXPECT_THAT(r.out, HasSubstr("profile \"work\" selects model_provider \"azure\""));
    EXPECT_THAT(r.out, HasSubstr("signed in with \"oauth-personal\" before"));
    EXPECT_THAT(r.out, HasSubstr("~/.gemini/.env now comes before ~/.env"));
    EXPECT_THAT(r.out, HasSubstr("give provider \"anthropic\" in claude-code.yaml `auth_header: x-api-key`"));
    EXPECT_THAT(status().out, HasSubstr("claude-code  points elsewhere: Amazon Bedrock"));
}

} // namespace
