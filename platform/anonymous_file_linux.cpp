// Linux: memfd_create.
#include "platform/anonymous_file.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace clipal::platform {

int anonymous_file(const char* name, std::string& error) {
    const int fd = ::memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) error = std::string("memfd_create: ") + std::strerror(errno);
    return fd;
}

} // namespace clipal::platform
