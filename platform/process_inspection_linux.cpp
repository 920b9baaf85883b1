// Linux: /proc.
#include "platform/process_inspection.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <system_error>

namespace clipal::platform {

std::optional<std::filesystem::path> executable_path() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return std::nullopt;
    return p;
}

bool process_exited(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return false;
    // "pid (comm) S ...": the comm may contain spaces and parentheses, the state follows the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) return false;
    const char state = line[close + 2];
    return state == 'Z' || state == 'X';
}

} // namespace clipal::platform
