#include "supervisor/reexec.hpp"

#include "supervisor/upgrade_state.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

void set_cloexec(int fd, bool on) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) return;
    ::fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
}

// Whatever a library opened without O_CLOEXEC (log files, pipes) must not pile up in the
// new image, one more copy per upgrade.
void mark_all_cloexec() {
    if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
    // Kernels before 5.11: walk the descriptor table instead.
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return;
    const int own = ::dirfd(d);
    while (const dirent* e = ::readdir(d)) {
        const int fd = std::atoi(e->d_name);
        if (fd > 2 && fd != own) set_cloexec(fd, true);
    }
    ::closedir(d);
}

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
