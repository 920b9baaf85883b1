// Derivation of the control socket path and the owner-only directory that holds it.
#include "supervisor/control_socket_path.hpp"

#include "shared/text.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace clipal::supervisor {

namespace {

namespace fs = std::filesystem;

// Longest path a sockaddr_un can hold, leaving room for the terminating NUL.
constexpr std::size_t max_socket_path = sizeof(sockaddr_un{}.sun_path) - 1;

fs::path canonical_dir(const fs::path& config_dir) {
    fs::path p = fs::weakly_canonical(fs::absolute(config_dir)).lexically_normal();
    // "/a/b/" and "/a/b" are the same directory and must hash the same.
    if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();
    return p;
}

// A directory we own and only we can enter. Opened without following symlinks so that
// nobody can swap in a link between the check and the use.
void ensure_private_dir(const fs::path& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw std::runtime_error("cannot create control socket directory " + dir.string() + ": " + errno_text(errno));
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ELOOP || e == ENOTDIR)
            throw std::runtime_error("control socket directory " + dir.string() +
                                     " is not a directory (or is a symlink); remove it and retry");
        throw std::runtime_error("cannot open control socket directory " + dir.string() + ": " + errno_text(e));
    }
    struct stat st {};
    const bool stat_ok = ::fstat(fd, &st) == 0;
    const int stat_errno = errno;
    if (stat_ok && st.st_uid == ::geteuid() && (st.st_mode & 0777) != 0700 && ::fchmod(fd, 0700) != 0) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error("cannot make control socket directory " + dir.string() +
                                 " private (0700): " + errno_text(e));
    }
    ::close(fd);
    if (!stat_ok)
        throw std::runtime_error("cannot inspect control socket directory " + dir.string() + ": " +
                                 errno_text(stat_errno));
    if (st.st_uid != ::geteuid())
        throw std::runtime_error("control socket directory " + dir.string() + " is owned by uid " +
                                 std::to_string(st.st_uid) + ", not by you (uid " + std::to_string(::geteuid()) +
                                 "); refusing to use it");
}

bool usable_runtime_dir(const fs::path& dir, std::size_t name_length) {
    if (dir.empty() || !dir.is_absolute()) return false;
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) return false;
    if (::access(dir.c_str(), W_OK | X_OK) != 0) return false;
    return (dir / "clipal").string().size() + 1 + name_length <= max_socket_path;
}

} // namespace

std::string control_socket_name(const std::filesystem::path& config_dir) {
    const std::string key = canonical_dir(config_dir).string();
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int md_len = 0;
    if (EVP_Digest(key.data(), key.size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1 || md_len < 8)
        throw std::runtime_error("SHA-256 is not available from OpenSSL");
    static constexpr std::string_view hex = "0123456789abcdef";
    std::string name;
    for (std::size_t i = 0; i < 8; ++i) {
        name += hex[md[i] >> 4];
        name += hex[md[i] & 0xf];
    }
    return name + ".sock";
}

std::filesystem::path control_socket_path(const std::filesystem::path& config_dir,
                                          const std::optional<std::filesystem::path>& xdg_runtime_dir) {
    const std::string name = control_socket_name(config_dir);
    fs::path parent;
    if (xdg_runtime_dir && usable_runtime_dir(*xdg_runtime_dir, name.size())) {
        parent = *xdg_runtime_dir / "clipal";
    } else {
        parent = fs::path("/tmp") / ("clipal-" + std::to_string(::geteuid()));
    }
    const fs::path path = parent / name;
    if (path.string().size() > max_socket_path)
        throw std::runtime_error("control socket path " + path.string() + " is too long for a unix socket");
    ensure_private_dir(parent);
    return path;
}

std::filesystem::path control_socket_path(const std::filesystem::path& config_dir) {
    std::optional<fs::path> xdg;
    if (const char* v = std::getenv("XDG_RUNTIME_DIR"); v != nullptr && *v != '\0') xdg = fs::path(v);
    return control_socket_path(config_dir, xdg);
}

} // namespace clipal::supervisor
