// Running a helper program to completion with a deadline: systemctl / launchctl / schtasks
// for `clipal service`, and a freshly downloaded clipal's --version for `clipal update`.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace clipal::app {

struct subprocess_result {
    bool started = false;   // false: the program could not be started (error says why)
    bool timed_out = false; // it was still running at the deadline and was killed
    int exit_code = -1;     // valid when it exited by itself
    int signal = 0;         // the signal that ended it, 0 when it exited
    std::string output;     // stdout and stderr together, when captured (at most 64 KiB kept)
    std::string error;

    bool succeeded() const { return started && !timed_out && signal == 0 && exit_code == 0; }
    // "exit code 3", "killed by signal 9", "timed out after 10 s", or the start error.
    std::string describe() const;
};

// Runs argv[0] (a path, or a bare name looked up in PATH) with argv[1..], stdin from the
// null device, and waits up to `timeout`; a program still running then is killed. With
// `capture_output` stdout and stderr are collected into the result, otherwise they go to
// this process's own. Blocking; never throws except std::bad_alloc.
subprocess_result run_subprocess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                                 bool capture_output);

} // namespace clipal::app
