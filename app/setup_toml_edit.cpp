// The TOML editor. toml++ is used header-only (TOML_HEADER_ONLY) and without exceptions,
// here and nowhere else, so the shipped binary needs no libtomlplusplus at run time.
// Source regions are (line, column) with columns counted in code points and the end
// exclusive; they are turned into byte offsets by walking the line's UTF-8.
#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include "app/setup_toml_edit.hpp"

#include "shared/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <functional>

namespace clipal::app::setup {

struct toml_document::impl {
    toml::table table;
};

namespace {

bool bare_key(std::string_view k) {
    return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
}

std::string render_key(std::string_view k) { return bare_key(k) ? std::string(k) : quoted_literal(k); }

std::string render_header(const key_path& path) {
    std::string out = "[";
    for (std::size_t i = 0; i < path.size(); ++i) out += (i ? "." : "") + render_key(path[i]);
    return out + "]";
}

// Byte offsets of toml++'s (line, column) positions in one text.
class positions {
public:
    explicit positions(std::string_view text) : text_(text) {
        // toml++ does not count a UTF-8 byte order mark as a column.
        starts_.push_back(text.starts_with("\xEF\xBB\xBF") ? 3 : 0);
        for (std::size_t i = 0; i < text.size(); ++i)
            if (text[i] == '\n') starts_.push_back(i + 1);
    }

    std::size_t lines() const { return starts_.size(); }

    std::size_t offset(const toml::source_position& pos) const {
        if (pos.line == 0 || pos.line > starts_.size()) return text_.size();
        std::size_t p = starts_[pos.line - 1];
        for (std::uint32_t c = 1; c < pos.column && p < text_.size() && text_[p] != '\n'; ++c) {
            const auto lead = static_cast<unsigned char>(text_[p]);
            p += lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        }
        return std::min(p, text_.size());
    }

