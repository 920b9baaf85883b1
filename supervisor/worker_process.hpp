// Starting a worker process: the same executable with the hidden `worker` subcommand,
// its channel on descriptor 3, stderr on a pipe the supervisor tails, stdin and stdout on
// the null device, no other descriptor, no NOTIFY_SOCKET, its own process group. It exits
// when its channel reaches EOF; on Linux PR_SET_PDEATHSIG also kills it with the
// supervisor even before it notices its channel closing (platform/parent_death.hpp).
#pragma once

#include "ipc/unique_fd.hpp"
#include "shared/profile.hpp"

#include <boost/asio/any_io_executor.hpp>
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

// The running executable, resolved once at startup (an update may replace the file);
// "clipal" when the system cannot tell (platform/process_inspection.hpp).
std::filesystem::path self_executable();

// Starts a worker (Boost.Process v2, supervisor/worker_process.cpp); `ex` is the
// supervisor's loop, told about the fork. Errors: socketpair, pipe or fork failures, and
// an executable that cannot be executed (the errno of the child's failed exec). The caller
// reaps the child (waitpid), also one whose exec failed.
boost::system::result<launched_worker> launch_worker(const boost::asio::any_io_executor& ex,
                                                     const std::filesystem::path& exe, profile id);

} // namespace clipal::supervisor
