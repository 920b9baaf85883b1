#include "support/proc_stat.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <filesystem>

namespace clipal::test {

std::optional<std::string> read_proc_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        const auto n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        ::close(fd);
        if (n < 0) return std::nullopt;
        return out;
    }
}

std::optional<proc_stat> read_proc_stat(int pid) {
    const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/stat");
    if (!text) return std::nullopt;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    const auto close = text->rfind(')');
    if (close == std::string::npos || close + 4 > text->size()) return std::nullopt;
    proc_stat st;
    st.state = (*text)[close + 2];
    const char* first = text->data() + close + 4;
    const char* last = text->data() + text->size();
    if (std::from_chars(first, last, st.ppid).ec != std::errc{}) return std::nullopt;
    return st;
}

bool process_gone(int pid) {
    const auto st = read_proc_stat(pid);
    return !st || st->state == 'Z';
}

std::vector<int> children_of(int parent) {
    std::vector<int> pids;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
        const auto name = e.path().filename().string();
        int pid = 0;
        const auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), pid);
        if (err != std::errc{} || end != name.data() + name.size()) continue;
        if (const auto st = read_proc_stat(pid); st && st->ppid == parent) pids.push_back(pid);
    }
    return pids;
}

std::size_t open_descriptor_count(int pid) {
    std::error_code ec;
    std::size_t n = 0;
    for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
         it.increment(ec))
        ++n;
    return n;
}

long resident_kib(int pid) {
    const auto status = read_proc_file("/proc/" + std::to_string(pid) + "/status");
    if (!status) return -1;
    const auto at = status->find("VmRSS:");
    return at == std::string::npos ? -1 : std::strtol(status->c_str() + at + 6, nullptr, 10);
}

} // namespace clipal::test
