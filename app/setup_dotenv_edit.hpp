// Edits a .env file (Gemini CLI's ~/.gemini/.env, read with the `dotenv` package): lines
// of `KEY=value`, optionally `export KEY=value` or `KEY: value`, values bare, '…', "…" or
// `…` (quoted ones may span lines), `# comments`, blank lines. A line that is none of
// these is refused, not guessed at. A change replaces only the value of the key's last
// occurrence (the one dotenv uses) or appends a `KEY=value` line; every other byte stays.
#pragma once

#include "app/setup_text.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace clipal::app::setup {

class dotenv_document {
public:
    static std::variant<dotenv_document, edit_error> parse(std::string text);

    const std::string& text() const { return text_; }

    // The value dotenv would give `key` (its last occurrence).
    std::optional<std::string> get(std::string_view key) const;
    // No assignments at all (only comments and blank lines, or nothing).
    bool empty() const { return entries_.empty(); }

    // Fails only when the result does not read back as intended (a bug; nothing changes).
    std::optional<edit_error> set(std::string_view key, std::string_view value);
    // Removes the line(s) of the key's last occurrence; nothing when absent.
    std::optional<edit_error> remove(std::string_view key);

private:
    struct entry {
        std::string key;
        std::string value;           // as dotenv reads it
        std::size_t line_begin = 0;  // first byte of its line
        std::size_t line_end = 0;    // past its last line's newline
        std::size_t value_begin = 0; // the value as written, quotes included
        std::size_t value_end = 0;
    };

    dotenv_document(std::string text, std::vector<entry> entries)
        : text_(std::move(text)), entries_(std::move(entries)) {}
    const entry* last(std::string_view key) const;
    std::optional<edit_error> reparse(std::string text);

    std::string text_;
    std::vector<entry> entries_;
};

} // namespace clipal::app::setup
