// Windows run_subprocess for schtasks: _spawnvp without capture, a bounded wait, and
// TerminateProcess at the deadline. Not built or exercised in this project's CI.
#include "app/subprocess.hpp"

#include <process.h>
#include <windows.h>

namespace clipal::app {

std::string subprocess_result::describe() const {
    if (!started) return error;
    if (timed_out) return "timed out and was killed";
    return "exit code " + std::to_string(exit_code);
}

subprocess_result run_subprocess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, bool) {
    subprocess_result r;
    if (argv.empty()) {
        r.error = "no program given";
        return r;
    }
    std::vector<const char*> args;
    for (const auto& a : argv) args.push_back(a.c_str());
    args.push_back(nullptr);
    const intptr_t h = ::_spawnvp(_P_NOWAIT, args[0], args.data());
    if (h == -1) {
        r.error = "cannot run " + argv[0];
        return r;
    }
    r.started = true;
    const auto process = reinterpret_cast<HANDLE>(h);
    if (::WaitForSingleObject(process, static_cast<DWORD>(timeout.count())) != WAIT_OBJECT_0) {
        ::TerminateProcess(process, 1);
        r.timed_out = true;
    } else {
        DWORD code = 1;
        ::GetExitCodeProcess(process, &code);
        r.exit_code = static_cast<int>(code);
    }
    ::CloseHandle(process);
    return r;
}

} // namespace clipal::app
