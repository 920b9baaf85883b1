// Startup and worker-restart timing (see process_timing.hpp).
#include "bench/process_timing.hpp"

#include "bench/bench_common.hpp"
#include "bench/blocking_client.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include <cstdio>

extern char** environ;

namespace clipal::bench {

int run_startup(const target& t, const std::string& path, char** argv) {
    auto t0 = steady::now();
    // The child must not inherit our stdout: the script reads it to EOF while the child lives on.
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv, environ);
    ::posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        die("posix_spawn");
    }
    auto us = poll_until_ok(t, path, t0, 10000);
    std::printf("%.2f %d\n", us ? *us / 1000.0 : -1.0, static_cast<int>(pid));
    return us ? 0 : 2;
}

int run_restart(const target& t, const std::string& path, pid_t pid) {
    auto t0 = steady::now();
    if (::kill(pid, SIGKILL) != 0) {
        die("kill");
    }
    auto us = poll_until_ok(t, path, t0, 10000);
    std::printf("%.2f\n", us ? *us / 1000.0 : -1.0);
    return us ? 0 : 2;
}

} // namespace clipal::bench
