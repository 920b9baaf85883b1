// sd_notify(3) without libsystemd: one datagram per notification on an AF_UNIX socket.
#include "supervisor/sd_notify.hpp"

#include "platform/cloexec.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace clipal::supervisor {

namespace {

std::string_view env(const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? std::string_view{} : std::string_view{v};
}

std::optional<unsigned long long> parse_unsigned(std::string_view s) {
    unsigned long long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

} // namespace

bool sd_notify_send_to(std::string_view notify_socket, std::string_view state) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    // An abstract socket is named by a leading NUL instead of '@' and its length counts.
    if (notify_socket.size() < 2 || notify_socket.size() > sizeof(addr.sun_path) - 1) return false;
    if (notify_socket.front() != '/' && notify_socket.front() != '@') return false;
    std::memcpy(addr.sun_path, notify_socket.data(), notify_socket.size());
    if (notify_socket.front() == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + notify_socket.size() +
                                            (notify_socket.front() == '@' ? 0 : 1));

    const int fd = platform::socket_cloexec(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) return false;
    const ssize_t n =
        ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    ::close(fd);
    return n == static_cast<ssize_t>(state.size());
}

bool sd_notify_send(std::string_view state) {
    const auto socket = env("NOTIFY_SOCKET");
    if (socket.empty()) return false;
    return sd_notify_send_to(socket, state);
}

namespace sd_notify {

bool ready() { return sd_notify_send("READY=1"); }

bool reloading() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const auto usec =
        static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
    return sd_notify_send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

bool stopping() { return sd_notify_send("STOPPING=1"); }

bool status(std::string_view text) {
    std::string line = "STATUS=";
    line += text;
    std::replace(line.begin(), line.end(), '\n', ' ');
    return sd_notify_send(line);
}

bool watchdog() { return sd_notify_send("WATCHDOG=1"); }

std::optional<std::chrono::microseconds> watchdog_interval() {
    const auto usec = parse_unsigned(env("WATCHDOG_USEC"));
    if (!usec || *usec == 0 || *usec > static_cast<unsigned long long>(std::chrono::microseconds::max().count()))
        return std::nullopt;
    if (const auto pid_text = env("WATCHDOG_PID"); !pid_text.empty()) {
        const auto pid = parse_unsigned(pid_text);
        if (!pid || *pid != static_cast<unsigned long long>(::getpid())) return std::nullopt;
    }
    return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(*usec));
}

bool is_notify_variable(std::string_view name_or_entry) {
    const auto name = name_or_entry.substr(0, name_or_entry.find('='));
    return name == "NOTIFY_SOCKET" || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID";
}

std::vector<std::string> without_notify_variables(std::vector<std::string> env_entries) {
    std::erase_if(env_entries, [](const std::string& e) { return is_notify_variable(e); });
    return env_entries;
}

} // namespace sd_notify

} // namespace clipal::supervisor
