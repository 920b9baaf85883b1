// The control client: one connection per command, a request line out, a reply line in,
// each step bounded by a deadline; then printing for humans or scripts.
#include "app/control_commands.hpp"

#include "platform/cloexec.hpp"
#include "platform/process_inspection.hpp"
#include "shared/text.hpp"
#include "supervisor/control_socket_path.hpp"
#include "supervisor/status_report.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <limits>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <variant>

namespace clipal::app {

namespace {

namespace json = boost::json;
using steady = std::chrono::steady_clock;

// Replies are a status document at most; anything larger is not our supervisor.
constexpr std::size_t max_reply_bytes = 4 * 1024 * 1024;

class fd_guard {
public:
    explicit fd_guard(int fd) : fd_(fd) {}
    ~fd_guard() {
        if (fd_ >= 0) ::close(fd_);
    }
    fd_guard(const fd_guard&) = delete;
    fd_guard& operator=(const fd_guard&) = delete;
    int get() const { return fd_; }

private:
    int fd_;
};

control_reply failed(std::string why) {
    control_reply r;
    r.result = control_reply::outcome::failed;
    r.error = std::move(why);
    return r;
}

std::optional<uid_t> peer_uid(int fd) {
#if defined(SO_PEERCRED)
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
    return cred.uid;
#else
    uid_t uid = 0;
    gid_t gid = 0;
    if (::getpeereid(fd, &uid, &gid) != 0) return std::nullopt;
    return uid;
#endif
}

// Milliseconds left until `deadline`, for poll(); 0 once it has passed.
int remaining_ms(steady::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    return left > 0 ? static_cast<int>(std::min<long long>(left, 60000)) : 0;
}

// Whether `pid` still runs. A zombie (exited, not yet reaped by its parent) counts as gone
// (platform/process_inspection.hpp: /proc on Linux, ps elsewhere).
bool process_alive(pid_t pid) { return !platform::process_exited(pid); }

std::string not_running_message(const std::filesystem::path& config_dir, const std::filesystem::path& socket,
                                const control_reply& reply) {
    return "clipal is not running for config dir " + config_dir.string() + " (" + reply.error + " at " +
           socket.string() + ")\n";
}

// The reply when it is an object saying {"ok":false,...}: its error text.
std::optional<std::string> refusal(const json::value& v) {
    const auto* obj = v.if_object();
    if (obj == nullptr) return std::string("the supervisor sent a reply that is not a JSON object");
    const auto* ok = obj->if_contains("ok");
    if (ok == nullptr || !ok->is_bool() || ok->get_bool()) return std::nullopt;
    const auto* e = obj->if_contains("error");
    return e != nullptr && e->is_string() ? std::string(e->get_string()) : std::string("unspecified error");
}

// Shared first half of every command: find the socket, ask, handle the common failures.
// Returns the reply value, or the exit code already reported on `err`.
std::variant<json::value, int> ask(const std::filesystem::path& config_dir, std::string_view command, std::ostream& err,
                                   const control_client_options& options, std::string* raw = nullptr) {
    std::filesystem::path socket;
    try {
        socket = supervisor::control_socket_path(config_dir);
    } catch (const std::exception& e) {
        err << "clipal " << command << ": " << e.what() << "\n";
        return exit_control_failed;
    }
    auto reply = ask_supervisor(socket, command, options);
    if (reply.result == control_reply::outcome::not_running) {
        err << not_running_message(config_dir, socket, reply);
        return exit_not_running;
    }
    if (reply.result == control_reply::outcome::failed) {
        err << "clipal " << command << ": " << reply.error << "\n";
        return exit_control_failed;
    }
    if (const auto why = refusal(reply.value)) {
        err << "clipal " << command << ": " << *why << "\n";
        return exit_control_failed;
    }
    if (raw != nullptr) *raw = std::move(reply.raw);
    return std::move(reply.value);
}

} // namespace

control_reply ask_supervisor(const std::filesystem::path& socket_path, std::string_view command,
                             const control_client_options& options) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket_path.string();
    if (path.size() >= sizeof(addr.sun_path)) return failed("control socket path " + path + " is too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

    fd_guard fd(platform::socket_cloexec(AF_UNIX, SOCK_STREAM, 0));
    if (fd.get() < 0) return failed("cannot create a socket: " + errno_text(errno));
    // On a blocking AF_UNIX socket SO_SNDTIMEO bounds connect() when the listener's backlog is full.
    const auto ct = options.connect_timeout;
    timeval tv{static_cast<time_t>(ct.count() / 1000), static_cast<suseconds_t>((ct.count() % 1000) * 1000)};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        const int e = errno;
        control_reply r;
        if (e == ENOENT || e == ECONNREFUSED) {
            r.result = control_reply::outcome::not_running;
            r.error = e == ENOENT ? "no control socket" : "stale control socket";
            return r;
        }
        if (e == EAGAIN || e == EINPROGRESS || e == ETIMEDOUT)
            return failed("timed out connecting to " + path + " (the supervisor is not accepting)");
        return failed("cannot connect to " + path + ": " + errno_text(e));
    }
    if (const auto uid = peer_uid(fd.get()); !uid || *uid != ::geteuid())
        return failed("refusing the control socket at " + path + ": it is served by another user");
    if (::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK) != 0)
        return failed("cannot configure the socket: " + errno_text(errno));

    const auto deadline = steady::now() + options.reply_timeout;
    const std::string request = json::serialize(json::object{{"command", command}}) + "\n";
    std::size_t sent = 0;
    while (sent < request.size()) {
        pollfd p{fd.get(), POLLOUT, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return failed("timed out sending the request to " + path);
        const ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return failed("cannot send to " + path + ": " + errno_text(errno));
        if (n > 0) sent += static_cast<std::size_t>(n);
    }

    std::string in;
    char buf[16384];
    while (in.find('\n') == std::string::npos) {
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, remaining_ms(deadline)) <= 0)
            return failed("no reply from the supervisor within " + std::to_string(options.reply_timeout.count()) +
                          " ms");
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            return failed("cannot read the reply from " + path + ": " + errno_text(errno));
        }
        in.append(buf, static_cast<std::size_t>(n));
        if (in.size() > max_reply_bytes) return failed("the reply from " + path + " is too large");
    }
    if (const auto nl = in.find('\n'); nl != std::string::npos) in.resize(nl);
    if (in.empty()) return failed("the supervisor closed the connection without replying");

    boost::system::error_code ec;
    auto value = json::parse(in, ec);
    if (ec) return failed("the supervisor's reply is not valid JSON: " + ec.message());
    control_reply r;
    r.result = control_reply::outcome::ok;
    r.value = std::move(value);
    r.raw = std::move(in);
    return r;
}

