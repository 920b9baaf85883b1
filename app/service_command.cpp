// Action dispatch for `clipal service`, shared by every platform.
#include "app/service_command.hpp"

#include "app/current_executable.hpp"
#include "app/service_backend.hpp"
#include "shared/exit_codes.hpp"

#include <ostream>
#include <stdexcept>
#include <system_error>

namespace clipal::app {

int run_service(std::string_view action, const std::filesystem::path& config_dir, std::ostream& out, std::ostream& err,
                const std::filesystem::path& executable) {
    using action_fn = int (*)(const service_target&, std::ostream&, std::ostream&);
    action_fn fn = nullptr;
    if (action == "install")
        fn = service_backend::install;
    else if (action == "uninstall")
        fn = service_backend::uninstall;
    else if (action == "start")
        fn = service_backend::start;
    else if (action == "stop")
        fn = service_backend::stop;
    else if (action == "status")
        fn = service_backend::status;
    if (fn == nullptr) {
        err << "clipal service: "
            << (action.empty() ? "an action is needed" : "unknown action \"" + std::string(action) + "\"")
            << "; use install, uninstall, start, stop or status\n";
        return exit_usage;
    }
    service_target t;
    try {
        t.executable = executable.empty() ? current_executable() : std::filesystem::absolute(executable);
        t.config_dir = std::filesystem::absolute(config_dir);
    } catch (const std::exception& e) {
        err << "clipal service " << action << ": " << e.what() << "\n";
        return 1;
    }
    return fn(t, out, err);
}

} // namespace clipal::app
