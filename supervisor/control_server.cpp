// Control socket server: the instance lock, stale-socket cleanup, the accept loop with a
// connection bound, and one session object per connection (read line, handle, reply).
#include "supervisor/control_server.hpp"

#include "platform/cloexec.hpp"
#include "shared/text.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace clipal::supervisor {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;
using stream_protocol = asio::local::stream_protocol;

namespace detail {
class control_session;
} // namespace detail

namespace {

struct peer_credentials {
    uid_t uid = 0;
    pid_t pid = 0; // 0 where the platform does not tell
};

std::optional<peer_credentials> peer_of(int fd) {
#if defined(SO_PEERCRED)
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
    return peer_credentials{cred.uid, cred.pid};
#else
    uid_t uid = 0;
    gid_t gid = 0;
    if (::getpeereid(fd, &uid, &gid) != 0) return std::nullopt;
    return peer_credentials{uid, 0};
#endif
}

// The outcome of knocking on an existing socket file.
struct probe_result {
    bool live = false;
    pid_t pid = 0;
};

// A non-blocking connect: a listener answers at once (or has a full backlog, EAGAIN,
// which also means alive); a dead instance's file refuses.
probe_result probe(const std::filesystem::path& path) {
    probe_result r;
    const int fd = platform::socket_cloexec(AF_UNIX, SOCK_STREAM, 0, true);
    if (fd < 0) return r;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string s = path.string();
    std::memcpy(addr.sun_path, s.c_str(), std::min(s.size() + 1, sizeof(addr.sun_path) - 1));
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
        r.live = true;
        if (const auto peer = peer_of(fd)) r.pid = peer->pid;
    }
    ::close(fd);
    return r;
}

// Only diagnostics live in the lock file (who holds it); the lock itself is what matters,
// so a failure to write it is not an error.
bool record_pid(int fd) {
    const std::string text = std::to_string(::getpid()) + "\n";
    return ::ftruncate(fd, 0) == 0 && ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
}

pid_t pid_in_lock_file(int fd) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return 0;
    return static_cast<pid_t>(std::strtol(buf, nullptr, 10));
}

} // namespace

struct control_server::state : std::enable_shared_from_this<control_server::state> {
    state(const asio::any_io_executor& ex, handler h, limits l)
        : acceptor(ex), retry_timer(ex), on_request(std::move(h)), lim(l) {}
    ~state() {
        if (lock_fd >= 0) ::close(lock_fd);
    }

    void do_accept();
    void on_accept(const error_code& ec, stream_protocol::socket socket);
    void session_ended();

    stream_protocol::acceptor acceptor;
    asio::steady_timer retry_timer; // after accept errors such as EMFILE, instead of spinning
    handler on_request;
    limits lim;
    std::size_t active = 0;
    bool accepting = false;
    bool stopped = false;
    std::vector<std::weak_ptr<detail::control_session>> sessions;
    int lock_fd = -1;
    dev_t socket_dev = 0;
    ino_t socket_ino = 0;
    bool bound = false;
};

namespace detail {

// One connection: owns its socket, buffers and deadline; lives until the reply is written
// or the deadline fires, whichever comes first.
class control_session : public std::enable_shared_from_this<control_session> {
public:
    control_session(stream_protocol::socket socket, std::shared_ptr<control_server::state> server)
        : socket_(std::move(socket)), deadline_(socket_.get_executor()), server_(std::move(server)) {}
    ~control_session() { server_->session_ended(); }

    void start() {
        deadline_.expires_after(server_->lim.deadline);
        deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
            if (!ec) self->close();
        });
        const auto peer = peer_of(socket_.native_handle());
        if (!peer || peer->uid != ::geteuid()) {
            respond(control_server::error_reply("permission denied: the control socket serves only its owner"));
            return;
        }
        do_read();
    }

    // The server is stopping: connections still waiting for a request or a handler go.
    void abandon() {
        if (!replying_) close();
    }

    void respond(json::value reply) {
        if (replying_ || done_) return;
        replying_ = true;
        out_ = json::serialize(reply);
        out_ += '\n';
        asio::async_write(socket_, asio::buffer(out_),
                          [self = shared_from_this()](const error_code&, std::size_t) { self->close(); });
    }

