// The part of config_watcher every platform shares: choosing a backend and debouncing.
#include "supervisor/config_watcher.hpp"

#include "supervisor/config_watcher_backend.hpp"

#include "clipal/platform_config.hpp"

#include "shared/profile.hpp"

namespace clipal::supervisor {

namespace {

// However busy the directory, a change is reported within this time (SPEC §6: live in ~1 s).
constexpr std::chrono::milliseconds max_delay{1000};
constexpr std::chrono::milliseconds poll_interval{1000};

} // namespace

config_watcher::impl::impl(const boost::asio::any_io_executor& ex, std::filesystem::path dir,
                           std::chrono::milliseconds debounce, change_handler on_change)
    : ex_(ex), dir_(std::move(dir)), debounce_(debounce), on_change_(std::move(on_change)), timer_(ex) {}

void config_watcher::impl::stop() {
    if (stopped_) return;
    stopped_ = true;
    timer_.cancel();
    pending_.clear();
    stop_watching();
}

void config_watcher::impl::note(const std::string& name) {
    if (stopped_ || !is_config_file(name)) return;
    const auto now = std::chrono::steady_clock::now();
    if (pending_.empty()) first_pending_ = now;
    pending_.insert(name);
    timer_.expires_at(std::min(now + debounce_, first_pending_ + std::max(debounce_, max_delay)));
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) { self->on_timer(ec); });
}

void config_watcher::impl::note_all() {
    note("config.yaml");
    for (const auto& p : all_profiles) note(std::string(p.file));
}

void config_watcher::impl::on_timer(const boost::system::error_code& ec) {
    // A wait whose completion was already queued when note() re-armed the timer arrives
    // early with success; the newer wait is the one that counts.
    if (ec || stopped_ || pending_.empty() || std::chrono::steady_clock::now() < timer_.expiry()) return;
    auto changed = std::move(pending_);
    pending_.clear();
    on_change_(std::move(changed));
}

config_watcher::config_watcher(const boost::asio::any_io_executor& ex, std::filesystem::path dir,
                               std::chrono::milliseconds debounce, change_handler on_change)
    : config_watcher(ex, std::move(dir), debounce, std::move(on_change), backend::native) {}

config_watcher::config_watcher(const boost::asio::any_io_executor& ex, std::filesystem::path dir,
                               std::chrono::milliseconds debounce, change_handler on_change, backend b)
    : ex_(ex),
      dir_(std::filesystem::absolute(dir).lexically_normal()),
      debounce_(debounce),
      on_change_(std::move(on_change)),
      requested_(b) {
    // "/a/b/" names the same directory as "/a/b"; the backends need its last component.
    if (!dir_.has_filename() && dir_.has_relative_path()) dir_ = dir_.parent_path();
}

config_watcher::~config_watcher() { stop(); }

void config_watcher::start() {
#if defined(CLIPAL_PLATFORM_LINUX)
    if (requested_ == backend::native) impl_ = make_inotify_watcher(ex_, dir_, debounce_, on_change_);
#endif
    if (!impl_) impl_ = make_polling_watcher(ex_, dir_, debounce_, on_change_, poll_interval);
    impl_->start();
}

void config_watcher::stop() {
    if (impl_) impl_->stop();
}

config_watcher::backend config_watcher::active_backend() const { return impl_ ? impl_->kind() : requested_; }

bool config_watcher::is_config_file(std::string_view name) {
    if (name == "config.yaml") return true;
    for (const auto& p : all_profiles)
        if (p.file == name) return true;
    return false;
}

} // namespace clipal::supervisor
