// Linux: clipal as a systemd user unit, written to ~/.config/systemd/user (or
// $XDG_CONFIG_HOME/systemd/user) and driven with `systemctl --user`.
#include "app/service_backend.hpp"
#include "app/service_files.hpp"
#include "app/subprocess.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace clipal::app::service_backend {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path unit_path() {
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && fs::path(xdg).is_absolute())
        return fs::path(xdg) / "systemd" / "user" / systemd_unit_name;
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0')
        throw std::runtime_error(
            "cannot find the systemd user unit directory: neither XDG_CONFIG_HOME nor HOME is set");
    return fs::path(home) / ".config" / "systemd" / "user" / systemd_unit_name;
}

// `systemctl --user <args>`; its output goes to `out` on success, to `err` with an
// explanation on failure. Returns the result for callers that need the exit code.
subprocess_result systemctl(const std::vector<std::string>& args, std::chrono::milliseconds timeout, std::ostream& out,
                            std::ostream& err, bool report_failure = true) {
    std::vector<std::string> argv{"systemctl", "--user"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_subprocess(argv, timeout, true);
    std::string line = "systemctl --user";
    for (const auto& a : args) line += " " + a;
    if (r.succeeded()) {
        out << r.output;
    } else if (report_failure) {
        err << r.output << "clipal service: `" << line << "` failed (" << r.describe() << ")";
        if (r.output.find("Failed to connect to bus") != std::string::npos ||
            r.output.find("$DBUS_SESSION_BUS_ADDRESS") != std::string::npos)
            err << ": no systemd user session is reachable (containers, `su` and some SSH logins have none); "
                   "run clipal in the foreground instead, or log in with a full session";
        err << "\n";
    }
    return r;
}

bool require_installed(const fs::path& unit, std::ostream& err) {
    if (fs::exists(unit)) return true;
    err << "clipal service: clipal is not installed as a service (no " << unit.string()
        << "); run `clipal service install` first\n";
    return false;
}

} // namespace

int install(const service_target& t, std::ostream& out, std::ostream& err) {
    try {
        const auto unit = unit_path();
        fs::create_directories(unit.parent_path());
        const auto text = systemd_unit(systemd_word(t.executable.string()), systemd_word(t.config_dir.string()));
        // Written beside the target and renamed, so systemd never reads half a file.
        const auto tmp = fs::path(unit.string() + ".tmp");
        {
            std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
            f << text;
            if (!f.flush()) throw std::runtime_error("cannot write " + tmp.string());
        }
        fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                 fs::perms::others_read);
        fs::rename(tmp, unit);
        out << "wrote " << unit.string() << " (runs " << t.executable.string() << " --config-dir "
            << t.config_dir.string() << ")\n";
    } catch (const std::exception& e) {
        err << "clipal service install: " << e.what() << "\n";
        return 1;
    }
    if (!systemctl({"daemon-reload"}, 30s, out, err).succeeded()) return 1;
    if (!systemctl({"enable", "--now", std::string(systemd_unit_name)}, 120s, out, err).succeeded()) return 1;
    out << "clipal is running as a systemd user service and starts with your session.\n"
           "  status: clipal service status   (or systemctl --user status clipal)\n"
           "  logs:   journalctl --user -u clipal, and the log files in log_dir (log_stdout: false keeps the journal "
           "quiet)\n"
           "  to keep it running while you are logged out: loginctl enable-linger $USER\n";
    return 0;
}

int uninstall(const service_target&, std::ostream& out, std::ostream& err) {
    fs::path unit;
    try {
        unit = unit_path();
    } catch (const std::exception& e) {
        err << "clipal service uninstall: " << e.what() << "\n";
        return 1;
    }
    if (!fs::exists(unit)) {
        out << "clipal is not installed as a service (no " << unit.string() << "); nothing to do\n";
        return 0;
    }
    // A unit systemd never loaded cannot be disabled; removing the file is what matters then.
    systemctl({"disable", "--now", std::string(systemd_unit_name)}, 180s, out, err);
    std::error_code ec;
    fs::remove(unit, ec);
    if (ec) {
        err << "clipal service uninstall: cannot remove " << unit.string() << ": " << ec.message() << "\n";
        return 1;
    }
    out << "removed " << unit.string() << "\n";
    return systemctl({"daemon-reload"}, 30s, out, err).succeeded() ? 0 : 1;
}

int start(const service_target&, std::ostream& out, std::ostream& err) {
    try {
        if (!require_installed(unit_path(), err)) return 1;
    } catch (const std::exception& e) {
        err << "clipal service start: " << e.what() << "\n";
        return 1;
    }
    return systemctl({"start", std::string(systemd_unit_name)}, 120s, out, err).succeeded() ? 0 : 1;
}

int stop(const service_target&, std::ostream& out, std::ostream& err) {
    try {
        if (!require_installed(unit_path(), err)) return 1;
    } catch (const std::exception& e) {
        err << "clipal service stop: " << e.what() << "\n";
        return 1;
    }
    // TimeoutStopSec is 150 s: allow systemctl that long and a little more.
    return systemctl({"stop", std::string(systemd_unit_name)}, 180s, out, err).succeeded() ? 0 : 1;
}

int status(const service_target&, std::ostream& out, std::ostream& err) {
    try {
        if (const auto unit = unit_path(); !fs::exists(unit)) {
            out << "clipal is not installed as a service (no " << unit.string() << ")\n";
            return 3;
        }
    } catch (const std::exception& e) {
        err << "clipal service status: " << e.what() << "\n";
        return 1;
    }
    // `systemctl status` exits 3 for an inactive unit: that is an answer, not a failure.
    const auto r = systemctl({"status", "--no-pager", std::string(systemd_unit_name)}, 30s, out, err, false);
    if (!r.started || r.timed_out || r.signal != 0) {
        err << "clipal service status: `systemctl --user status` " << r.describe() << "\n";
        return 1;
    }
    if (!r.succeeded()) out << r.output;
    return r.exit_code;
}

} // namespace clipal::app::service_backend
