// `clipal update` end to end: the real binary, copied into a temp dir (the build's own
// clipal is never touched), against the in-process TLS release server, trusting the test
// CA through SSL_CERT_FILE.
#include "integration/supervisor_fixture.hpp"
#include "support/binaries.hpp"
#include "support/child_process.hpp"
#include "support/fake_upstream_process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "unit/update/fake_release_server.hpp"

#include <boost/json.hpp>
#include <openssl/evp.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

using namespace std::chrono_literals;
using clipal::test::child_process;
using clipal::test::fake_release_server;
using clipal::test::fake_response;
using clipal::test::spawn_options;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string sha256_hex(std::string_view data) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
    std::string hex;
    char byte[3];
    for (unsigned int i = 0; i < len; ++i) {
        std::snprintf(byte, sizeof byte, "%02x", md[i]);
        hex += byte;
    }
    return hex;
}

class UpdateBinary : public ::testing::Test {
protected:
    UpdateBinary() : pki_(clipal::test::make_test_pki(dir_.path() / "pki")), server_(pki_) {
        fs::create_directories(bin_);
        fs::copy_file(clipal::test::clipal_binary(), exe_);
        original_ = read_file(exe_);
        fs::create_directories(dir_.path() / "config");
    }

    // A release `tag` whose asset is a script answering --version with `version`.
    void publish(const std::string& tag, const std::string& version) {
        publish_asset(tag, "#!/bin/sh\necho clipal " + version + "\n");
    }

    void publish_asset(const std::string& tag, const std::string& asset) {
        asset_ = asset;
        const std::string name = "clipal-linux-" + arch();
        const boost::json::object doc{
            {"tag_name", tag},
            {"prerelease", false},
            {"assets",
             boost::json::array{boost::json::object{{"name", name}, {"browser_download_url", server_.url("/asset")}},
                                boost::json::object{{"name", "checksums.txt"},
                                                    {"browser_download_url", server_.url("/sums")}}}}};
        server_.set("/latest", fake_response{200, boost::json::serialize(doc)});
        server_.set("/asset", fake_response{200, asset_});
        server_.set("/sums", fake_response{200, sha256_hex(asset_) + "  " + name + "\n"});
    }

    static std::string arch() {
#if defined(__aarch64__)
        return "arm64";
#else
        return "amd64";
#endif
    }

    // Runs the copy: `clipal update <args> --config-dir <temp>`.
    int run(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
        spawn_options o;
        o.args = {"update"};
        o.args.insert(o.args.end(), args.begin(), args.end());
        o.args.insert(o.args.end(), {"--config-dir", config_dir_.string()});
        o.env = std::move(env);
        o.env.emplace_back("SSL_CERT_FILE", pki_.ca_cert.string());
        o.unset_env = {"CLIPAL_UPDATE_ENDPOINT", "SSL_CERT_DIR"};
        child_process c(exe_, o);
        const auto st = c.wait_exit(60s);
        out_ = c.stdout_text();
        err_ = c.stderr_text();
        EXPECT_FALSE(c.has_sanitizer_report()) << err_;
        return st && !st->signaled ? st->value : -1;
    }

    std::string current_version() {
        child_process c(exe_, spawn_options{{"--version"}});
        c.wait_exit(10s);
        auto v = c.stdout_text();
        v = v.substr(v.find(' ') + 1);
        return v.substr(0, v.find('\n'));
    }

    std::vector<std::string> bin_entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(bin_)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    clipal::test::temp_dir dir_;
    clipal::test::test_pki pki_;
    fake_release_server server_;
    fs::path bin_ = dir_.path() / "bin";
    fs::path exe_ = bin_ / "clipal";
    fs::path config_dir_ = dir_.path() / "config";
    std::string original_;
    std::string asset_;
    std::string out_;
    std::string err_;
};

} // namespace

TEST_F(UpdateBinary, ReplacesItselfAndKeepsTheOldBinary) {
    publish("v9.9.9", "9.9.9");
    ASSERT_EQ(run({"--endpoint", server_.url("/latest")}), 0) << out_ << err_;
    EXPECT_EQ(read_file(exe_), asset_);
    EXPECT_TRUE(read_file(exe_.string() + ".old") == original_) << "the previous binary was not kept intact";
    EXPECT_EQ(bin_entries(), (std::vector<std::string>{"clipal", "clipal.old"}));
    EXPECT_THAT(out_, HasSubstr("installed clipal v9.9.9"));
}

