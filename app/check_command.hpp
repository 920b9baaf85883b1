// `clipal check`: validate a config directory and show what would be loaded (like nginx -t).
#pragma once

#include "shared/config_loader.hpp"

#include <iosfwd>

namespace clipal::app {

// Prints the loaded config (or every error) to `out`; returns the exit code (0 or 78).
int run_check(const std::filesystem::path& dir, const config_overrides& overrides, std::ostream& out);

} // namespace clipal::app
