// Startup and worker-restart timing: how long until a request through a freshly spawned
// clipal, or through a worker that was just killed, answers 200 again.
#pragma once

#include "bench/loopback.hpp"

#include <sys/types.h>

#include <string>

namespace clipal::bench {

// startup: spawns argv (stdin, stdout and stderr on /dev/null), prints "<ms to first 200>
// <pid>" (-1 ms after 10 s without one) and leaves the child running. Exits if the spawn fails.
int run_startup(const target& t, const std::string& path, char** argv);

// restart: SIGKILLs `pid`, prints the ms until a request through `t` answers 200 again (-1
// after 10 s). Exits if the kill fails.
int run_restart(const target& t, const std::string& path, pid_t pid);

} // namespace clipal::bench
