// The whole `clipal update` sequence in-process, against the fake TLS release server and
// a stand-in executable in a temp dir (never the build's clipal): what gets replaced, what
// is left untouched on each failure, and what the user is told.
#include "app/release_manifest.hpp"
#include "app/update_command.hpp"
#include "clipal/version.hpp"
#include "supervisor/control_server.hpp"
#include "supervisor/control_socket_path.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"
#include "unit/update/fake_release_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <openssl/evp.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

using namespace std::chrono_literals;
using clipal::test::fake_release_server;
using clipal::test::fake_response;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

namespace {

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

std::string read_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string script(std::string_view version) { return "#!/bin/sh\necho clipal " + std::string(version) + "\n"; }

struct release {
    std::string tag = "v9.9.9";
    bool prerelease = false;
    std::string asset = script("9.9.9");
    std::optional<std::string> checksums{}; // default: the right line for the asset
    bool with_checksums = true;
    bool with_size = true;
    std::string asset_name = *clipal::app::this_platform_asset();
};

class UpdateCommand : public ::testing::Test {
protected:
    UpdateCommand() : pki_(clipal::test::make_test_pki(dir_.path() / "pki")), server_(pki_) {
        ::setenv("SSL_CERT_FILE", pki_.ca_cert.c_str(), 1);
        fs::create_directories(bin_);
        old_binary_ = script(clipal::version);
        dir_.write("bin/clipal", old_binary_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
        fs::create_directories(config_dir_);
    }

    // Serves `r` at /latest, the asset at /dl/asset and checksums at /dl/checksums.txt.
    void publish(const release& r) {
        boost::json::array assets;
        boost::json::object a{{"name", r.asset_name}, {"browser_download_url", server_.url("/dl/asset")}};
        if (r.with_size) a["size"] = r.asset.size();
        assets.push_back(a);
        if (r.with_checksums)
            assets.push_back({{"name", "checksums.txt"}, {"browser_download_url", server_.url("/dl/checksums.txt")}});
        const boost::json::object doc{{"tag_name", r.tag}, {"prerelease", r.prerelease}, {"assets", assets}};
        server_.set("/latest", fake_response{200, boost::json::serialize(doc)});
        server_.set("/dl/asset", fake_response{200, r.asset});
        server_.set("/dl/checksums.txt",
                    fake_response{200, r.checksums.value_or(std::string(64, '0') + "  clipal-other\n" +
                                                            sha256_hex(r.asset) + "  " + r.asset_name + "\n")});
    }

    clipal::app::update_options options() {
        clipal::app::update_options o;
        o.endpoint = server_.url("/latest");
        o.executable = exe_;
        o.config_dir = config_dir_;
        o.limits.io_timeout = 5s;
        return o;
    }

    int run(const clipal::app::update_options& o) {
        out_.str("");
        err_.str("");
        return clipal::app::run_update(o, out_, err_);
    }
    int run() { return run(options()); }

    // The names in bin/, sorted: shows leftovers (temporary files, .old).
    std::vector<std::string> bin_entries() const {
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(bin_)) names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        return names;
    }

    bool asset_requested() const {
        const auto r = server_.requests();
        return std::find(r.begin(), r.end(), "/dl/asset") != r.end();
    }

    void expect_untouched() const {
        EXPECT_EQ(read_file(exe_), old_binary_);
        EXPECT_EQ(bin_entries(), std::vector<std::string>{"clipal"});
    }

    clipal::test::temp_dir dir_;
    clipal::test::test_pki pki_;
    fake_release_server server_;
    fs::path bin_ = dir_.path() / "bin";
    fs::path exe_ = bin_ / "clipal";
    fs::path config_dir_ = dir_.path() / "config";
    std::string old_binary_;
    std::ostringstream out_;
    std::ostringstream err_;
};

} // namespace