    // Where line `line` (1-based) begins; the text's end past the last line.
    std::size_t line_start(std::size_t line) const {
        return line >= 1 && line <= starts_.size() ? starts_[line - 1] : text_.size();
    }

private:
    std::string_view text_;
    std::vector<std::size_t> starts_;
};

// The dotted key of a [header] or [[header]] starting at `p`; nullopt if it is none.
std::optional<key_path> header_path(std::string_view text, std::size_t p) {
    if (p >= text.size() || text[p] != '[') return std::nullopt;
    ++p;
    if (p < text.size() && text[p] == '[') ++p;
    key_path path;
    const auto skip = [&] {
        while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
    };
    while (true) {
        skip();
        if (p >= text.size()) return std::nullopt;
        std::string key;
        if (text[p] == '"') {
            ++p;
            while (p < text.size() && text[p] != '"') {
                if (text[p] == '\\' && p + 1 < text.size()) {
                    // Escapes in header keys are rare; keep them literally (compared as written).
                    key += text[p++];
                }
                key += text[p++];
            }
            ++p;
        } else if (text[p] == '\'') {
            ++p;
            while (p < text.size() && text[p] != '\'') key += text[p++];
            ++p;
        } else {
            while (p < text.size() && bare_key(text.substr(p, 1))) key += text[p++];
        }
        path.push_back(std::move(key));
        skip();
        if (p < text.size() && text[p] == '.') {
            ++p;
            continue;
        }
        return p < text.size() && text[p] == ']' ? std::optional(path) : std::nullopt;
    }
}

struct visit_entry {
    std::uint32_t key_line; // 0 for array elements (no key)
    std::uint32_t value_end_line;
};

// Every node of the document: the lines of [header] / [[header]] sections and, for each
// key, its line and the last line of its value.
void walk(const toml::node& node, const std::function<void(const toml::node&, const toml::key*)>& f,
          const toml::key* key = nullptr) {
    f(node, key);
    if (const auto* t = node.as_table()) {
        for (auto&& [k, v] : *t) walk(v, f, &k);
    } else if (const auto* a = node.as_array()) {
        for (auto&& v : *a) walk(v, f, nullptr);
    }
}

struct layout_facts {
    std::vector<std::uint32_t> header_lines; // sorted
    std::vector<visit_entry> keys;
};

layout_facts facts_of(const toml::table& root, std::string_view text, const positions& pos) {
    layout_facts facts;
    walk(root, [&](const toml::node& n, const toml::key* k) {
        if (k != nullptr)
            facts.keys.push_back({k->source().begin.line, std::max(n.source().end.line, k->source().end.line)});
        if (const auto* t = n.as_table(); t != nullptr && !t->is_inline() && k != nullptr) {
            const auto at = pos.offset(n.source().begin);
            if (at < text.size() && text[at] == '[') facts.header_lines.push_back(n.source().begin.line);
        } else if (n.is_table() && k == nullptr && &n != &root) {
            // An element of an array of tables: its [[header]].
            const auto at = pos.offset(n.source().begin);
            if (at < text.size() && text[at] == '[') facts.header_lines.push_back(n.source().begin.line);
        }
    });
    std::sort(facts.header_lines.begin(), facts.header_lines.end());
    facts.header_lines.erase(std::unique(facts.header_lines.begin(), facts.header_lines.end()),
                             facts.header_lines.end());
    return facts;
}

// The last line holding a key (or the end of its value) in the section that starts after
// line `header` (0: the root section), and the line that key starts on; 0 when the
// section has no keys.
visit_entry last_content(const layout_facts& facts, std::uint32_t header) {
    const auto next = std::upper_bound(facts.header_lines.begin(), facts.header_lines.end(), header);
    const std::uint32_t limit = next == facts.header_lines.end() ? UINT32_MAX : *next;
    visit_entry last{0, 0};
    for (const auto& e : facts.keys)
        if (e.key_line > header && e.key_line < limit && e.value_end_line >= last.value_end_line) last = e;
    return last;
}

std::string splice(std::string_view text, std::size_t begin, std::size_t end, std::string_view with) {
    std::string out;
    out.reserve(text.size() + with.size());
    out.append(text.substr(0, begin));
    out.append(with);
    out.append(text.substr(end));
    return out;
}

// Text after `offset` up to the end of its line is blank or a comment.
bool rest_of_line_is_comment(std::string_view text, std::size_t offset) {
    const auto end = line_end(text, offset);
    const auto rest = text.substr(offset, end - offset);
    const auto first = rest.find_first_not_of(" \t\r");
    return first == std::string_view::npos || rest[first] == '#';
}

bool only_indentation_before(std::string_view text, std::size_t offset) {
    const auto begin = line_begin(text, offset);
    return text.substr(begin, offset - begin).find_first_not_of(" \t") == std::string_view::npos;
}

// The end of line `offset` is on, past its newline (or the text's end).
std::size_t past_line(std::string_view text, std::size_t offset) {
    const auto end = line_end(text, offset);
    return end < text.size() ? end + 1 : end;
}

const toml::table* table_at(const toml::table& root, const key_path& path, std::size_t count) {
    const toml::table* t = &root;
    for (std::size_t i = 0; i < count; ++i) {
        const auto* n = t->get(path[i]);
        if (n == nullptr || (t = n->as_table()) == nullptr) return nullptr;
    }
    return t;
}

toml::table* table_at(toml::table& root, const key_path& path, std::size_t count) {
    return const_cast<toml::table*>(table_at(static_cast<const toml::table&>(root), path, count));
}

} // namespace

toml_document::toml_document(std::string text, std::unique_ptr<impl> parsed)
    : text_(std::move(text)), parsed_(std::move(parsed)) {}
toml_document::toml_document(toml_document&&) noexcept = default;
toml_document& toml_document::operator=(toml_document&&) noexcept = default;
toml_document::~toml_document() = default;

std::variant<toml_document, edit_error> toml_document::parse(std::string text) {
    auto r = toml::parse(std::string_view(text), std::string_view("config.toml"));
    if (!r) {
        const auto& e = r.error();
        return edit_error{static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column),
                          std::string(e.description())};
    }
    auto p = std::make_unique<impl>();
    p->table = std::move(r).table();
    return toml_document(std::move(text), std::move(p));
}

bool toml_document::empty() const { return parsed_->table.empty(); }

