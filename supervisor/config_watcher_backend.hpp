// Internal to config_watcher: the debounce every backend shares, and the factories of the
// platform backends (config_watcher_linux.cpp, config_watcher_portable.cpp).
#pragma once

#include "supervisor/config_watcher.hpp"

#include <boost/asio/steady_timer.hpp>

namespace clipal::supervisor {

class config_watcher::impl : public std::enable_shared_from_this<config_watcher::impl> {
public:
    impl(const boost::asio::any_io_executor& ex, std::filesystem::path dir, std::chrono::milliseconds debounce,
         change_handler on_change);
    virtual ~impl() = default;
    impl(const impl&) = delete;
    impl& operator=(const impl&) = delete;

    virtual void start() = 0;
    virtual backend kind() const = 0;
    void stop();

protected:
    // A config file changed: remember it and (re)arm the debounce. Other names are ignored.
    void note(const std::string& name);
    // Something happened to the directory as a whole.
    void note_all();
    virtual void stop_watching() = 0;

    const boost::asio::any_io_executor& executor() const { return ex_; }
    const std::filesystem::path& dir() const { return dir_; }
    bool stopped() const { return stopped_; }

private:
    void on_timer(const boost::system::error_code& ec);

    boost::asio::any_io_executor ex_;
    std::filesystem::path dir_;
    std::chrono::milliseconds debounce_;
    change_handler on_change_;
    boost::asio::steady_timer timer_;
    std::set<std::string> pending_;
    std::chrono::steady_clock::time_point first_pending_{};
    bool stopped_ = false;
};

// nullptr when the kernel gives no inotify instance (limits reached); never on success.
std::shared_ptr<config_watcher::impl> make_inotify_watcher(const boost::asio::any_io_executor& ex,
                                                           std::filesystem::path dir,
                                                           std::chrono::milliseconds debounce,
                                                           config_watcher::change_handler on_change);

std::shared_ptr<config_watcher::impl> make_polling_watcher(const boost::asio::any_io_executor& ex,
                                                           std::filesystem::path dir,
                                                           std::chrono::milliseconds debounce,
                                                           config_watcher::change_handler on_change,
                                                           std::chrono::milliseconds interval);

} // namespace clipal::supervisor