TEST_F(UpdateCommand, InstallsAVerifiedNewerReleaseAndKeepsTheOldBinary) {
    release r;
    publish(r);
    ASSERT_EQ(run(), 0) << err_.str();
    EXPECT_EQ(read_file(exe_), r.asset);
    EXPECT_EQ(read_file(exe_.string() + ".old"), old_binary_);
    EXPECT_EQ(bin_entries(), (std::vector<std::string>{"clipal", "clipal.old"}));
    // The new file takes the old one's permissions (group r-x here), and stays executable.
    struct stat st {};
    ASSERT_EQ(::stat(exe_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0750u);
    EXPECT_THAT(out_.str(), HasSubstr("verified SHA-256 " + sha256_hex(r.asset)));
    EXPECT_THAT(out_.str(), HasSubstr("the new binary reports \"clipal 9.9.9\""));
    EXPECT_THAT(out_.str(), HasSubstr("installed clipal v9.9.9 at " + exe_.string()));
    EXPECT_THAT(out_.str(), HasSubstr("no clipal is running for " + config_dir_.string()));
    EXPECT_EQ(err_.str(), "");
}

TEST_F(UpdateCommand, CheckExitsTenWhenANewerReleaseExists) {
    publish(release{});
    auto o = options();
    o.check = true;
    EXPECT_EQ(run(o), clipal::app::exit_update_available);
    EXPECT_THAT(out_.str(), HasSubstr("clipal v9.9.9 is available"));
    EXPECT_FALSE(asset_requested());
    expect_untouched();
}

TEST_F(UpdateCommand, CheckExitsZeroWhenUpToDate) {
    release r;
    r.tag = std::string("v") + clipal::version;
    publish(r);
    auto o = options();
    o.check = true;
    EXPECT_EQ(run(o), 0);
    EXPECT_THAT(out_.str(), HasSubstr("is up to date"));
    expect_untouched();
}

TEST_F(UpdateCommand, CheckExitsOneOnErrors) {
    auto o = options();
    o.check = true;
    EXPECT_EQ(run(o), 1);
    EXPECT_THAT(err_.str(), HasSubstr("cannot fetch the release description: HTTP 404 Not Found"));
    expect_untouched();
}

TEST_F(UpdateCommand, DryRunLooksUpEverythingButChangesNothing) {
    publish(release{});
    auto o = options();
    o.dry_run = true;
    EXPECT_EQ(run(o), 0) << err_.str();
    EXPECT_THAT(out_.str(), HasSubstr("dry run: would download " + server_.url("/dl/asset")));
    EXPECT_THAT(out_.str(), HasSubstr("nothing was changed"));
    EXPECT_FALSE(asset_requested());
    expect_untouched();
}

TEST_F(UpdateCommand, ChecksumMismatchLeavesTheBinaryUntouchedAndSaysWhy) {
    release r;
    const std::string wrong(64, 'e');
    r.checksums = wrong + "  " + r.asset_name + "\n";
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("checksum mismatch for " + r.asset_name + ": checksums.txt says " + wrong +
                                      ", the download is " + sha256_hex(r.asset)));
    EXPECT_THAT(err_.str(), HasSubstr("the current binary was not changed"));
    expect_untouched();
}

TEST_F(UpdateCommand, InterruptedDownloadLeavesNoPartialFile) {
    release r;
    r.asset += std::string(200000, '#'); // big enough to arrive in several reads
    publish(r);
    server_.set("/dl/asset", fake_response{200, r.asset, std::nullopt, 70000});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(),
                HasSubstr("download failed: the server closed the connection after 70000 body bytes of the " +
                          std::to_string(r.asset.size()) + " announced"));
    expect_untouched();
}

TEST_F(UpdateCommand, AbruptlyResetDownloadLeavesNoPartialFile) {
    release r;
    r.asset += std::string(200000, '#');
    publish(r);
    server_.set("/dl/asset", fake_response{200, r.asset, std::nullopt, 70000, true});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("download failed"));
    expect_untouched();
}

TEST_F(UpdateCommand, ShortContentLengthIsCaughtBySize) {
    release r;
    publish(r);
    server_.set("/dl/asset", fake_response{200, r.asset, r.asset.size() - 5});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("downloaded " + std::to_string(r.asset.size() - 5) + " bytes of " + r.asset_name +
                                      " but the release lists " + std::to_string(r.asset.size())));
    expect_untouched();
}

TEST_F(UpdateCommand, ShortContentLengthWithoutSizeIsCaughtByChecksum) {
    release r;
    r.with_size = false;
    publish(r);
    server_.set("/dl/asset", fake_response{200, r.asset, r.asset.size() - 5});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("checksum mismatch"));
    expect_untouched();
}

