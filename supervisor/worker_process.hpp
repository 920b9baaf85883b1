// Starting a worker process: the same executable with the hidden `worker` subcommand,
// its channel on descriptor 3, stderr on a pipe the supervisor tails, stdout closed, no
// NOTIFY_SOCKET, and PR_SET_PDEATHSIG so it dies with the supervisor even before it
// notices its channel closing.
#pragma once

#include "ipc/unique_fd.hpp"
#include "shared/profile.hpp"

#include <boost/system/result.hpp>

#include <filesystem>
#include <string>
#include <sys/types.h>

namespace clipal::supervisor {

struct launched_worker {
    pid_t pid = -1;
    ipc::unique_fd channel;    // supervisor end of the socketpair
    ipc::unique_fd stderr_out; // read end of the worker's stderr
};

// The running executable, resolved once at startup (an update may replace the file).
std::filesystem::path self_executable();

// Forks and execs a worker. Errors: socketpair/pipe/fork failures.
boost::system::result<launched_worker> launch_worker(const std::filesystem::path& exe, profile id);

} // namespace clipal::supervisor
