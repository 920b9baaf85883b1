// The file side of `clipal setup`: reading a tool's file (through symlinks), writing it
// atomically (a temporary file in the same directory, fsync, rename, fsync of the
// directory; the original's mode, 0600 for a new file), and the record under
// <config dir>/setup-backup/ of what it changed, so --undo can put every byte back.
#pragma once

#include "app/setup_text.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::app::setup {

struct file_contents {
    bool exists = false;
    std::string bytes;
    std::filesystem::perms mode = std::filesystem::perms::owner_read | std::filesystem::perms::owner_write;
};

// Reads `path` (following symlinks). A missing file is `exists == false`, not an error;
// anything else that fails (a directory, no permission, over 16 MiB) returns the reason.
std::optional<std::string> read_file(const std::filesystem::path& path, file_contents& out);

// The file a write to `path` must replace: where its symlink (chain) leads, else `path`,
// so a settings file kept in a dotfiles repository stays a link.
std::filesystem::path write_target(const std::filesystem::path& path);

// Atomic replace of `path`'s contents (see write_target). Returns the reason on failure;
// then `path` is untouched.
std::optional<std::string> write_atomically(const std::filesystem::path& path, std::string_view bytes,
                                            std::filesystem::perms mode);

// Creates the missing directories up to `dir` (0700) and returns those it created, outermost first.
std::optional<std::string> create_directories(const std::filesystem::path& dir,
                                              std::vector<std::filesystem::path>& created);

std::string sha256_hex(std::string_view bytes);

// What `clipal setup` changed in one key.
struct key_record {
    key_path path;
    std::optional<std::string> old_value; // nullopt: clipal added the key
    std::string new_value;
    bool container = false; // an object or table clipal added for the keys below it
};

// One file clipal setup changed, as kept in setup-backup/<tool>.json.
struct file_record {
    std::string role;                                // "settings.json", "config.toml", ".env"
    std::filesystem::path path;                      // as the tool names it (not a symlink's target)
    bool existed = false;                            // false: --undo deletes the file
    std::string backup;                              // file name in setup-backup/ with the original bytes
    unsigned mode = 0600;                            // the original's permission bits
    std::string written_sha256;                      // of what clipal setup wrote last
    std::vector<key_record> keys;                    // in the order they were set
    std::vector<std::filesystem::path> created_dirs; // outermost first
};

struct tool_record {
    std::string tool; // "claude-code", "codex", "gemini"
    std::vector<file_record> files;
};

std::string to_json(const tool_record& record);
// nullopt with `error` set when the text is not such a record.
std::optional<tool_record> tool_record_from_json(std::string_view text, std::string& error);

} // namespace clipal::app::setup
