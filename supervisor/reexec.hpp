// Replacing the supervisor's process image in place (same PID, so systemd and the workers
// — our children — notice nothing) while chosen descriptors stay open across execve().
#pragma once

#include <string>
#include <vector>

namespace clipal::supervisor {

// Executes `argv` (argv[0] is the program's path) with `keep` open and every other
// descriptor above stderr closed, and CLIPAL_UPGRADE_STATE=<state_fd> in the environment.
// Returns only when execve() failed: the reason, with `keep` close-on-exec again and the
// environment as it was.
std::string reexec(const std::vector<std::string>& argv, const std::vector<int>& keep, int state_fd);

} // namespace clipal::supervisor
