// The inotify backend: one watch on the config directory (so editors that save by rename
// are seen) and one on its parent (so the directory's own creation or removal is seen).
// Wrapped in a stream_descriptor: the process sleeps until the kernel has news.
#include "supervisor/config_watcher_backend.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace clipal::supervisor {

namespace {

constexpr std::uint32_t dir_mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB |
                                   IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
constexpr std::uint32_t parent_mask = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR;

class inotify_watcher final : public config_watcher::impl {
public:
    inotify_watcher(const boost::asio::any_io_executor& ex, std::filesystem::path d, std::chrono::milliseconds debounce,
                    config_watcher::change_handler on_change, int fd)
        : impl(ex, std::move(d), debounce, std::move(on_change)), fd_(ex, fd) {}

    void start() override {
        const auto parent = dir().parent_path();
        if (parent != dir()) parent_wd_ = ::inotify_add_watch(fd_.native_handle(), parent.c_str(), parent_mask);
        watch_dir();
        do_wait();
    }

    config_watcher::backend kind() const override { return config_watcher::backend::native; }

protected:
    void stop_watching() override {
        boost::system::error_code ignored;
        fd_.close(ignored); // closing the inotify descriptor drops its watches
    }

private:
    // (Re)attaches the directory watch; a missing directory is not an error, the parent
    // watch tells when it appears.
    bool watch_dir() {
        const int wd = ::inotify_add_watch(fd_.native_handle(), dir().c_str(), dir_mask);
        if (wd < 0) return false;
        // A different inode now lives at the path (the directory was replaced): drop the old watch.
        if (dir_wd_ >= 0 && dir_wd_ != wd) ::inotify_rm_watch(fd_.native_handle(), dir_wd_);
        dir_wd_ = wd;
        return true;
    }

    void do_wait() {
        fd_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                       [self = std::static_pointer_cast<inotify_watcher>(shared_from_this())](
                           const boost::system::error_code& ec) { self->on_readable(ec); });
    }

    void on_readable(const boost::system::error_code& ec) {
        if (ec || stopped()) return;
        for (;;) {
            const ssize_t n = ::read(fd_.native_handle(), buffer_.data(), buffer_.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break; // EAGAIN: drained
            handle_events(static_cast<std::size_t>(n));
        }
        if (!stopped()) do_wait();
    }

    void handle_events(std::size_t n) {
        std::size_t off = 0;
        while (off + sizeof(inotify_event) <= n) {
            inotify_event ev{};
            std::memcpy(&ev, buffer_.data() + off, sizeof ev);
            const char* name_ptr = buffer_.data() + off + sizeof ev;
            off += sizeof ev + ev.len;
            if (off > n) break;
            // The name is NUL-padded to an alignment boundary.
            const std::string name = ev.len > 0 ? std::string(name_ptr, ::strnlen(name_ptr, ev.len)) : std::string();
            handle_event(ev, name);
        }
    }

    void handle_event(const inotify_event& ev, const std::string& name) {
        if (ev.mask & IN_Q_OVERFLOW) return note_all(); // events were lost: assume everything changed
        if (ev.wd == dir_wd_ && dir_wd_ >= 0) {
            if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
                // A moved directory keeps its watch (inodes move); we watch the path instead.
                ::inotify_rm_watch(fd_.native_handle(), dir_wd_);
                dir_wd_ = -1;
                watch_dir();
                return note_all();
            }
            if (ev.mask & IN_IGNORED) {
                dir_wd_ = -1;
                return;
            }
            if (ev.mask & IN_CREATE) return on_created(name);
            return note(name);
        }
        if (ev.wd == parent_wd_ && parent_wd_ >= 0) {
            if (ev.mask & IN_IGNORED) parent_wd_ = -1;
            if (name != dir().filename().string()) return;
            if (ev.mask & (IN_CREATE | IN_MOVED_TO)) watch_dir();
            note_all();
        }
    }

    // A new regular file is being written by whoever created it; IN_CLOSE_WRITE follows
    // when it is complete, so reporting the creation would load a half-written file.
    // Links appear complete and get no close event, so they count at once.
    void on_created(const std::string& name) {
        struct stat st {};
        const auto path = dir() / name;
        if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) return;
        note(name);
    }

    boost::asio::posix::stream_descriptor fd_;
    int dir_wd_ = -1;
    int parent_wd_ = -1;
    alignas(inotify_event) std::array<char, 16 * 1024> buffer_{};
};

} // namespace

std::shared_ptr<config_watcher::impl> make_inotify_watcher(const boost::asio::any_io_executor& ex,
                                                           std::filesystem::path dir,
                                                           std::chrono::milliseconds debounce,
                                                           config_watcher::change_handler on_change) {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return nullptr;
    return std::make_shared<inotify_watcher>(ex, std::move(dir), debounce, std::move(on_change), fd);
}

} // namespace clipal::supervisor
