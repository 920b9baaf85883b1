#include "supervisor/reexec.hpp"

#include "platform/cloexec.hpp"
#include "platform/close_descriptors.hpp"
#include "supervisor/upgrade_state.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

void set_cloexec(int fd, bool on) { platform::set_cloexec(fd, on); }

// Whatever a library opened without O_CLOEXEC (log files, pipes) must not pile up in the
// new image, one more copy per upgrade (platform/close_descriptors.hpp).
void mark_all_cloexec() { platform::mark_cloexec_from(STDERR_FILENO + 1); }

} // namespace

std::string reexec(const std::vector<std::string>& argv, const std::vector<int>& keep, int state_fd) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    mark_all_cloexec();
    for (const int fd : keep) set_cloexec(fd, false);
    set_cloexec(state_fd, false);
    ::setenv(upgrade_state_env, std::to_string(state_fd).c_str(), 1);
    ::execv(args[0], args.data());
    const std::string why = std::string("cannot execute ") + argv[0] + ": " + std::strerror(errno);
    ::unsetenv(upgrade_state_env);
    for (const int fd : keep) set_cloexec(fd, true);
    set_cloexec(state_fd, true);
    return why;
}

} // namespace clipal::supervisor
