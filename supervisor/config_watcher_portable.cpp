// The portable backend: compares each config file's existence, mtime, size and
// permissions, and the directory's own identity, against the previous look, once per
// interval. Used where inotify is missing (macOS, the portable build on Linux).
#include "supervisor/config_watcher_backend.hpp"

#include "shared/profile.hpp"

#include <sys/stat.h>

#include <map>
#include <optional>

namespace clipal::supervisor {

namespace {

struct file_stamp {
    bool exists = false;
    std::filesystem::file_time_type mtime{};
    std::uintmax_t size = 0;
    std::filesystem::perms perms = std::filesystem::perms::none;

    bool operator==(const file_stamp&) const = default;
};

// The directory itself: whether it exists and which one it is. A directory removed and
// made again, or replaced by a rename, reports all four files, as the inotify backend does.
struct dir_stamp {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;

    bool operator==(const dir_stamp&) const = default;
};

dir_stamp stamp_dir(const std::filesystem::path& p) {
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    return {true, st.st_dev, st.st_ino};
}

file_stamp stamp(const std::filesystem::path& p) {
    std::error_code ec;
    file_stamp s;
    const auto st = std::filesystem::status(p, ec);
    if (ec || !std::filesystem::exists(st)) return s;
    s.exists = true;
    s.perms = st.permissions();
    s.mtime = std::filesystem::last_write_time(p, ec);
    s.size = std::filesystem::is_regular_file(st) ? std::filesystem::file_size(p, ec) : 0;
    return s;
}

class polling_watcher final : public config_watcher::impl {
public:
    polling_watcher(const boost::asio::any_io_executor& ex, std::filesystem::path d, std::chrono::milliseconds debounce,
                    config_watcher::change_handler on_change, std::chrono::milliseconds interval)
        : impl(ex, std::move(d), debounce, std::move(on_change)), timer_(ex), interval_(interval) {
        names_.emplace_back("config.yaml");
        for (const auto& p : all_profiles) names_.emplace_back(p.file);
    }

    void start() override {
        dir_ = stamp_dir(dir());
        for (const auto& n : names_) last_[n] = stamp(dir() / n);
        do_wait();
    }

    config_watcher::backend kind() const override { return config_watcher::backend::polling; }

protected:
    void stop_watching() override { timer_.cancel(); }

private:
    void do_wait() {
        timer_.expires_after(interval_);
        timer_.async_wait([self = std::static_pointer_cast<polling_watcher>(shared_from_this())](
                              const boost::system::error_code& ec) { self->on_tick(ec); });
    }

    void on_tick(const boost::system::error_code& ec) {
        if (ec || stopped()) return;
        if (auto now = stamp_dir(dir()); !(now == dir_)) {
            dir_ = now;
            note_all();
        }
        for (const auto& n : names_) {
            auto now = stamp(dir() / n);
            if (now == last_[n]) continue;
            last_[n] = now;
            note(n);
        }
        if (!stopped()) do_wait();
    }

    boost::asio::steady_timer timer_;
    std::chrono::milliseconds interval_;
    std::vector<std::string> names_;
    std::map<std::string, file_stamp> last_;
    dir_stamp dir_;
};

} // namespace

std::shared_ptr<config_watcher::impl> make_polling_watcher(const boost::asio::any_io_executor& ex,
                                                           std::filesystem::path dir,
                                                           std::chrono::milliseconds debounce,
                                                           config_watcher::change_handler on_change,
                                                           std::chrono::milliseconds interval) {
    return std::make_shared<polling_watcher>(ex, std::move(dir), debounce, std::move(on_change), interval);
}

} // namespace clipal::supervisor
