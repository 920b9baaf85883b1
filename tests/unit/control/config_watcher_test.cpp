#include "supervisor/config_watcher.hpp"

#include "clipal/platform_config.hpp"

#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <vector>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using clipal::supervisor::config_watcher;
using names = std::set<std::string>;

namespace {

constexpr std::chrono::milliseconds debounce{50};

// Drives the watcher's io_context on the test thread. The kernel queues inotify events
// while it is not running, so everything a test writes before run_until() is seen in
// one batch, independent of machine speed.
class ConfigWatcher : public ::testing::Test {
protected:
    void watch(const fs::path& dir, config_watcher::backend b = config_watcher::backend::native) {
        watcher_ = std::make_unique<config_watcher>(
            ioc_.get_executor(), dir, debounce, [this](names changed) { calls_.push_back(std::move(changed)); }, b);
        watcher_->start();
    }

    // Runs until `n` callbacks arrived or `limit` passed.
    void run_until_calls(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (calls_.size() < n && std::chrono::steady_clock::now() < deadline) {
            if (ioc_.stopped()) ioc_.restart();
            ioc_.run_one_for(std::chrono::milliseconds(20));
        }
    }

    // Lets a few debounce periods pass, to see that nothing more arrives.
    void run_quietly() {
        const auto deadline = std::chrono::steady_clock::now() + debounce * 6;
        while (std::chrono::steady_clock::now() < deadline) {
            if (ioc_.stopped()) ioc_.restart();
            ioc_.run_one_for(std::chrono::milliseconds(20));
        }
    }

    static void write(const fs::path& p, std::string_view text) {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out << text;
    }

    clipal::test::temp_dir dir_;
    asio::io_context ioc_;
    std::unique_ptr<config_watcher> watcher_;
    std::vector<names> calls_;
};

const names all_four{"claude-code.yaml", "codex.yaml", "config.yaml", "gemini.yaml"};

} // namespace

TEST_F(ConfigWatcher, UsesInotifyOnLinuxAndPollsInThePortableBuild) {
    watch(dir_.path());
#if defined(CLIPAL_PLATFORM_LINUX)
    EXPECT_EQ(watcher_->active_backend(), config_watcher::backend::native);
#else
    // CLIPAL_PORTABLE_POSIX=ON (or a system without inotify): the polling sibling.
    EXPECT_EQ(watcher_->active_backend(), config_watcher::backend::polling);
#endif
}

TEST_F(ConfigWatcher, DirectWriteIsReported) {
    dir_.write("codex.yaml", "providers: []\n");
    watch(dir_.path());
    write(dir_.path() / "codex.yaml", "providers:\n  - name: a\n");
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], names{"codex.yaml"});
}

TEST_F(ConfigWatcher, SaveByRenameIsReported) {
    dir_.write("claude-code.yaml", "providers: []\n");
    watch(dir_.path());
    write(dir_.path() / ".claude-code.yaml.swp", "providers:\n  - name: a\n");
    fs::rename(dir_.path() / ".claude-code.yaml.swp", dir_.path() / "claude-code.yaml");
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], names{"claude-code.yaml"});
}

TEST_F(ConfigWatcher, DeletionIsReported) {
    dir_.write("gemini.yaml", "providers: []\n");
    watch(dir_.path());
    fs::remove(dir_.path() / "gemini.yaml");
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], names{"gemini.yaml"});
}

TEST_F(ConfigWatcher, QuickSuccessiveWritesGiveOneDebouncedCallback) {
    watch(dir_.path());
    for (int i = 0; i < 5; ++i) write(dir_.path() / "config.yaml", "port: 300" + std::to_string(i) + "\n");
    write(dir_.path() / "codex.yaml", "providers: []\n");
    ::chmod((dir_.path() / "config.yaml").c_str(), 0600);
    run_until_calls(1);
    run_quietly();
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], (names{"codex.yaml", "config.yaml"}));
}

TEST_F(ConfigWatcher, UnrelatedFilesAreIgnored) {
    watch(dir_.path());
    write(dir_.path() / "notes.txt", "hello");
    write(dir_.path() / "config.yaml.bak", "port: 1\n");
    write(dir_.path() / "codex.yml", "x");
    fs::create_directory(dir_.path() / "logs");
    write(dir_.path() / "logs" / "config.yaml", "not the config");
    run_quietly();
    EXPECT_TRUE(calls_.empty());
    // Still watching: a real change gets through.
    write(dir_.path() / "config.yaml", "port: 3000\n");
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], names{"config.yaml"});
}

TEST_F(ConfigWatcher, NewFileCountsOnlyOnceItsWriterClosesIt) {
    watch(dir_.path());
    std::ofstream half(dir_.path() / "codex.yaml", std::ios::binary);
    half << "providers:\n" << std::flush;
    run_quietly();
    EXPECT_TRUE(calls_.empty()) << "a half-written new file was reported";
    half << "  - name: a\n";
    half.close();
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], names{"codex.yaml"});
}

TEST_F(ConfigWatcher, DirectoryRemovedAndRecreatedIsNoticed) {
    const auto cfg = dir_.path() / "cfg";
    fs::create_directory(cfg);
    watch(cfg);
    fs::remove_all(cfg);
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], all_four);
    fs::create_directory(cfg);
    run_until_calls(2);
    write(cfg / "gemini.yaml", "providers: []\n");
    run_until_calls(3);
    ASSERT_GE(calls_.size(), 2u);
    EXPECT_TRUE(calls_.back().contains("gemini.yaml"));
}

TEST_F(ConfigWatcher, DirectoryCreatedAfterStartIsWatched) {
    const auto cfg = dir_.path() / "later";
    watch(cfg);
    fs::create_directory(cfg);
    run_until_calls(1);
    write(cfg / "config.yaml", "port: 4000\n");
    run_until_calls(2);
    ASSERT_EQ(calls_.size(), 2u);
    EXPECT_EQ(calls_[1], names{"config.yaml"});
}

TEST_F(ConfigWatcher, NoCallbackAfterStop) {
    watch(dir_.path());
    write(dir_.path() / "config.yaml", "port: 3000\n");
    watcher_->stop();
    run_quietly();
    EXPECT_TRUE(calls_.empty());
}

TEST_F(ConfigWatcher, PollingBackendSeesWritesAndDeletes) {
    dir_.write("codex.yaml", "providers: []\n");
    watch(dir_.path(), config_watcher::backend::polling);
    EXPECT_EQ(watcher_->active_backend(), config_watcher::backend::polling);
    write(dir_.path() / "config.yaml", "port: 3000\n");
    fs::remove(dir_.path() / "codex.yaml");
    write(dir_.path() / "notes.txt", "ignored");
    run_until_calls(1);
    ASSERT_EQ(calls_.size(), 1u);
    EXPECT_EQ(calls_[0], (names{"codex.yaml", "config.yaml"}));
}
