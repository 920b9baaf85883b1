// The text of clipal's service definitions: the systemd user unit, the launchd agent plist
// and the Windows scheduled task. `clipal service install` renders them with real paths;
// the copies in service-files/ are the same renderings with placeholder paths (a unit
// test keeps the two in step). Pure: no I/O.
#pragma once

#include <string>
#include <string_view>

namespace clipal::app {

inline constexpr std::string_view systemd_unit_name = "clipal.service";
inline constexpr std::string_view launchd_label = "dev.clipal.clipal";
inline constexpr std::string_view windows_task_name = "clipal";

// The unit file. `exec` and `config_dir` are inserted as they are, so they may use systemd
// specifiers (%h); pass real paths through systemd_word() first.
std::string systemd_unit(std::string_view exec, std::string_view config_dir);

// A path as one word of a unit file command line: '%' doubled (else it starts a specifier),
// double-quoted with '\' and '"' escaped when it holds spaces, quotes, backslashes or '$'.
std::string systemd_word(std::string_view path);

// The LaunchAgent plist. All arguments are absolute paths; they are XML-escaped here.
// stdout and stderr go to <log_dir>/clipal.out.log and clipal.err.log.
std::string launchd_plist(std::string_view exec, std::string_view config_dir, std::string_view log_dir);

// The Task Scheduler XML (UTF-8): start at logon of `user` ("DOMAIN\name"), no time
// limit, restart when it fails. Arguments are XML-escaped; config_dir is quoted for the
// Windows command line.
std::string windows_task_xml(std::string_view exec, std::string_view config_dir, std::string_view user);

// `s` with &, <, >, " and ' replaced by XML entities.
std::string xml_escape(std::string_view s);

// One argument for a Windows command line (CommandLineToArgvW rules): quoted, with
// backslashes before a quote or the closing quote doubled.
std::string windows_quote(std::string_view arg);

} // namespace clipal::app
