// Windows: clipal as a Task Scheduler task started at logon, registered from XML with
// schtasks. Not built in CI (the rest of clipal is POSIX-only today).
#include "app/service_backend.hpp"
#include "app/service_files.hpp"
#include "app/subprocess.hpp"

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

std::string env_or(const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? v : fallback;
}

bool schtasks(const std::vector<std::string>& args, std::ostream& err) {
    std::vector<std::string> argv{"schtasks"};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run_subprocess(argv, 60s, false);
    if (r.succeeded()) return true;
    err << "clipal service: `schtasks " << args.front() << "` failed (" << r.describe() << ")\n";
    return false;
}

const std::string task(windows_task_name);

} // namespace

int install(const service_target& t, std::ostream& out, std::ostream& err) {
    try {
        const auto dir = fs::path(env_or("LOCALAPPDATA", ".")) / "clipal";
        fs::create_directories(dir);
        const auto xml = dir / "clipal-task.xml";
        const auto user = env_or("USERDOMAIN", ".") + "\\" + env_or("USERNAME", "");
        std::ofstream(xml, std::ios::binary | std::ios::trunc)
            << windows_task_xml(t.executable.string(), t.config_dir.string(), user);
        out << "wrote " << xml.string() << "\n";
        if (!schtasks({"/Create", "/TN", task, "/XML", xml.string(), "/F"}, err)) return 1;
        if (!schtasks({"/Run", "/TN", task}, err)) return 1;
    } catch (const std::exception& e) {
        err << "clipal service install: " << e.what() << "\n";
        return 1;
    }
    out << "clipal is registered as the scheduled task \"" << task << "\" and starts at logon\n";
    return 0;
}

int uninstall(const service_target&, std::ostream& out, std::ostream& err) {
    schtasks({"/End", "/TN", task}, err);
    if (!schtasks({"/Delete", "/TN", task, "/F"}, err)) return 1;
    out << "removed the scheduled task \"" << task << "\"\n";
    return 0;
}

int start(const service_target&, std::ostream&, std::ostream& err) {
    return schtasks({"/Run", "/TN", task}, err) ? 0 : 1;
}

// /End terminates at once, without the drain that SIGTERM gives on POSIX.
int stop(const service_target&, std::ostream&, std::ostream& err) {
    return schtasks({"/End", "/TN", task}, err) ? 0 : 1;
}

int status(const service_target&, std::ostream&, std::ostream& err) {
    return schtasks({"/Query", "/TN", task, "/V", "/FO", "LIST"}, err) ? 0 : 3;
}

} // namespace clipal::app::service_backend
