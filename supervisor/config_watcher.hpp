// Notices edits to the config directory (config.yaml and the three profile files) and
// reports them, debounced, so that hot reload sees whole files. inotify on Linux (no
// polling, ~0 idle CPU); a portable mtime/size poll every second elsewhere.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>

namespace clipal::supervisor {

class config_watcher {
public:
    // Receives the names (not paths) of the config files that changed, e.g.
    // {"codex.yaml"}; all four when the directory itself appeared, vanished or the kernel
    // queue overflowed. Runs on the executor.
    using change_handler = std::function<void(std::set<std::string> changed_file_names)>;

    // native: inotify where the build has it (falling back to polling at start() if the
    // kernel refuses an inotify instance); polling: always poll (for tests and odd filesystems).
    enum class backend { native, polling };

    // `debounce`: the quiet time after the last event before on_change runs; a steady
    // stream of events still reports at least once a second.
    config_watcher(const boost::asio::any_io_executor& ex, std::filesystem::path dir,
                   std::chrono::milliseconds debounce, change_handler on_change);
    config_watcher(const boost::asio::any_io_executor& ex, std::filesystem::path dir,
                   std::chrono::milliseconds debounce, change_handler on_change, backend b);
    // Calls stop().
    ~config_watcher();
    config_watcher(const config_watcher&) = delete;
    config_watcher& operator=(const config_watcher&) = delete;

    // Begins watching; changes after start() returns are reported. The directory need not
    // exist yet (its creation is noticed if its parent exists). Call once, on the
    // executor's thread or before it runs. Does not throw for a missing directory.
    void start();

    // No on_change call happens after stop() returns. Idempotent; call on the executor's thread.
    void stop();

    // What start() chose (native may have fallen back to polling).
    backend active_backend() const;

    // config.yaml, claude-code.yaml, codex.yaml, gemini.yaml.
    static bool is_config_file(std::string_view name);

    class impl; // the backends, see config_watcher_backend.hpp

private:
    boost::asio::any_io_executor ex_;
    std::filesystem::path dir_;
    std::chrono::milliseconds debounce_;
    change_handler on_change_;
    backend requested_;
    std::shared_ptr<impl> impl_;
};

} // namespace clipal::supervisor
