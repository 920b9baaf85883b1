// macOS: clipal as a LaunchAgent in ~/Library/LaunchAgents, driven with launchctl's
// bootstrap/bootout/kickstart/kill/print on the user's gui/<uid> domain. Not built in CI.
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

fs::path home() {
    const char* h = std::getenv("HOME");
    if (h == nullptr || *h == '\0') throw std::runtime_error("HOME is not set");
    return h;
}

fs::path plist_path() { return home() / "Library" / "LaunchAgents" / (std::string(launchd_label) + ".plist"); }
fs::path log_dir() { return home() / "Library" / "Logs" / "clipal"; }
std::string domain() { return "gui/" + std::to_string(::getuid()); }
std::string service() { return domain() + "/" + std::string(launchd_label); }

bool launchctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool report_failure = true) {
    std::vector<std::string> argv{"launchctl"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_subprocess(argv, 180s, true);
    if (r.succeeded()) {
        out << r.output;
        return true;
    }
    if (report_failure)
        err << r.output << "clipal service: `launchctl " << args.front() << "` failed (" << r.describe() << ")\n";
    return false;
}

} // namespace

int install(const service_target& t, std::ostream& out, std::ostream& err) {
    try {
        const auto plist = plist_path();
        fs::create_directories(plist.parent_path());
        fs::create_directories(log_dir());
        std::ofstream(plist, std::ios::binary | std::ios::trunc)
            << launchd_plist(t.executable.string(), t.config_dir.string(), log_dir().string());
        out << "wrote " << plist.string() << "\n";
        // An agent loaded earlier must go first, or bootstrap fails with "service already loaded".
        launchctl({"bootout", service()}, out, err, false);
        if (!launchctl({"bootstrap", domain(), plist.string()}, out, err)) return 1;
    } catch (const std::exception& e) {
        err << "clipal service install: " << e.what() << "\n";
        return 1;
    }
    out << "clipal is running as a LaunchAgent and starts at login; stderr goes to " << log_dir().string() << "\n";
    return 0;
}

int uninstall(const service_target&, std::ostream& out, std::ostream& err) {
    try {
        launchctl({"bootout", service()}, out, err, false);
        fs::remove(plist_path());
        out << "removed " << plist_path().string() << "\n";
    } catch (const std::exception& e) {
        err << "clipal service uninstall: " << e.what() << "\n";
        return 1;
    }
    return 0;
}

int start(const service_target&, std::ostream& out, std::ostream& err) {
    return launchctl({"kickstart", service()}, out, err) ? 0 : 1;
}

int stop(const service_target&, std::ostream& out, std::ostream& err) {
    // SIGTERM drains; the clean exit keeps KeepAlive from starting it again until next login.
    return launchctl({"kill", "SIGTERM", service()}, out, err) ? 0 : 1;
}

int status(const service_target&, std::ostream& out, std::ostream& err) {
    if (!launchctl({"print", service()}, out, err, false)) {
        out << "clipal is not loaded as a LaunchAgent (" << service() << ")\n";
        return 3;
    }
    return 0;
}

} // namespace clipal::app::service_backend