private:
    void do_read() {
        asio::async_read_until(socket_, asio::dynamic_buffer(in_, server_->lim.max_request_bytes), '\n',
                               [self = shared_from_this()](const error_code& ec, std::size_t n) {
                                   self->on_read(ec, n);
                               });
    }

    void on_read(const error_code& ec, std::size_t n) {
        if (done_) return;
        if (ec == asio::error::not_found) {
            respond(control_server::error_reply("request line longer than " +
                                                std::to_string(server_->lim.max_request_bytes) + " bytes"));
            return;
        }
        // A client that shuts down its side right after the request needs no newline.
        if (ec == asio::error::eof && !in_.empty())
            n = in_.size();
        else if (ec)
            return close();

        std::string_view line(in_.data(), n);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
        error_code parse_ec;
        const json::value request = json::parse(line, parse_ec);
        const json::object* obj = parse_ec ? nullptr : request.if_object();
        const json::value* command = obj != nullptr ? obj->if_contains("command") : nullptr;
        if (command == nullptr || !command->is_string() || command->get_string().empty()) {
            respond(control_server::error_reply(
                R"(malformed request: expected one line like {"command":"status"} (status, reload or stop))"));
            return;
        }
        handle(std::string(command->get_string()));
    }

    void handle(const std::string& command) {
        const std::weak_ptr<control_session> weak = weak_from_this();
        const auto ex = socket_.get_executor();
        control_server::responder respond_later = [weak, ex](json::value reply) {
            asio::dispatch(ex, [weak, reply = std::move(reply)]() mutable {
                if (const auto self = weak.lock()) self->respond(std::move(reply));
            });
        };
        try {
            server_->on_request(command, std::move(respond_later));
        } catch (const std::exception& e) {
            respond(control_server::error_reply(std::string("internal error: ") + e.what()));
        }
    }

    void close() {
        if (done_) return;
        done_ = true;
        deadline_.cancel();
        error_code ignored;
        socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
        socket_.close(ignored);
    }

    stream_protocol::socket socket_;
    asio::steady_timer deadline_;
    std::shared_ptr<control_server::state> server_;
    std::string in_;
    std::string out_;
    bool replying_ = false;
    bool done_ = false;
};

} // namespace detail

void control_server::state::do_accept() {
    if (stopped || accepting || active >= lim.max_connections) return;
    accepting = true;
    acceptor.async_accept([self = shared_from_this()](const error_code& ec, stream_protocol::socket socket) {
        self->on_accept(ec, std::move(socket));
    });
}

void control_server::state::on_accept(const error_code& ec, stream_protocol::socket socket) {
    accepting = false;
    if (stopped) return;
    if (ec) {
        retry_timer.expires_after(std::chrono::milliseconds(100));
        retry_timer.async_wait([self = shared_from_this()](const error_code& wait_ec) {
            if (!wait_ec) self->do_accept();
        });
        return;
    }
    ++active;
    auto s = std::make_shared<detail::control_session>(std::move(socket), shared_from_this());
    std::erase_if(sessions, [](const std::weak_ptr<detail::control_session>& w) { return w.expired(); });
    sessions.push_back(s);
    s->start();
    do_accept();
}

void control_server::state::session_ended() {
    --active;
    if (!stopped) do_accept();
}

control_server::control_server(const asio::any_io_executor& ex, std::filesystem::path socket_path,
                               std::filesystem::path config_dir, handler h)
    : control_server(ex, std::move(socket_path), std::move(config_dir), std::move(h), limits{}) {}

