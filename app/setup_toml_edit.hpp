// Edits Codex's config.toml without losing what toml++ cannot write back: toml++ (Debian's
// libtomlplusplus-dev, used header-only) parses and validates the file and reports where
// each key and value is (source regions), and each change is a splice of the text at
// those positions: a value replaced in place, a `key = "value"` line added after the last
// line of its table, a new [table] appended. Comments, order, spacing and every other key
// stay byte for byte. After each splice the result is parsed again and must equal the
// original document with exactly that change (else the edit is refused).
#pragma once

#include "app/setup_text.hpp"

#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace clipal::app::setup {

struct toml_lookup {
    enum kind_t { absent, string, other } kind = absent;
    std::string value; // for `string`
};

class toml_document {
public:
    static std::variant<toml_document, edit_error> parse(std::string text);

    toml_document(toml_document&&) noexcept;
    toml_document& operator=(toml_document&&) noexcept;
    ~toml_document();

    const std::string& text() const { return text_; }
    // No keys and no tables (comments may be left).
    bool empty() const;

    toml_lookup get(const key_path& path) const;
    // True when `path` names a table (not an inline one) defined by its own [header] with
    // no keys of its own and no sub-tables.
    bool empty_table(const key_path& path) const;

    // Sets the string at `path` (every key before the last names a table). A missing table
    // is added as a [header] section at the end of the file. Refused when a table on the
    // way is an inline table, is defined only through dotted keys, or is not a table, and
    // when the value there is a table or an array.
    std::optional<edit_error> set(const key_path& path, std::string_view value);

    // Removes `key = value` at `path` (its whole line); nothing when it is not there.
    std::optional<edit_error> remove(const key_path& path);

    // Removes the [header] line of an empty table (see empty_table); nothing otherwise.
    std::optional<edit_error> remove_empty_table(const key_path& path);

private:
    struct impl;
    toml_document(std::string text, std::unique_ptr<impl> parsed);
    std::optional<edit_error> commit(std::string text, const impl& expected);

    std::string text_;
    std::unique_ptr<impl> parsed_;
};

} // namespace clipal::app::setup
