// POSIX: a temporary file, unlinked as soon as it exists (0600 from mkstemp).
#include "platform/anonymous_file.hpp"

#include "platform/cloexec.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace clipal::platform {

int anonymous_file(const char* name, std::string& error) {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
    if (path.back() != '/') path += '/';
    path += std::string(name) + ".XXXXXX";
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
        error = "cannot create a temporary file in " + path.substr(0, path.rfind('/')) + ": " + std::strerror(errno);
        return -1;
    }
    ::unlink(path.c_str());
    set_cloexec(fd);
    return fd;
}

} // namespace clipal::platform
