// The service definitions: the copies in service-files/ are exactly what the renderer
// produces for placeholder paths, they carry the settings the spec requires, and real
// paths are escaped for each format.
#include "app/service_files.hpp"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace clipal::app;
using ::testing::HasSubstr;

namespace {

std::string read_source_file(const std::string& relative) {
    std::ifstream f(std::string(CLIPAL_SOURCE_DIR) + "/" + relative, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Parses XML (throws on malformed input) and returns the tree.
boost::property_tree::ptree parse_xml(const std::string& text) {
    std::istringstream in(text);
    boost::property_tree::ptree tree;
    boost::property_tree::read_xml(in, tree);
    return tree;
}

const std::string ref_unit = systemd_unit("%h/.local/bin/clipal", "%h/.clipal");
const std::string ref_plist =
    launchd_plist("/Users/YOU/.local/bin/clipal", "/Users/YOU/.clipal", "/Users/YOU/Library/Logs/clipal");
const std::string ref_task =
    windows_task_xml("%LOCALAPPDATA%\\Programs\\clipal\\clipal.exe", "%USERPROFILE%\\.clipal", "COMPUTER\\you");

} // namespace

TEST(ServiceFiles, CheckedInUnitIsTheRenderedOne) {
    EXPECT_EQ(read_source_file("service-files/clipal.service"), ref_unit);
}

TEST(ServiceFiles, CheckedInPlistIsTheRenderedOne) {
    EXPECT_EQ(read_source_file("service-files/dev.clipal.clipal.plist"), ref_plist);
}

TEST(ServiceFiles, CheckedInTaskIsTheRenderedOne) {
    EXPECT_EQ(read_source_file("service-files/clipal-task.xml"), ref_task);
}

TEST(ServiceFiles, UnitIsANotifyServiceThatOutlastsTheDrain) {
    for (const char* line : {"\nType=notify\n", "\nExecStart=%h/.local/bin/clipal --config-dir %h/.clipal\n",
                             "\nExecReload=%h/.local/bin/clipal reload --config-dir %h/.clipal\n", "\nKillMode=mixed\n",
                             "\nRestart=on-failure\n", "\nRestartPreventExitStatus=78\n", "\nWatchdogSec=30\n",
                             "\nLimitNOFILE=65536\n", "\nWantedBy=default.target\n"})
        EXPECT_THAT(ref_unit, HasSubstr(line));
    // The supervisor drains for up to 120 s; systemd must not SIGKILL it before that.
    const auto at = ref_unit.find("\nTimeoutStopSec=");
    ASSERT_NE(at, std::string::npos);
    EXPECT_GT(std::stoi(ref_unit.substr(at + 16)), 120);
}

TEST(ServiceFiles, SystemdWordEscapesSpecifiersQuotesAndSpaces) {
    EXPECT_EQ(systemd_word("/home/ann/.local/bin/clipal"), "/home/ann/.local/bin/clipal");
    EXPECT_EQ(systemd_word("/home/ann/100%/clipal"), "/home/ann/100%%/clipal");
    EXPECT_EQ(systemd_word("/home/ann/my tools/clipal"), "\"/home/ann/my tools/clipal\"");
    EXPECT_EQ(systemd_word("/a\"b\\c"), "\"/a\\\"b\\\\c\"");
    EXPECT_EQ(systemd_word("/cost$HOME"), "\"/cost$$HOME\"");
}

TEST(ServiceFiles, PlistIsWellFormedWithKeepAliveAndLogs) {
    const auto tree = parse_xml(ref_plist);
    EXPECT_THAT(ref_plist, HasSubstr("<key>KeepAlive</key>"));
    EXPECT_THAT(ref_plist, HasSubstr("<string>/Users/YOU/Library/Logs/clipal/clipal.err.log</string>"));
    EXPECT_THAT(ref_plist, HasSubstr("<key>ExitTimeOut</key>\n  <integer>150</integer>"));
    const auto escaped = launchd_plist("/Users/a&b/clipal", "/Users/a&b/<cfg>", "/tmp/l");
    EXPECT_NO_THROW(parse_xml(escaped));
    EXPECT_THAT(escaped, HasSubstr("<string>/Users/a&amp;b/&lt;cfg&gt;</string>"));
}

TEST(ServiceFiles, TaskXmlIsWellFormedAndQuotesTheConfigDir) {
    const auto tree = parse_xml(ref_task);
    EXPECT_EQ(tree.get<std::string>("Task.Actions.Exec.Command"), "%LOCALAPPDATA%\\Programs\\clipal\\clipal.exe");
    EXPECT_EQ(tree.get<std::string>("Task.Actions.Exec.Arguments"), "--config-dir \"%USERPROFILE%\\.clipal\"");
    EXPECT_EQ(tree.get<std::string>("Task.Settings.ExecutionTimeLimit"), "PT0S");
    EXPECT_EQ(tree.get<std::string>("Task.Triggers.LogonTrigger.UserId"), "COMPUTER\\you");
}

TEST(ServiceFiles, WindowsQuoteFollowsCommandLineRules) {
    EXPECT_EQ(windows_quote("C:\\Users\\ann\\.clipal"), "\"C:\\Users\\ann\\.clipal\"");
    EXPECT_EQ(windows_quote("C:\\My Files\\cfg\\"), "\"C:\\My Files\\cfg\\\\\"");
    EXPECT_EQ(windows_quote("a\"b"), "\"a\\\"b\"");
    EXPECT_EQ(windows_quote("a\\\"b"), "\"a\\\\\\\"b\"");
}

TEST(ServiceFiles, XmlEscapeCoversAllFiveEntities) {
    EXPECT_EQ(xml_escape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
}
