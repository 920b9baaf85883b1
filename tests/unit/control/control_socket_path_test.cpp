#include "supervisor/control_socket_path.hpp"

#include "support/temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace fs = std::filesystem;
using clipal::supervisor::control_socket_name;
using clipal::supervisor::control_socket_path;

namespace {

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

} // namespace

TEST(ControlSocketPath, SameDirAlwaysMapsToSamePath) {
    clipal::test::temp_dir runtime, config;
    fs::create_directories(config.path() / "cfg");
    const auto a = control_socket_path(config.path() / "cfg", runtime.path());
    EXPECT_EQ(control_socket_path(config.path() / "cfg", runtime.path()), a);
    EXPECT_EQ(control_socket_path(config.path() / "cfg/", runtime.path()), a);
    EXPECT_EQ(control_socket_path(config.path() / "cfg/../cfg/.", runtime.path()), a);
    fs::create_symlink(config.path() / "cfg", config.path() / "link");
    EXPECT_EQ(control_socket_path(config.path() / "link", runtime.path()), a);
}

TEST(ControlSocketPath, DifferentDirsMapToDifferentPaths) {
    clipal::test::temp_dir runtime, config;
    fs::create_directories(config.path() / "one");
    fs::create_directories(config.path() / "two");
    EXPECT_NE(control_socket_path(config.path() / "one", runtime.path()),
              control_socket_path(config.path() / "two", runtime.path()));
}

TEST(ControlSocketPath, NameIsSixteenHexCharsOfTheDirHash) {
    clipal::test::temp_dir config;
    const auto name = control_socket_name(config.path());
    ASSERT_EQ(name.size(), 21u) << name;
    EXPECT_TRUE(name.ends_with(".sock")) << name;
    EXPECT_TRUE(std::all_of(name.begin(), name.begin() + 16, [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isxdigit(u) && !std::isupper(u);
    })) << name;
}

TEST(ControlSocketPath, NotYetExistingDirMapsAsItWillOnceCreated) {
    clipal::test::temp_dir config;
    const auto before = control_socket_name(config.path() / "later");
    fs::create_directories(config.path() / "later");
    EXPECT_EQ(control_socket_name(config.path() / "later"), before);
}

TEST(ControlSocketPath, LivesUnderXdgRuntimeDirInOwnerOnlyParent) {
    clipal::test::temp_dir runtime, config;
    const auto p = control_socket_path(config.path(), runtime.path());
    EXPECT_EQ(p.parent_path(), runtime.path() / "clipal");
    EXPECT_EQ(p.filename().string(), control_socket_name(config.path()));
    EXPECT_EQ(mode_of(p.parent_path()), 0700u);
}

TEST(ControlSocketPath, LooseExistingParentIsTightened) {
    clipal::test::temp_dir runtime, config;
    fs::create_directories(runtime.path() / "clipal");
    ::chmod((runtime.path() / "clipal").c_str(), 0755);
    control_socket_path(config.path(), runtime.path());
    EXPECT_EQ(mode_of(runtime.path() / "clipal"), 0700u);
}

TEST(ControlSocketPath, SymlinkedParentIsRefused) {
    clipal::test::temp_dir runtime, config, elsewhere;
    fs::create_directory_symlink(elsewhere.path(), runtime.path() / "clipal");
    try {
        control_socket_path(config.path(), runtime.path());
        FAIL() << "a symlinked socket directory was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("is not a directory (or is a symlink)"), std::string::npos) << e.what();
    }
}

TEST(ControlSocketPath, ParentOwnedBySomeoneElseIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create a directory owned by another user";
    clipal::test::temp_dir runtime, config;
    fs::create_directories(runtime.path() / "clipal");
    ASSERT_EQ(::chown((runtime.path() / "clipal").c_str(), 65534, 65534), 0);
    try {
        control_socket_path(config.path(), runtime.path());
        FAIL() << "a socket directory owned by another user was accepted";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("is owned by uid 65534, not by you"), std::string::npos) << e.what();
    }
}

TEST(ControlSocketPath, UnusableXdgRuntimeDirFallsBackToTmp) {
    clipal::test::temp_dir config;
    const fs::path fallback = "/tmp/clipal-" + std::to_string(::geteuid());
    EXPECT_EQ(control_socket_path(config.path(), std::nullopt).parent_path(), fallback);
    EXPECT_EQ(control_socket_path(config.path(), fs::path("relative/dir")).parent_path(), fallback);
    EXPECT_EQ(control_socket_path(config.path(), config.path() / "missing").parent_path(), fallback);
    EXPECT_EQ(mode_of(fallback), 0700u);
}
