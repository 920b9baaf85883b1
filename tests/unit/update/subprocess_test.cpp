// run_subprocess: exit codes, captured output, PATH lookup, deadlines, what the program
// inherits (stdin from the null device, no other descriptor).
#include "app/subprocess.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>

using clipal::app::run_subprocess;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

TEST(Subprocess, CapturesStdoutAndStderrAndExitCode) {
    const auto r = run_subprocess({"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}, 10s, true);
    EXPECT_TRUE(r.started);
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_FALSE(r.succeeded());
    EXPECT_THAT(r.output, HasSubstr("out\n"));
    EXPECT_THAT(r.output, HasSubstr("err\n"));
    EXPECT_EQ(r.describe(), "exit code 7");
}

TEST(Subprocess, FindsBareNamesInPath) {
    const auto r = run_subprocess({"sh", "-c", "exit 0"}, 10s, true);
    EXPECT_TRUE(r.succeeded()) << r.describe();
}

TEST(Subprocess, ReportsProgramsThatCannotStart) {
    const auto r = run_subprocess({"/nonexistent/clipal-test-program"}, 10s, true);
    EXPECT_FALSE(r.started);
    EXPECT_THAT(r.describe(), HasSubstr("/nonexistent/clipal-test-program"));
}

TEST(Subprocess, KillsAProgramAtTheDeadline) {
    const auto begin = std::chrono::steady_clock::now();
    const auto r = run_subprocess({"/bin/sh", "-c", "exec sleep 30"}, 200ms, true);
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(r.succeeded());
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 20s);
}

TEST(Subprocess, ReportsDeathBySignal) {
    const auto r = run_subprocess({"/bin/sh", "-c", "kill -9 $$"}, 10s, false);
    EXPECT_EQ(r.signal, 9);
    EXPECT_EQ(r.describe(), "killed by signal 9");
}

TEST(Subprocess, GivesTheProgramNoOtherDescriptors) {
    // Inheritable, like what Asio and OpenSSL open: posix_spawn passed it on.
    const int hold = ::open("/dev/null", O_RDONLY);
    const int stray = ::open("/dev/null", O_RDONLY);
    ::close(hold);
    ASSERT_GE(stray, 3);
    const auto script = "[ -e /dev/fd/" + std::to_string(stray) + " ] && echo inherited; exit 0";
    const auto r = run_subprocess({"/bin/sh", "-c", script}, 10s, true);
    ::close(stray);
    EXPECT_TRUE(r.succeeded()) << r.describe();
    EXPECT_EQ(r.output, "");
}

TEST(Subprocess, ReadsStdinFromTheNullDevice) {
    const auto r = run_subprocess({"/bin/sh", "-c", "cat; echo done"}, 10s, true);
    EXPECT_TRUE(r.succeeded()) << r.describe();
    EXPECT_EQ(r.output, "done\n");
}

TEST(Subprocess, ReportsBareNamesMissingFromPath) {
    const auto r = run_subprocess({"clipal-no-such-program"}, 10s, true);
    EXPECT_FALSE(r.started);
    EXPECT_THAT(r.describe(), HasSubstr("clipal-no-such-program"));
}

TEST(Subprocess, ReturnsWhenTheProgramExitsThoughAChildKeepsItsOutputOpen) {
    const auto begin = std::chrono::steady_clock::now();
    const auto r = run_subprocess({"/bin/sh", "-c", "sleep 5 & exit 3"}, 1s, true);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 3) << r.describe();
    EXPECT_LT(std::chrono::steady_clock::now() - begin, 4s);
}
