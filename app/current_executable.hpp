// Where the running clipal binary lives: what `clipal update` replaces and what
// `clipal service install` writes into the service definition.
#pragma once

#include <filesystem>

namespace clipal::app {

// The running executable's absolute path (symlinks resolved where the OS reports them).
// Throws std::runtime_error with a user-facing message when it cannot be found.
std::filesystem::path current_executable();

} // namespace clipal::app
