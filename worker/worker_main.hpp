// Entry point of the worker role (`clipal worker ...`, a hidden subcommand). Standalone
// it loads the config itself and listens on --listen; under the supervisor it gets its
// config and its connections over the IPC channel.
#pragma once

#include "shared/config_loader.hpp"
#include "shared/profile.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace clipal::worker {

struct worker_options {
    profile id = profile::claude_code;
    std::filesystem::path config_dir;
    config_overrides overrides;
    std::optional<std::string> listen; // "127.0.0.1:0", "[::1]:8080"
    std::optional<int> channel_fd;     // set when started by the supervisor
};

// Runs until SIGTERM/SIGINT (graceful drain, exit 0) or a fatal error. Returns the exit code.
int run_worker(const worker_options& opts);

} // namespace clipal::worker