TEST_F(UpdateCommand, LongContentLengthIsAnIncompleteDownload) {
    release r;
    publish(r);
    server_.set("/dl/asset", fake_response{200, r.asset, r.asset.size() + 100});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("the server closed the connection after " + std::to_string(r.asset.size())));
    expect_untouched();
}

TEST_F(UpdateCommand, MissingAssetForThisPlatformIsNamed) {
    release r;
    r.asset_name = "clipal-plan9-mips";
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(),
                HasSubstr("release v9.9.9 has no asset for this platform (" + *clipal::app::this_platform_asset() +
                          "); its assets: clipal-plan9-mips, checksums.txt"));
    expect_untouched();
}

TEST_F(UpdateCommand, ReleaseWithoutChecksumsIsRefused) {
    release r;
    r.with_checksums = false;
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("has no checksums.txt, so its download cannot be verified"));
    EXPECT_FALSE(asset_requested());
    expect_untouched();
}

TEST_F(UpdateCommand, ChecksumsWithoutALineForTheAssetAreRefused) {
    release r;
    r.checksums = std::string(64, 'a') + "  clipal-other\n";
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("has no SHA-256 line for " + r.asset_name));
    expect_untouched();
}

TEST_F(UpdateCommand, HttpErrorsOnTheAssetAreReported) {
    publish(release{});
    server_.set("/dl/asset", fake_response{500, "upstream exploded"});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("download failed: HTTP 500 Internal Server Error from " +
                                      server_.url("/dl/asset") + ": upstream exploded"));
    expect_untouched();
}

TEST_F(UpdateCommand, HttpErrorsOnTheChecksumsAreReported) {
    publish(release{});
    server_.set("/dl/checksums.txt", fake_response{403, R"({"message":"Bad credentials"})"});
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("cannot fetch checksums.txt: HTTP 403 Forbidden"));
    EXPECT_THAT(err_.str(), HasSubstr("Bad credentials"));
    expect_untouched();
}

TEST_F(UpdateCommand, ABinaryThatReportsAnotherVersionIsNotInstalled) {
    release r;
    r.asset = script("1.0.0");
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("the downloaded binary reports \"clipal 1.0.0\", not version 9.9.9"));
    expect_untouched();
}

TEST_F(UpdateCommand, ABinaryThatCannotRunIsNotInstalled) {
    release r;
    r.asset = "\x7f"
              "ELF this is not a program";
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("the downloaded binary failed `--version`"));
    expect_untouched();
}

TEST_F(UpdateCommand, OlderReleaseIsNotADowngradeWithoutForce) {
    release r;
    r.tag = "v0.0.1";
    r.asset = script("0.0.1");
    publish(r);
    EXPECT_EQ(run(), 0);
    EXPECT_THAT(out_.str(), HasSubstr("is older than this clipal"));
    EXPECT_FALSE(asset_requested());
    expect_untouched();
}

TEST_F(UpdateCommand, ForceDowngradesAndSaysSoLoudly) {
    release r;
    r.tag = "v0.0.1";
    r.asset = script("0.0.1");
    publish(r);
    auto o = options();
    o.force = true;
    EXPECT_EQ(run(o), 0) << err_.str();
    EXPECT_THAT(err_.str(), HasSubstr("WARNING: --force: DOWNGRADING to v0.0.1"));
    EXPECT_EQ(read_file(exe_), r.asset);
}

TEST_F(UpdateCommand, ForceReinstallsTheSameVersion) {
    release r;
    r.tag = std::string("v") + clipal::version;
    r.asset = script(clipal::version) + "# rebuilt\n";
    publish(r);
    auto o = options();
    o.force = true;
    EXPECT_EQ(run(o), 0) << err_.str();
    EXPECT_THAT(err_.str(), HasSubstr("WARNING: --force: REINSTALLING"));
    EXPECT_EQ(read_file(exe_), r.asset);
}

TEST_F(UpdateCommand, PreReleaseIsOnlyInstalledWithForce) {
    release r;
    r.tag = "v9.9.9-rc.1";
    r.prerelease = true;
    r.asset = script("9.9.9-rc.1");
    publish(r);
    auto o = options();
    o.check = true;
    EXPECT_EQ(run(o), 0);
    EXPECT_THAT(out_.str(), HasSubstr("is a pre-release"));
    EXPECT_EQ(run(), 0);
    expect_untouched();
    o.check = false;
    o.force = true;
    EXPECT_EQ(run(o), 0) << err_.str();
    EXPECT_THAT(err_.str(), HasSubstr("WARNING: --force: installing the PRE-RELEASE v9.9.9-rc.1"));
    EXPECT_EQ(read_file(exe_), r.asset);
}

