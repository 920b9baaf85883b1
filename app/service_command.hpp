// `clipal service install|uninstall|start|stop|status`: registers clipal with the
// platform's per-user service manager (systemd user units on Linux, launchd agents on
// macOS, Task Scheduler on Windows) and drives it.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string_view>

namespace clipal::app {

// What an action acts on: the binary to run as a service and its config directory.
struct service_target {
    std::filesystem::path executable; // absolute
    std::filesystem::path config_dir; // absolute
};

// Runs `action` for the current user. Output of the service manager is relayed to `out`
// (to `err` when it fails). Returns 0 on success, 64 for an unknown action, 1 when the
// service manager failed or cannot be reached (with a message saying which command and
// why), and for `status` the manager's own code (systemd: 3 = installed but not running).
// `executable` empty means the running binary. Blocking, each manager call bounded.
int run_service(std::string_view action, const std::filesystem::path& config_dir, std::ostream& out, std::ostream& err,
                const std::filesystem::path& executable = {});

} // namespace clipal::app
