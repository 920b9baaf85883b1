// Text helpers shared by `clipal setup`'s file editors: where an error is (line and
// column), the line ending a file uses, a unified diff of two versions for --dry-run, and
// the masking of credentials in what it prints.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::app::setup {

// A path of keys into a nested settings document: {"env", "ANTHROPIC_BASE_URL"}.
using key_path = std::vector<std::string>;

// "env.ANTHROPIC_BASE_URL"
std::string dotted(const key_path& path);

// Why a file cannot be read or edited. `line` is 1-based, 0 when the file as a whole is meant.
struct edit_error {
    int line = 0;
    int column = 0;
    std::string message;

    // "line 3, column 7: expected ..." or just the message.
    std::string to_string() const;
};

// 1-based line and column (in bytes) of `offset` in `text`.
edit_error error_at(std::string_view text, std::size_t offset, std::string message);

// "\r\n" when the file's first line ends so, else "\n".
std::string_view newline_of(std::string_view text);

// Start of the line holding `offset`, and the end of that line (at its '\n' or the text's end).
std::size_t line_begin(std::string_view text, std::size_t offset);
std::size_t line_end(std::string_view text, std::size_t offset);

// A unified diff (3 lines of context) from `before` to `after`, headed by the two labels;
// empty when they are equal. Values of keys that look like credentials are masked
// (see mask_secrets), except the `keep` values (clipal's own placeholder).
std::string unified_diff(std::string_view before, std::string_view after, std::string_view before_label,
                         std::string_view after_label, const std::vector<std::string>& keep = {});

// One line with the value of a credential-looking key (…KEY, …TOKEN, SECRET, PASSWORD in
// JSON, TOML or .env syntax) replaced by "****", unless the value is one of `keep`.
std::string mask_secrets(std::string_view line, const std::vector<std::string>& keep = {});

} // namespace clipal::app::setup
