// The .env editor: a line parser close to dotenv's (keys [A-Za-z0-9_.-]+, '#' starts a
// comment after an unquoted value, "\n" in a double-quoted value is a newline).
#include "app/setup_dotenv_edit.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace clipal::app::setup {

namespace {

bool key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

bool plain_value(std::string_view v) {
    return std::all_of(v.begin(), v.end(), [](char c) {
        return key_char(c) || c == '/' || c == ':' || c == '@' || c == '%' || c == '+' || c == '=' || c == '~' ||
               c == ',' || c == '?' || c == '&' || c == '[' || c == ']' || static_cast<unsigned char>(c) >= 0x80;
    });
}

std::string render(std::string_view v) {
    if (plain_value(v)) return std::string(v);
    std::string out = "\"";
    for (const char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out + "\"";
}

std::size_t past_line(std::string_view text, std::size_t offset) {
    const auto end = line_end(text, offset);
    return end < text.size() ? end + 1 : end;
}

std::map<std::string, std::string, std::less<>> as_map(const dotenv_document& d, const std::vector<std::string>& keys) {
    std::map<std::string, std::string, std::less<>> m;
    for (const auto& k : keys)
        if (auto v = d.get(k)) m[k] = *v;
    return m;
}

} // namespace

std::variant<dotenv_document, edit_error> dotenv_document::parse(std::string text) {
    std::vector<entry> entries;
    const std::string_view t = text;
    std::size_t p = 0;
    const auto skip_blanks = [&] {
        while (p < t.size() && (t[p] == ' ' || t[p] == '\t')) ++p;
    };
    const auto at_eol = [&] {
        return p >= t.size() || t[p] == '\n' || (t[p] == '\r' && p + 1 < t.size() && t[p + 1] == '\n');
    };
    while (p < t.size()) {
        entry e;
        e.line_begin = p;
        skip_blanks();
        if (at_eol() || t[p] == '#') {
            p = past_line(t, p);
            continue;
        }
        if (t.substr(p).starts_with("export") && p + 6 < t.size() && (t[p + 6] == ' ' || t[p + 6] == '\t')) {
            p += 6;
            skip_blanks();
        }
        const auto key_begin = p;
        while (p < t.size() && key_char(t[p])) ++p;
        if (p == key_begin) return error_at(t, p, "expected KEY=value");
        e.key = std::string(t.substr(key_begin, p - key_begin));
        skip_blanks();
        if (p < t.size() && t[p] == '=') {
            ++p;
        } else if (p + 1 < t.size() && t[p] == ':' && (t[p + 1] == ' ' || t[p + 1] == '\t')) {
            ++p;
        } else {
            return error_at(t, p, fmt::format("expected '=' after {}", e.key));
        }
        skip_blanks();
        e.value_begin = p;
        if (p < t.size() && (t[p] == '"' || t[p] == '\'' || t[p] == '`')) {
            const char quote = t[p];
            std::size_t q = p + 1;
            while (q < t.size() && t[q] != quote) q += t[q] == '\\' && q + 1 < t.size() && t[q + 1] == quote ? 2 : 1;
            if (q >= t.size()) return error_at(t, p, fmt::format("the value of {} has no closing {}", e.key, quote));
            std::string raw(t.substr(p + 1, q - p - 1));
            if (quote == '"') {
                std::string decoded;
                for (std::size_t i = 0; i < raw.size(); ++i) {
                    if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == 'n' || raw[i + 1] == 'r')) {
                        decoded += raw[i + 1] == 'n' ? '\n' : '\r';
                        ++i;
                    } else if (raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == '"' || raw[i + 1] == '\\')) {
                        decoded += raw[++i];
                    } else {
                        decoded += raw[i];
                    }
                }
                raw = std::move(decoded);
            }
            e.value = std::move(raw);
            p = q + 1;
            e.value_end = p;
            skip_blanks();
            if (!at_eol() && t[p] != '#')
                return error_at(t, p, fmt::format("unexpected text after the value of {}", e.key));
        } else {
            auto end = p;
            while (end < t.size() && t[end] != '#' && t[end] != '\n' && t[end] != '\r') ++end;
            auto value_end = end;
            while (value_end > p && (t[value_end - 1] == ' ' || t[value_end - 1] == '\t')) --value_end;
            e.value = std::string(t.substr(p, value_end - p));
            e.value_end = value_end;
            p = end;
        }
        p = past_line(t, p);
        e.line_end = p;
        entries.push_back(std::move(e));
    }
    return dotenv_document(std::move(text), std::move(entries));
}

const dotenv_document::entry* dotenv_document::last(std::string_view key) const {
    const entry* found = nullptr;
    for (const auto& e : entries_)
        if (e.key == key) found = &e;
    return found;
}

std::optional<std::string> dotenv_document::get(std::string_view key) const {
    const auto* e = last(key);
    return e != nullptr ? std::optional(e->value) : std::nullopt;
}

std::optional<edit_error> dotenv_document::reparse(std::string text) {
    auto parsed = parse(std::move(text));
    if (auto* err = std::get_if<edit_error>(&parsed))
        return edit_error{0, 0, "the edited .env did not read back (a bug in clipal setup): " + err->to_string()};
    *this = std::move(std::get<dotenv_document>(parsed));
    return std::nullopt;
}

std::optional<edit_error> dotenv_document::set(std::string_view key, std::string_view value) {
    std::vector<std::string> keys;
    for (const auto& e : entries_) keys.push_back(e.key);
    auto expected = as_map(*this, keys);
    expected[std::string(key)] = std::string(value);
    keys.emplace_back(key);
    std::string out;
    if (const auto* e = last(key)) {
        out = text_.substr(0, e->value_begin) + render(value) + text_.substr(e->value_end);
    } else {
        const auto nl = std::string(newline_of(text_));
        out = text_;
        if (!out.empty() && !out.ends_with('\n')) out += nl;
        out += std::string(key) + "=" + render(value) + nl;
    }
    dotenv_document before = *this;
    if (auto e = reparse(std::move(out))) return e;
    if (as_map(*this, keys) != expected) {
        *this = std::move(before);
        return edit_error{0, 0, "the edited .env did not come out as intended (a bug in clipal setup)"};
    }
    return std::nullopt;
}

std::optional<edit_error> dotenv_document::remove(std::string_view key) {
    const auto* e = last(key);
    if (e == nullptr) return std::nullopt;
    return reparse(text_.substr(0, e->line_begin) + text_.substr(e->line_end));
}

} // namespace clipal::app::setup