toml_lookup toml_document::get(const key_path& path) const {
    if (path.empty()) return {};
    const auto* t = table_at(parsed_->table, path, path.size() - 1);
    const auto* n = t != nullptr ? t->get(path.back()) : nullptr;
    if (n == nullptr) return {};
    if (const auto* s = n->as_string()) return {toml_lookup::string, s->get()};
    return {toml_lookup::other, {}};
}

bool toml_document::empty_table(const key_path& path) const {
    const auto* t = path.empty() ? nullptr : table_at(parsed_->table, path, path.size());
    if (t == nullptr || t->is_inline() || !t->empty()) return false;
    const positions pos(text_);
    return header_path(text_, pos.offset(t->source().begin)) == path;
}

std::optional<edit_error> toml_document::commit(std::string text, const impl& expected) {
    auto r = toml::parse(std::string_view(text), std::string_view("config.toml"));
    if (!r || r.table() != expected.table)
        return edit_error{0, 0,
                          "the edited TOML did not come out as intended (a bug in clipal setup); nothing was "
                          "written"};
    text_ = std::move(text);
    parsed_->table = std::move(r).table();
    return std::nullopt;
}

std::optional<edit_error> toml_document::set(const key_path& path, std::string_view value) {
    if (path.empty()) return edit_error{0, 0, "empty key path"};
    const positions pos(text_);
    const auto nl = std::string(newline_of(text_));
    const key_path table_path(path.begin(), path.end() - 1);
    const auto& key = path.back();

    // Every existing table on the way must be a plain table.
    const toml::table* t = &parsed_->table;
    std::size_t existing = 0;
    for (; existing < table_path.size(); ++existing) {
        const auto* n = t->get(table_path[existing]);
        if (n == nullptr) break;
        const key_path prefix(table_path.begin(), table_path.begin() + static_cast<std::ptrdiff_t>(existing) + 1);
        const auto* next = n->as_table();
        if (next == nullptr)
            return edit_error{static_cast<int>(n->source().begin.line), static_cast<int>(n->source().begin.column),
                              fmt::format("{} is not a table", dotted(prefix))};
        if (next->is_inline())
            return edit_error{static_cast<int>(n->source().begin.line), static_cast<int>(n->source().begin.column),
                              fmt::format("{} is an inline table; clipal setup edits only [tables], so change it by "
                                          "hand",
                                          dotted(prefix))};
        t = next;
    }

    impl expected{parsed_->table};
    toml::table* et = &expected.table;
    for (const auto& k : table_path) {
        if (et->get(k) == nullptr) et->insert(k, toml::table{});
        et = et->get(k)->as_table();
    }
    et->insert_or_assign(key, std::string(value));

    const auto facts = facts_of(parsed_->table, text_, pos);

    if (existing < table_path.size()) {
        // The table is missing: a new section at the end of the file.
        std::string out = text_;
        if (!out.empty() && !out.ends_with('\n')) out += nl;
        if (!out.empty() && !out.ends_with(nl + nl) && out != nl) out += nl;
        out += render_header(table_path) + nl + render_key(key) + " = " + quoted_literal(value) + nl;
        return commit(std::move(out), expected);
    }

    std::uint32_t header_line = 0;
    if (!table_path.empty()) {
        if (header_path(text_, pos.offset(t->source().begin)) != table_path)
            return edit_error{static_cast<int>(t->source().begin.line), static_cast<int>(t->source().begin.column),
                              fmt::format("{} is not defined by a [{}] header of its own (dotted keys?); change it by "
                                          "hand",
                                          dotted(table_path), dotted(table_path))};
        header_line = t->source().begin.line;
    }

    if (const auto* n = t->get(key)) {
        if (n->is_table() || n->is_array())
            return edit_error{static_cast<int>(n->source().begin.line), static_cast<int>(n->source().begin.column),
                              fmt::format("{} is a {}, expected a string", dotted(path),
                                          n->is_table() ? "table" : "array")};
        return commit(splice(text_, pos.offset(n->source().begin), pos.offset(n->source().end), quoted_literal(value)),
                      expected);
    }

    const auto last_key = last_content(facts, header_line);
    const auto last = last_key.value_end_line;
    // A new key is indented like the last one of its section.
    std::string indent;
    if (last > 0) {
        const auto from = pos.line_start(last_key.key_line);
        indent = text_.substr(from, text_.find_first_not_of(" \t", from) - from);
    }
    const auto line = indent + render_key(key) + " = " + quoted_literal(value) + nl;
    if (last > 0 || header_line > 0) {
        const std::size_t after = last > 0 ? last : header_line;
        std::size_t at = pos.line_start(after + 1);
        std::string out = text_;
        if (after >= pos.lines() || at > out.size()) {
            at = out.size();
            if (!out.empty() && !out.ends_with('\n')) {
                out += nl;
                at = out.size();
            }
        }
        return commit(splice(out, at, at, line), expected);
    }

    // A root key in a file without root keys: at the top, below a leading comment block
    // that a blank line separates from the rest.
    std::size_t at = 0;
    {
        std::size_t p = 0;
        while (p < text_.size()) {
            const auto end = past_line(text_, p);
            const auto content = std::string_view(text_).substr(p, end - p);
            const auto first = content.find_first_not_of(" \t\r\n");
            if (first == std::string_view::npos) {
                at = p > 0 ? end : 0;
                break;
            }
            if (content[first] != '#') break;
            p = end;
        }
    }
    const auto following = std::string_view(text_).substr(at);
    const bool separate =
        !following.empty() && following.find_first_not_of(" \t\r\n") != std::string_view::npos &&
        following.substr(0, following.find('\n')).find_first_not_of(" \t\r") != std::string_view::npos;
    return commit(splice(text_, at, at, separate ? line + nl : line), expected);
}

