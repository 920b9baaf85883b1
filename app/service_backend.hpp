// One implementation per platform of the service actions, chosen at build time
// (service_systemd.cpp, service_launchd.cpp, service_schtasks.cpp); service_command.cpp
// validates the request and dispatches here.
#pragma once

#include "app/service_command.hpp"

#include <iosfwd>

namespace clipal::app::service_backend {

// Each returns the process exit code run_service() documents.
int install(const service_target& t, std::ostream& out, std::ostream& err);
int uninstall(const service_target& t, std::ostream& out, std::ostream& err);
int start(const service_target& t, std::ostream& out, std::ostream& err);
int stop(const service_target& t, std::ostream& out, std::ostream& err);
int status(const service_target& t, std::ostream& out, std::ostream& err);

} // namespace clipal::app::service_backend