control_server::control_server(const asio::any_io_executor& ex, std::filesystem::path socket_path,
                               std::filesystem::path config_dir, handler h, limits l)
    : socket_path_(std::move(socket_path)),
      config_dir_(std::move(config_dir)),
      state_(std::make_shared<state>(ex, std::move(h), l)) {}

control_server::~control_server() { stop(); }

std::size_t control_server::open_connections() const { return state_->active; }

json::value control_server::error_reply(std::string_view message) {
    return json::object{{"ok", false}, {"error", message}};
}

void control_server::start() {
    const std::string busy_prefix = "another clipal is already serving config dir " + config_dir_.string();
    auto busy = [&](pid_t pid) {
        return std::runtime_error(busy_prefix + (pid > 0 ? " (pid " + std::to_string(pid) + ")" : " (pid unknown)"));
    };

    // The lock decides who owns the socket, so two instances starting at once cannot both
    // "clean up" and then steal each other's socket file.
    const std::filesystem::path lock_path = socket_path_.string() + ".lock";
    const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock_fd < 0)
        throw std::runtime_error("cannot open control lock file " + lock_path.string() + ": " + errno_text(errno));
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        const auto live = probe(socket_path_);
        const pid_t pid = live.pid > 0 ? live.pid : pid_in_lock_file(lock_fd);
        ::close(lock_fd);
        if (e == EWOULDBLOCK) throw busy(pid);
        throw std::runtime_error("cannot lock " + lock_path.string() + ": " + errno_text(e));
    }
    state_->lock_fd = lock_fd;
    record_pid(lock_fd);

    struct stat st {};
    if (::lstat(socket_path_.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            throw std::runtime_error(socket_path_.string() + " exists and is not a socket; remove it and retry");
        // Holding the lock, a live listener can only be an instance that does not lock.
        if (const auto live = probe(socket_path_); live.live) throw busy(live.pid);
        if (::unlink(socket_path_.c_str()) != 0 && errno != ENOENT)
            throw std::runtime_error("cannot remove stale control socket " + socket_path_.string() + ": " +
                                     errno_text(errno));
    }

    error_code ec;
    auto& acceptor = state_->acceptor;
    const stream_protocol::endpoint endpoint(socket_path_.string());
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (ec) throw std::runtime_error("cannot create control socket " + socket_path_.string() + ": " + ec.message());
    state_->bound = true;
    if (::lstat(socket_path_.c_str(), &st) == 0) {
        state_->socket_dev = st.st_dev;
        state_->socket_ino = st.st_ino;
    }
    // The directory is already 0700; the file mode is a second fence, SO_PEERCRED a third.
    if (::chmod(socket_path_.c_str(), 0600) != 0)
        throw std::runtime_error("cannot restrict control socket " + socket_path_.string() + ": " + errno_text(errno));
    acceptor.listen(static_cast<int>(state_->lim.max_connections) * 4, ec);
    if (ec) throw std::runtime_error("cannot listen on control socket " + socket_path_.string() + ": " + ec.message());
    state_->do_accept();
}

void control_server::stop() {
    if (!state_ || state_->stopped) return;
    auto& s = *state_;
    s.stopped = true;
    error_code ignored;
    s.acceptor.close(ignored);
    s.retry_timer.cancel();
    // Remove the file before releasing the lock, and only if it is still the one we bound,
    // so a successor that already took over keeps its socket.
    struct stat st {};
    if (s.bound && ::lstat(socket_path_.c_str(), &st) == 0 && st.st_dev == s.socket_dev && st.st_ino == s.socket_ino)
        ::unlink(socket_path_.c_str());
    if (s.lock_fd >= 0) {
        ::close(s.lock_fd);
        s.lock_fd = -1;
    }
    for (const auto& w : s.sessions)
        if (const auto session_ptr = w.lock()) session_ptr->abandon();
    s.sessions.clear();
}

} // namespace clipal::supervisor
