// Edits a JSON settings file (Claude Code's and Gemini CLI's settings.json) the way a
// careful person would: Boost.JSON parses and validates it, and each change is a splice of
// the text at the positions a small scanner finds, so comments, key order, indentation and
// every other key stay as they were. After each splice the result is parsed again and must
// equal the original value with exactly that change (else the edit is refused).
#pragma once

#include "app/setup_text.hpp"

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace clipal::app::setup {

// What a key path holds.
struct json_lookup {
    enum kind_t { absent, string, other } kind = absent;
    std::string value; // for `string`
};

class json_document {
public:
    // JSON with // and /* */ comments (Gemini CLI strips them, and a settings file that has
    // them must keep them); no trailing commas. Blank text is an empty object. The top
    // level must be an object.
    static std::variant<json_document, edit_error> parse(std::string text);

    const std::string& text() const { return text_; }
    const boost::json::value& value() const { return value_; }

    json_lookup get(const key_path& path) const;
    // True when `path` names an object with no members.
    bool empty_object(const key_path& path) const;

    // Sets the string at `path`, creating the objects on the way (members are added after
    // the last one, in the object's own layout). Fails when something on the way is not an
    // object, when a key on the way appears twice, or when the value there is an object
    // or an array.
    std::optional<edit_error> set(const key_path& path, std::string_view value);

    // Removes the member at `path`; nothing when it is not there.
    std::optional<edit_error> remove(const key_path& path);

private:
    json_document(std::string text, boost::json::value value) : text_(std::move(text)), value_(std::move(value)) {}
    std::optional<edit_error> commit(std::string text, const boost::json::value& expected);

    std::string text_;
    boost::json::value value_;
};

} // namespace clipal::app::setup