int run_status(const std::filesystem::path& config_dir, bool json, std::ostream& out, std::ostream& err,
               const control_client_options& options) {
    std::string raw;
    auto reply = ask(config_dir, "status", err, options, &raw);
    if (const auto* code = std::get_if<int>(&reply)) return *code;
    if (json)
        out << raw << "\n";
    else
        out << supervisor::format_status(std::get<json::value>(reply), std::chrono::system_clock::now());
    return 0;
}

namespace {

volatile std::sig_atomic_t watch_stop = 0;

extern "C" void on_watch_signal(int) { watch_stop = 1; }

// Installs the watch's handlers for SIGINT, SIGTERM and SIGHUP, without SA_RESTART so a
// blocking wait returns at once; the destructor puts the previous ones back.
class watch_signals {
public:
    watch_signals() {
        watch_stop = 0;
        struct sigaction sa {};
        sa.sa_handler = on_watch_signal;
        sigemptyset(&sa.sa_mask);
        for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &sa, &previous_[i]);
    }
    ~watch_signals() {
        for (std::size_t i = 0; i < signals_.size(); ++i) ::sigaction(signals_[i], &previous_[i], nullptr);
    }
    watch_signals(const watch_signals&) = delete;
    watch_signals& operator=(const watch_signals&) = delete;

private:
    static constexpr std::array<int, 3> signals_{SIGINT, SIGTERM, SIGHUP};
    std::array<struct sigaction, 3> previous_{};
};

// Rows and columns of the terminal on stdout; none when it cannot say.
std::optional<std::pair<std::size_t, std::size_t>> terminal_size() {
    winsize ws{};
    if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return std::nullopt;
    return std::pair<std::size_t, std::size_t>{ws.ws_row, ws.ws_col};
}

// The first `columns` terminal columns of `line` (UTF-8 code points as one column each).
std::string_view cut(std::string_view line, std::size_t columns) {
    std::size_t seen = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
        if (seen++ == columns) return line.substr(0, i);
    }
    return line;
}

// One screen: the cursor homed, every line erased before it is written (no flicker, no
// leftovers of a longer previous frame), the rest of the screen cleared. Lines are cut to
// the width and the frame to the height, so the terminal never scrolls.
std::string screen(std::string_view text, std::optional<std::pair<std::size_t, std::size_t>> size) {
    std::string out = "\033[H";
    std::size_t rows = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        if (size && rows + 1 >= size->first) {
            out += "\033[K..."; // the last row, without a newline that would scroll
            break;
        }
        out += "\033[K";
        out += size ? cut(line, size->second) : line;
        out += '\n';
        ++rows;
    }
    out += "\033[J";
    return out;
}