TEST_F(UpdateCommand, MalformedTagIsAnError) {
    release r;
    r.tag = "latest";
    publish(r);
    EXPECT_EQ(run(), 1);
    EXPECT_THAT(err_.str(), HasSubstr("the release tag \"latest\" is not a version"));
    expect_untouched();
}

TEST_F(UpdateCommand, UnwritableDirectoryIsReportedBeforeDownloading) {
    if (::geteuid() == 0) GTEST_SKIP() << "root can write anywhere";
    publish(release{});
    fs::permissions(bin_, fs::perms::owner_read | fs::perms::owner_exec);
    EXPECT_EQ(run(), 1);
    fs::permissions(bin_, fs::perms::owner_all);
    EXPECT_THAT(err_.str(), HasSubstr("cannot create a temporary file in " + bin_.string()));
    EXPECT_FALSE(asset_requested());
    expect_untouched();
}

TEST_F(UpdateCommand, EndpointComesFromFlagThenEnvironmentThenDefault) {
    ::unsetenv(clipal::app::update_endpoint_env);
    EXPECT_EQ(clipal::app::update_endpoint(std::nullopt), clipal::app::default_update_endpoint);
    ::setenv(clipal::app::update_endpoint_env, "https://example.test/env", 1);
    EXPECT_EQ(clipal::app::update_endpoint(std::nullopt), "https://example.test/env");
    EXPECT_EQ(clipal::app::update_endpoint(std::string("https://example.test/flag")), "https://example.test/flag");
    ::unsetenv(clipal::app::update_endpoint_env);
}

TEST_F(UpdateCommand, SupervisorWithoutUpgradeSupportGetsAManualRestartHint) {
    publish(release{});
    boost::asio::io_context ioc;
    std::vector<std::string> commands;
    clipal::supervisor::control_server server(
        ioc.get_executor(), clipal::supervisor::control_socket_path(config_dir_), config_dir_,
        [&](const std::string& cmd, clipal::supervisor::control_server::responder respond) {
            commands.push_back(cmd);
            respond(clipal::supervisor::control_server::error_reply("unknown command \"" + cmd + "\""));
        });
    server.start();
    std::thread t([&] { ioc.run_for(30s); });
    const int rc = run();
    boost::asio::post(ioc, [&] {
        server.stop();
        ioc.stop();
    });
    t.join();
    EXPECT_EQ(rc, 0) << err_.str();
    EXPECT_EQ(commands, std::vector<std::string>{"upgrade"});
    EXPECT_THAT(out_.str(), HasSubstr("restart it by hand"));
    EXPECT_THAT(out_.str(), HasSubstr("clipal stop && clipal"));
    EXPECT_THAT(out_.str(), HasSubstr("systemctl --user restart clipal"));
}

TEST_F(UpdateCommand, SupervisorThatAcceptsTheUpgradeIsReported) {
    publish(release{});
    boost::asio::io_context ioc;
    std::vector<std::string> commands;
    clipal::supervisor::control_server server(
        ioc.get_executor(), clipal::supervisor::control_socket_path(config_dir_), config_dir_,
        [&](const std::string& cmd, clipal::supervisor::control_server::responder respond) {
            commands.push_back(cmd);
            // The first status comes while the re-execution is still pending.
            if (cmd == "status")
                respond(boost::json::object{{"version", "9.9.9"}, {"upgrading", commands.size() < 3}});
            else
                respond(boost::json::object{{"ok", true}});
        });
    server.start();
    std::thread t([&] { ioc.run_for(30s); });
    const int rc = run();
    boost::asio::post(ioc, [&] {
        server.stop();
        ioc.stop();
    });
    t.join();
    EXPECT_EQ(rc, 0) << err_.str();
    EXPECT_THAT(out_.str(), HasSubstr("re-executing into the new binary without closing its listener"));
    EXPECT_THAT(out_.str(), HasSubstr("clipal 9.9.9 is serving"));
    EXPECT_EQ(commands, (std::vector<std::string>{"upgrade", "status", "status"}));
}
