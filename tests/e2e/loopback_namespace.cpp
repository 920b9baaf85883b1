// Network-namespace entry for the e2e tests: unshare(2), the uid/gid maps an unprivileged
// user namespace needs, and the ioctl that brings the new namespace's loopback up.
#include "e2e/loopback_namespace.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace clipal::e2e {
namespace {

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool write_file(const char* path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    out.flush();
    return static_cast<bool>(out);
}

std::string bring_loopback_up() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno_text("socket");
    ifreq req{};
    std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    std::string error;
    if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
        error = errno_text("SIOCGIFFLAGS lo");
    } else {
        req.ifr_flags = static_cast<short>(req.ifr_flags | IFF_UP | IFF_RUNNING);
        if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0) error = errno_text("SIOCSIFFLAGS lo");
    }
    ::close(fd);
    return error;
}

} // namespace

std::string enter_loopback_namespace() {
    if (::unshare(CLONE_NEWNET) != 0) {
        // Not privileged: a user namespace grants CAP_NET_ADMIN over a network namespace it owns.
        const auto uid = ::getuid();
        const auto gid = ::getgid();
        if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) return errno_text("unshare(CLONE_NEWUSER | CLONE_NEWNET)");
        if (!write_file("/proc/self/setgroups", "deny") ||
            !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
            !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n"))
            return "cannot write the user namespace's uid/gid maps";
    }
    return bring_loopback_up();
}

} // namespace clipal::e2e
