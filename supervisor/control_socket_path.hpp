// Where the control socket of the supervisor serving a config directory lives. The path
// is derived from the config directory alone, so `clipal status` finds the right
// instance and several instances with different config dirs run side by side.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace clipal::supervisor {

// "<16 hex chars>.sock": the first 8 bytes of SHA-256 over the canonical absolute config
// dir (weakly_canonical, so a directory that does not exist yet maps the same way it will
// once created). Pure apart from resolving symlinks of existing path components.
std::string control_socket_name(const std::filesystem::path& config_dir);

// ${XDG_RUNTIME_DIR}/clipal/<name> when XDG_RUNTIME_DIR is set and usable (an absolute
// directory owned by us, short enough for a socket address), else /tmp/clipal-<uid>/<name>.
// Creates the parent directory 0700 if missing and tightens an existing one of ours to
// 0700. Throws std::runtime_error with a user-facing message when the parent is not a
// directory, is a symlink, is owned by someone else, or the path is too long for AF_UNIX.
std::filesystem::path control_socket_path(const std::filesystem::path& config_dir);

// The same with the runtime directory given explicitly (nullopt = unset), for tests.
std::filesystem::path control_socket_path(const std::filesystem::path& config_dir,
                                          const std::optional<std::filesystem::path>& xdg_runtime_dir);

} // namespace clipal::supervisor