// What the watch shows below its title: the view, or why there is none.
std::string watch_body(const std::filesystem::path& config_dir, const control_client_options& options) {
    std::filesystem::path socket;
    try {
        socket = supervisor::control_socket_path(config_dir);
    } catch (const std::exception& e) {
        return std::string("clipal status: ") + e.what() + "\n";
    }
    auto reply = ask_supervisor(socket, "status", options);
    if (reply.result == control_reply::outcome::not_running)
        return not_running_message(config_dir, socket, reply) + "(trying again every second)\n";
    if (reply.result == control_reply::outcome::failed)
        return "clipal status: " + reply.error + "\n(trying again every second)\n";
    if (const auto why = refusal(reply.value)) return "clipal status: " + *why + "\n(trying again every second)\n";
    return supervisor::format_watch(reply.value, std::chrono::system_clock::now());
}

std::string clock_text(std::chrono::system_clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::localtime_r(&tt, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    return buf;
}

} // namespace

int run_status_watch(const std::filesystem::path& config_dir, bool terminal, std::ostream& out, std::ostream& err,
                     const control_client_options& options, std::chrono::milliseconds interval) {
    if (!terminal) {
        auto reply = ask(config_dir, "status", err, options);
        if (const auto* code = std::get_if<int>(&reply)) return *code;
        out << supervisor::format_watch(std::get<json::value>(reply), std::chrono::system_clock::now());
        return out ? 0 : exit_control_failed;
    }
    const watch_signals signals;
    const auto every = std::max(interval, std::chrono::milliseconds(100));
    const std::string period =
        every.count() % 1000 == 0 ? std::to_string(every.count() / 1000) + "s" : std::to_string(every.count()) + "ms";
    out << "\033[?25l\033[2J" << std::flush; // hide the cursor, clear the screen once
    while (watch_stop == 0) {
        const auto next = steady::now() + every;
        std::string body = watch_body(config_dir, options);
        if (watch_stop != 0) break;
        const std::string title = "clipal status --watch, every " + period + " (Ctrl-C quits)  " +
                                  clock_text(std::chrono::system_clock::now()) + "\n\n";
        out << screen(title + body, terminal_size()) << std::flush;
        if (!out) break; // the terminal went away
        // Sleep in short steps: a signal ends the watch within 100 ms even where a sleep is restarted.
        while (watch_stop == 0 && steady::now() < next)
            std::this_thread::sleep_for(
                std::min<steady::duration>(next - steady::now(), std::chrono::milliseconds(100)));
    }
    out << "\033[?25h" << std::flush; // the cursor back; the last view stays on screen
    return 0;
}

int run_reload(const std::filesystem::path& config_dir, std::ostream& out, std::ostream& err,
               const control_client_options& options) {
    auto reply = ask(config_dir, "reload", err, options);
    if (const auto* code = std::get_if<int>(&reply)) return *code;
    out << "clipal reloaded config dir " << config_dir.string() << "\n";
    return 0;
}

int run_stop(const std::filesystem::path& config_dir, std::ostream& out, std::ostream& err,
             const control_client_options& options) {
    auto reply = ask(config_dir, "stop", err, options);
    if (const auto* code = std::get_if<int>(&reply)) return *code;
    const auto& v = std::get<json::value>(reply);
    const auto* pid_value = v.as_object().if_contains("pid");
    const auto* pid_number = pid_value != nullptr ? pid_value->if_int64() : nullptr;
    if (pid_number == nullptr || *pid_number <= 0 || *pid_number > std::numeric_limits<pid_t>::max()) {
        out << "clipal for config dir " << config_dir.string() << " is stopping\n";
        return 0;
    }
    const auto pid = static_cast<pid_t>(*pid_number);
    out << "stopping clipal (pid " << pid << ") for config dir " << config_dir.string() << "\n";
    if (options.stop_wait.count() <= 0) return 0;
    // Polling is fine here: a short-lived command waiting on another process's exit.
    const auto deadline = steady::now() + options.stop_wait;
    while (process_alive(pid)) {
        if (steady::now() >= deadline) {
            err << "clipal stop: pid " << pid << " is still running after "
                << std::chrono::duration_cast<std::chrono::seconds>(options.stop_wait).count()
                << "s (in-flight requests may still be finishing)\n";
            return exit_control_failed;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    out << "clipal stopped\n";
    return 0;
}

} // namespace clipal::app