TEST_F(UpdateBinary, CheckExitCodesAndTheEnvironmentEndpoint) {
    publish("v9.9.9", "9.9.9");
    EXPECT_EQ(run({"--check"}, {{"CLIPAL_UPDATE_ENDPOINT", server_.url("/latest")}}), 10) << err_;
    EXPECT_THAT(out_, HasSubstr("clipal v9.9.9 is available"));
    publish("v" + current_version(), current_version());
    EXPECT_EQ(run({"--check", "--endpoint", server_.url("/latest")}), 0) << err_;
    EXPECT_THAT(out_, HasSubstr("is up to date"));
    EXPECT_EQ(run({"--check", "--endpoint", server_.url("/missing")}), 1);
    EXPECT_THAT(err_, HasSubstr("HTTP 404"));
    EXPECT_TRUE(read_file(exe_) == original_);
    EXPECT_EQ(bin_entries(), std::vector<std::string>{"clipal"});
}

TEST_F(UpdateBinary, DryRunChangesNothing) {
    publish("v9.9.9", "9.9.9");
    EXPECT_EQ(run({"--dry-run", "--endpoint", server_.url("/latest")}), 0) << err_;
    EXPECT_THAT(out_, HasSubstr("nothing was changed"));
    EXPECT_TRUE(read_file(exe_) == original_);
    EXPECT_EQ(bin_entries(), std::vector<std::string>{"clipal"});
}

TEST_F(UpdateBinary, ChecksumMismatchKeepsTheBinaryAndSaysWhy) {
    publish("v9.9.9", "9.9.9");
    server_.set("/sums", fake_response{200, std::string(64, 'f') + "  clipal-linux-" + arch() + "\n"});
    EXPECT_EQ(run({"--endpoint", server_.url("/latest")}), 1);
    EXPECT_THAT(err_, HasSubstr("checksum mismatch"));
    EXPECT_THAT(err_, HasSubstr("the current binary was not changed"));
    EXPECT_TRUE(read_file(exe_) == original_);
    EXPECT_EQ(bin_entries(), std::vector<std::string>{"clipal"});
}

// The whole path: `clipal update` installs a release while a supervisor started from the
// same file serves, and the supervisor switches to it in place. The release is a wrapper
// that reports 9.9.9 and otherwise runs the build's clipal, so the new image is real.
TEST_F(UpdateBinary, RunningSupervisorSwitchesToTheInstalledReleaseInPlace) {
    clipal::test::fake_upstream_process up(clipal::test::fake_upstream_options{{{"cc"}}});
    clipal::test::supervisor_fixture s;
    config_dir_ = s.dir().path();
    s.write("claude-code.yaml", clipal::test::provider_yaml({{"cc", up.base_url("cc")}}));
    s.start(1, {}, exe_);
    const int pid = s.process().pid();
    const auto old_worker = s.worker_pid("claude-code");
    ASSERT_TRUE(old_worker);

    publish_asset("v9.9.9", "#!/bin/sh\nif [ \"$1\" = --version ]; then echo clipal 9.9.9; exit 0; fi\nexec '" +
                                clipal::test::clipal_binary().string() + "' \"$@\"\n");
    ASSERT_EQ(run({"--endpoint", server_.url("/latest")}), 0) << out_ << err_;
    EXPECT_THAT(out_, HasSubstr("re-executing into the new binary"));
    EXPECT_THAT(out_, HasSubstr("is serving")) << out_ << err_;

    EXPECT_TRUE(s.wait_worker_ready("claude-code", old_worker, 10s));
    EXPECT_EQ(s.process().pid(), pid);
    std::error_code ec;
    EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec), clipal::test::clipal_binary());
    clipal::test::http_probe p("127.0.0.1", s.port(), 2s);
    EXPECT_EQ(p.request("POST", "/claudecode/v1/messages", {{"content-type", "application/json"}}, "{}").status, 200);
}