std::optional<edit_error> toml_document::remove(const key_path& path) {
    if (path.empty()) return std::nullopt;
    const auto* t = table_at(parsed_->table, path, path.size() - 1);
    if (t == nullptr) return std::nullopt;
    const toml::key* key = nullptr;
    const toml::node* node = nullptr;
    for (auto&& [k, v] : *t)
        if (k.str() == path.back()) {
            key = &k;
            node = &v;
        }
    if (node == nullptr) return std::nullopt;
    if (node->is_table()) return edit_error{0, 0, fmt::format("{} is a table, expected a value", dotted(path))};
    const positions pos(text_);
    std::size_t begin = pos.offset(key->source().begin);
    std::size_t end = pos.offset(node->source().end);
    if (only_indentation_before(text_, begin)) begin = line_begin(text_, begin);
    if (rest_of_line_is_comment(text_, end)) end = past_line(text_, end);
    impl expected{parsed_->table};
    table_at(expected.table, path, path.size() - 1)->erase(path.back());
    return commit(splice(text_, begin, end, ""), expected);
}

std::optional<edit_error> toml_document::remove_empty_table(const key_path& path) {
    if (!empty_table(path)) return std::nullopt;
    const auto* t = table_at(parsed_->table, path, path.size());
    const positions pos(text_);
    const auto begin = line_begin(text_, pos.offset(t->source().begin));
    const auto end = past_line(text_, begin);
    std::string out = splice(text_, begin, end, "");
    // A section clipal appended went in after a blank line: take that away too when a
    // blank line (or the end of the file) follows.
    const auto nl = std::string(newline_of(text_));
    const bool blank_before = begin >= 2 * nl.size() && out.compare(begin - 2 * nl.size(), 2 * nl.size(), nl + nl) == 0;
    const bool blank_after = begin == out.size() || out.compare(begin, nl.size(), nl) == 0;
    if (blank_before && blank_after) out.erase(begin - nl.size(), nl.size());
    impl expected{parsed_->table};
    table_at(expected.table, path, path.size() - 1)->erase(path.back());
    // Tables that existed only as the parents of this one ([a.b] makes a) go with it.
    for (std::size_t n = path.size() - 1; n > 0; --n) {
        const key_path parent(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(n));
        const auto* original = table_at(parsed_->table, parent, n);
        auto* now = table_at(expected.table, parent, n);
        if (now == nullptr || !now->empty() || original == nullptr || original->is_inline() ||
            header_path(text_, pos.offset(original->source().begin)) == parent)
            break;
        table_at(expected.table, parent, n - 1)->erase(parent.back());
    }
    return commit(std::move(out), expected);
}

} // namespace clipal::app::setup
