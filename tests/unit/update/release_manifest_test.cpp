// The release document, checksums.txt and asset naming that `clipal update` relies on.
#include "app/release_manifest.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using clipal::app::asset_name_for;
using clipal::app::checksum_for;
using clipal::app::parse_release_manifest;
using ::testing::HasSubstr;

namespace {

const std::string hash_a(64, 'a');
const std::string hash_b = "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef";

} // namespace

TEST(ReleaseManifest, ParsesGitHubLatestShape) {
    std::string error;
    const auto m = parse_release_manifest(R"({"tag_name":"v1.2.10","prerelease":false,"name":"x","draft":false,
        "assets":[{"name":"clipal-linux-amd64","browser_download_url":"https://h/a","size":123,"state":"uploaded"},
                  {"name":"checksums.txt","browser_download_url":"https://h/c"}]})",
                                          error);
    ASSERT_TRUE(m) << error;
    EXPECT_EQ(m->tag, "v1.2.10");
    EXPECT_FALSE(m->prerelease);
    ASSERT_EQ(m->assets.size(), 2u);
    ASSERT_NE(m->find("clipal-linux-amd64"), nullptr);
    EXPECT_EQ(m->find("clipal-linux-amd64")->url, "https://h/a");
    EXPECT_EQ(m->find("clipal-linux-amd64")->size, 123u);
    EXPECT_FALSE(m->find("checksums.txt")->size.has_value());
    EXPECT_EQ(m->find("clipal-darwin-arm64"), nullptr);
}

TEST(ReleaseManifest, ReadsPrereleaseFlag) {
    std::string error;
    const auto m = parse_release_manifest(R"({"tag_name":"v2.0.0-rc.1","prerelease":true,"assets":[]})", error);
    ASSERT_TRUE(m) << error;
    EXPECT_TRUE(m->prerelease);
}

TEST(ReleaseManifest, RejectsDocumentsWithSpecificErrors) {
    struct row {
        const char* json;
        const char* says;
    };
    for (const auto& r : {row{"<html>rate limited</html>", "not JSON"}, row{"[1,2]", "not a JSON object"},
                          row{R"({"assets":[]})", "no tag_name"}, row{R"({"tag_name":5,"assets":[]})", "no tag_name"},
                          row{R"({"tag_name":"v1.0.0"})", "no assets list"},
                          row{R"({"tag_name":"v1.0.0","prerelease":"yes","assets":[]})", "prerelease"},
                          row{R"({"tag_name":"v1.0.0","assets":[{"name":"x"}]})", "browser_download_url"}}) {
        std::string error;
        EXPECT_FALSE(parse_release_manifest(r.json, error)) << r.json;
        EXPECT_THAT(error, HasSubstr(r.says)) << r.json;
    }
}

TEST(ReleaseManifest, ChecksumForFindsSha256sumLines) {
    const std::string sums = hash_b + "  clipal-darwin-arm64\n" + hash_a + " *clipal-linux-amd64\r\n" +
                             "garbage line\n" + std::string(64, 'c') + "  clipal-linux-amd64.sig\n";
    EXPECT_EQ(checksum_for(sums, "clipal-linux-amd64"), hash_a);
    // Upper-case hex is accepted and normalised.
    EXPECT_EQ(checksum_for(sums, "clipal-darwin-arm64"),
              "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    EXPECT_FALSE(checksum_for(sums, "clipal-linux-arm64"));
    EXPECT_FALSE(checksum_for(sums, "clipal-linux"));
}

TEST(ReleaseManifest, ChecksumForRejectsMalformedHashes) {
    EXPECT_FALSE(checksum_for(std::string(63, 'a') + "  clipal-linux-amd64\n", "clipal-linux-amd64"));
    EXPECT_FALSE(checksum_for(std::string(64, 'g') + "  clipal-linux-amd64\n", "clipal-linux-amd64"));
    EXPECT_FALSE(checksum_for(hash_a + "\tclipal-linux-amd64\n", "clipal-linux-amd64"));
    EXPECT_FALSE(checksum_for("", "clipal-linux-amd64"));
}

TEST(ReleaseManifest, AssetNamesPerPlatform) {
    EXPECT_EQ(asset_name_for("linux", "amd64"), "clipal-linux-amd64");
    EXPECT_EQ(asset_name_for("linux", "arm64"), "clipal-linux-arm64");
    EXPECT_EQ(asset_name_for("darwin", "arm64"), "clipal-darwin-arm64");
    EXPECT_EQ(asset_name_for("darwin", "amd64"), "clipal-darwin-amd64");
    EXPECT_EQ(asset_name_for("windows", "amd64"), "clipal-windows-amd64.exe");
    EXPECT_FALSE(asset_name_for("windows", "arm64"));
    EXPECT_FALSE(asset_name_for("plan9", "amd64"));
    EXPECT_FALSE(asset_name_for("linux", "riscv64"));
}

TEST(ReleaseManifest, ThisPlatformHasAPublishedAsset) {
#if defined(__linux__) && defined(__x86_64__)
    EXPECT_EQ(clipal::app::this_platform_asset(), "clipal-linux-amd64");
#elif defined(__linux__) && defined(__aarch64__)
    EXPECT_EQ(clipal::app::this_platform_asset(), "clipal-linux-arm64");
#else
    GTEST_SKIP() << "no expectation written for this platform";
#endif
}
