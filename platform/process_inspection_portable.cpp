// POSIX: the OS's own query for the executable, ps(1) for zombies.
#include "platform/process_inspection.hpp"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#endif

namespace clipal::platform {

std::optional<std::filesystem::path> executable_path() {
    std::error_code ec;
#if defined(__APPLE__)
    std::array<char, 4096> buf{};
    auto size = static_cast<std::uint32_t>(buf.size());
    if (::_NSGetExecutablePath(buf.data(), &size) != 0) return std::nullopt;
    auto p = std::filesystem::canonical(buf.data(), ec);
    if (!ec) return p;
#else
    for (const char* link : {"/proc/self/exe", "/proc/curproc/exe", "/proc/curproc/file"}) {
        auto p = std::filesystem::read_symlink(link, ec);
        if (!ec) return p;
    }
#endif
    return std::nullopt;
}

bool process_exited(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    const std::string command = "ps -o stat= -p " + std::to_string(pid) + " 2>/dev/null";
    FILE* ps = ::popen(command.c_str(), "r");
    if (ps == nullptr) return false;
    std::array<char, 64> line{};
    const bool printed = std::fgets(line.data(), static_cast<int>(line.size()), ps) != nullptr;
    const int status = ::pclose(ps);
    // Nothing printed and exit 1: ps knows no such process (it was reaped meanwhile). Any other
    // failure (no ps at all) answers "still there", so a caller's deadline decides.
    if (!printed) return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1;
    for (const char c : line) {
        if (c == '\0') break;
        if (std::isspace(static_cast<unsigned char>(c)) == 0) return c == 'Z';
    }
    return false;
}

} // namespace clipal::platform
