// `clipal status|reload|stop`: the client side of the control socket. Blocking code with
// bounded waits; finds the supervisor through the socket path derived from the config dir.
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <string>
#include <string_view>

namespace clipal::app {

// Exit codes of the control commands (besides 0): 3 is the LSB init-script code for
// "program is not running", so scripts can tell "nothing to ask" from "asking failed".
inline constexpr int exit_not_running = 3;
inline constexpr int exit_control_failed = 1; // unreachable, refused, malformed reply, or ok:false

struct control_client_options {
    std::chrono::milliseconds connect_timeout{2000};
    // The server's own per-connection deadline is 5 s; wait a little longer for its answer.
    std::chrono::milliseconds reply_timeout{6000};
    // How long `stop` waits for the supervisor process to exit (in-flight streams drain
    // first); 0 returns as soon as the stop is acknowledged.
    std::chrono::milliseconds stop_wait{30000};
};

struct control_reply {
    enum class outcome { ok, not_running, failed };
    outcome result = outcome::failed;
    boost::json::value value; // the parsed reply when ok
    std::string raw;          // the reply line as received, without the newline
    std::string error;        // why, when not ok (not_running: "no control socket" / "stale control socket")
};

// Sends {"command":<command>} to the control socket at `socket_path` and returns its reply.
// Refuses a server that runs as another user. Never throws except std::bad_alloc.
control_reply ask_supervisor(const std::filesystem::path& socket_path, std::string_view command,
                             const control_client_options& options = {});

// Prints the status table (or with `json`, the supervisor's JSON line verbatim) to `out`.
// When nothing runs: "clipal is not running for config dir <dir> (no control socket at
// <path>)" on `err` and exit_not_running. Other failures: a message on `err`, exit_control_failed.
int run_status(const std::filesystem::path& config_dir, bool json, std::ostream& out, std::ostream& err,
               const control_client_options& options = {});

// `clipal status --watch`. With `terminal` false (stdout is not a terminal): one snapshot
// of supervisor::format_watch, with the exit codes of run_status. With `terminal` true:
// redraws the view on `out` every `interval` (cursor homed, each line cleared and cut to
// the terminal's width, the cursor hidden meanwhile; plain ANSI escapes) until SIGINT,
// SIGTERM or SIGHUP, then shows the cursor again and returns 0. While the supervisor
// cannot be asked (not running, timeout...) the view says so and keeps trying.
int run_status_watch(const std::filesystem::path& config_dir, bool terminal, std::ostream& out, std::ostream& err,
                     const control_client_options& options = {},
                     std::chrono::milliseconds interval = std::chrono::seconds(1));

// Forces a reload; prints the outcome. A rejected config is exit_control_failed with the
// supervisor's error text on `err`.
int run_reload(const std::filesystem::path& config_dir, std::ostream& out, std::ostream& err,
               const control_client_options& options = {});

// Asks the supervisor to shut down and waits up to options.stop_wait for its process to exit.
int run_stop(const std::filesystem::path& config_dir, std::ostream& out, std::ostream& err,
             const control_client_options& options = {});

} // namespace clipal::app
