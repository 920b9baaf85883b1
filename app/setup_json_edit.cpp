// The JSON editor: Boost.JSON for validation and the value, a scanner for positions
// (objects' members with the offsets of key, value and comma; arrays and scalars only
// skipped), splices in the layout of the surrounding object, and a check of every result.
#include "app/setup_json_edit.hpp"

#include "shared/text.hpp"

#include <boost/json/parse_options.hpp>
#include <boost/json/stream_parser.hpp>

#include <fmt/format.h>

#include <memory>
#include <stdexcept>

namespace clipal::app::setup {

namespace json = boost::json;

namespace {

constexpr auto npos = std::string::npos;

struct jnode;

struct jmember {
    std::string key;
    std::size_t key_begin = 0;
    std::size_t key_end = 0;
    std::unique_ptr<jnode> value;
    std::size_t comma = npos; // the ',' after the value, if any
};

struct jnode {
    enum kind_t { object, array, scalar } kind = scalar;
    std::size_t begin = 0;
    std::size_t end = 0;
    std::vector<jmember> members; // objects only
};

void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Positions of a text Boost.JSON has accepted; throws std::runtime_error if it disagrees.
class scanner {
public:
    explicit scanner(std::string_view text) : t_(text) {}

    std::unique_ptr<jnode> document() {
        auto root = value();
        skip_space();
        if (p_ != t_.size()) fail("text after the top-level value");
        return root;
    }

private:
    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(fmt::format("{} at offset {}", what, p_));
    }

    void skip_space() {
        while (p_ < t_.size()) {
            const char c = t_[p_];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                ++p_;
            } else if (c == '/' && p_ + 1 < t_.size() && t_[p_ + 1] == '/') {
                const auto nl = t_.find('\n', p_);
                p_ = nl == std::string_view::npos ? t_.size() : nl + 1;
            } else if (c == '/' && p_ + 1 < t_.size() && t_[p_ + 1] == '*') {
                const auto close = t_.find("*/", p_ + 2);
                if (close == std::string_view::npos) fail("unterminated comment");
                p_ = close + 2;
            } else {
                break;
            }
        }
    }

    unsigned hex4() {
        if (p_ + 4 > t_.size()) fail("short \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = t_[p_++];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                v |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("bad \\u escape");
        }
        return v;
    }

    std::string string() {
        if (p_ >= t_.size() || t_[p_] != '"') fail("expected a string");
        ++p_;
        std::string out;
        while (true) {
            if (p_ >= t_.size()) fail("unterminated string");
            const char c = t_[p_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (p_ >= t_.size()) fail("unterminated string");
            const char e = t_[p_++];
            switch (e) {
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned cp = hex4();
                if (cp >= 0xD800 && cp < 0xDC00 && p_ + 6 <= t_.size() && t_[p_] == '\\' && t_[p_ + 1] == 'u') {
                    p_ += 2;
                    const unsigned low = hex4();
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                }
                append_utf8(out, cp);
                break;
            }
            default: out += e; break; // " \ /
            }
        }
    }

    std::unique_ptr<jnode> value() {
        skip_space();
        auto node = std::make_unique<jnode>();
        node->begin = p_;
        if (p_ >= t_.size()) fail("expected a value");
        const char c = t_[p_];
        if (c == '{') {
            node->kind = jnode::object;
            ++p_;
            skip_space();
            if (p_ < t_.size() && t_[p_] == '}') {
                ++p_;
            } else {
                while (true) {
                    skip_space();
                    jmember m;
                    m.key_begin = p_;
                    m.key = string();
                    m.key_end = p_;
                    skip_space();
                    if (p_ >= t_.size() || t_[p_] != ':') fail("expected ':'");
                    ++p_;
                    m.value = value();
                    skip_space();
                    if (p_ < t_.size() && t_[p_] == ',') {
                        m.comma = p_++;
                        node->members.push_back(std::move(m));
                        continue;
                    }
                    node->members.push_back(std::move(m));
                    if (p_ >= t_.size() || t_[p_] != '}') fail("expected ',' or '}'");
                    ++p_;
                    break;
                }
            }
        } else if (c == '[') {
            node->kind = jnode::array;
            ++p_;
            skip_space();
            if (p_ < t_.size() && t_[p_] == ']') {
                ++p_;
            } else {
                while (true) {
                    value();
                    skip_space();
                    if (p_ < t_.size() && t_[p_] == ',') {
                        ++p_;
                        continue;
                    }
                    if (p_ >= t_.size() || t_[p_] != ']') fail("expected ',' or ']'");
                    ++p_;
                    break;
                }
            }
        } else if (c == '"') {
            string();
        } else {
            while (p_ < t_.size() && std::string_view(",]}/ \t\r\n").find(t_[p_]) == std::string_view::npos) ++p_;
        }
        node->end = p_;
        return node;
    }

    std::string_view t_;
    std::size_t p_ = 0;
};

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

// The text before `offset` on its line, when it is only indentation.
std::optional<std::string> indentation_before(std::string_view text, std::size_t offset) {
    const auto begin = line_begin(text, offset);
    const auto lead = text.substr(begin, offset - begin);
    if (lead.find_first_not_of(" \t") != std::string_view::npos) return std::nullopt;
    return std::string(lead);
}

std::string line_indentation(std::string_view text, std::size_t offset) {
    const auto begin = line_begin(text, offset);
    const auto end = text.find_first_not_of(" \t", begin);
    return std::string(text.substr(begin, (end == std::string_view::npos ? text.size() : end) - begin));
}

// Where the line holding `offset` ends, before its "\r\n" or "\n".
std::size_t end_of_line_content(std::string_view text, std::size_t offset) {
    auto e = line_end(text, offset);
    if (e > 0 && e < text.size() && text[e - 1] == '\r') --e;
    return e;
}

// The layout the file uses: one level of indentation and the space after ':'.
struct layout {
    std::string unit = "  ";
    std::string colon = ": ";
    std::string nl = "\n";
};

layout layout_of(std::string_view text, const jnode& root) {
    layout l;
    l.nl = std::string(newline_of(text));
    if (!root.members.empty()) {
        const auto& first = root.members.front();
        if (auto ind = indentation_before(text, first.key_begin); ind && !ind->empty() && text.find('\n') != npos) {
            const auto root_ind = line_indentation(text, root.begin);
            l.unit = ind->size() > root_ind.size() && ind->starts_with(root_ind) ? ind->substr(root_ind.size()) : *ind;
        }
        const auto between = text.substr(first.key_end, first.value->begin - first.key_end);
        l.colon = between.find_first_of(" \t") != std::string_view::npos ? ": " : ":";
    }
    return l;
}

const jmember* find_member(const jnode& obj, std::string_view key, int& count) {
    const jmember* found = nullptr;
    count = 0;
    for (const auto& m : obj.members)
        if (m.key == key) {
            found = &m;
            ++count;
        }
    return found;
}

std::string splice(std::string_view text, std::size_t begin, std::size_t end, std::string_view with) {
    std::string out;
    out.reserve(text.size() + with.size());
    out.append(text.substr(0, begin));
    out.append(with);
    out.append(text.substr(end));
    return out;
}

struct parsed {
    std::optional<json::value> value;
    edit_error error;
};

parsed parse_json(std::string_view text) {
    json::parse_options options;
    options.allow_comments = true;
    json::stream_parser p(json::storage_ptr(), options);
    boost::system::error_code ec;
    const auto consumed = p.write(text.data(), text.size(), ec);
    if (!ec) p.finish(ec);
    if (ec) return {std::nullopt, error_at(text, ec ? consumed : text.size(), "not valid JSON: " + ec.message())};
    return {p.release(), {}};
}

} // namespace

std::variant<json_document, edit_error> json_document::parse(std::string text) {
    if (blank(text)) return json_document(std::move(text), json::object());
    auto r = parse_json(text);
    if (!r.value) return r.error;
    if (!r.value->is_object()) return edit_error{0, 0, "the top level is not a JSON object"};
    try {
        scanner(text).document();
    } catch (const std::exception& e) {
        return edit_error{0, 0, std::string("cannot locate the keys in this JSON (") + e.what() + ")"};
    }
    return json_document(std::move(text), std::move(*r.value));
}

json_lookup json_document::get(const key_path& path) const {
    const json::value* v = &value_;
    for (const auto& key : path) {
        const auto* obj = v->if_object();
        if (obj == nullptr) return {};
        v = obj->if_contains(key);
        if (v == nullptr) return {};
    }
    if (const auto* s = v->if_string()) return {json_lookup::string, std::string(*s)};
    return {json_lookup::other, {}};
}

bool json_document::empty_object(const key_path& path) const {
    const json::value* v = &value_;
    for (const auto& key : path) {
        const auto* obj = v->if_object();
        if (obj == nullptr || (v = obj->if_contains(key)) == nullptr) return false;
    }
    return v->is_object() && v->as_object().empty();
}

std::optional<edit_error> json_document::commit(std::string text, const json::value& expected) {
    auto r = parse_json(text);
    bool located = true;
    try {
        scanner(text).document();
    } catch (const std::exception&) {
        located = false;
    }
    if (!r.value || *r.value != expected || !located)
        return edit_error{0, 0,
                          "the edited JSON did not come out as intended (a bug in clipal setup); nothing was "
                          "written"};
    text_ = std::move(text);
    value_ = std::move(*r.value);
    return std::nullopt;
}

std::optional<edit_error> json_document::set(const key_path& path, std::string_view value) {
    if (path.empty()) return edit_error{0, 0, "empty key path"};
    // A blank file: as if it held an empty object laid out on two lines.
    if (blank(text_)) {
        json_document filled("{\n}\n", json::object());
        if (auto e = filled.set(path, value)) return e;
        text_ = std::move(filled.text_);
        value_ = std::move(filled.value_);
        return std::nullopt;
    }

    json::value expected = value_;
    json::object* eobj = &expected.as_object();
    const auto root = scanner(text_).document();
    const auto l = layout_of(text_, *root);
    const jnode* obj = root.get();
    for (std::size_t i = 0; i < path.size(); ++i) {
        const auto& key = path[i];
        const bool last = i + 1 == path.size();
        int count = 0;
        const jmember* m = find_member(*obj, key, count);
        const key_path prefix(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(i) + 1);
        if (count > 1) return error_at(text_, m->key_begin, fmt::format("\"{}\" appears twice", dotted(prefix)));
        if (m != nullptr) {
            if (last) {
                if (m->value->kind != jnode::scalar)
                    return error_at(text_, m->value->begin,
                                    fmt::format("{} is an {}, expected a string", dotted(prefix),
                                                m->value->kind == jnode::object ? "object" : "array"));
                (*eobj)[key] = json::string(value);
                return commit(splice(text_, m->value->begin, m->value->end, quoted_literal(value)), expected);
            }
            if (m->value->kind != jnode::object)
                return error_at(text_, m->value->begin, fmt::format("{} is not an object", dotted(prefix)));
            obj = m->value.get();
            eobj = &(*eobj)[key].as_object();
            continue;
        }

        // path[i] is missing from obj: add it (and the objects below it) as obj's last member.
        json::value nested = json::string(value);
        for (std::size_t j = path.size(); j-- > i + 1;) nested = json::object{{path[j], nested}};
        (*eobj)[key] = nested;

        const bool one_line = text_.substr(obj->begin, obj->end - obj->begin).find('\n') == npos &&
                              (!obj->members.empty() || text_.find('\n') == npos);
        // The value for path[j] laid out at indentation `ind` (multi-line) or inline.
        const auto render = [&](auto&& self, std::size_t j, const std::string& ind) -> std::string {
            if (j + 1 == path.size()) return quoted_literal(value);
            if (one_line) return "{" + quoted_literal(path[j + 1]) + l.colon + self(self, j + 1, ind) + "}";
            return "{" + l.nl + ind + l.unit + quoted_literal(path[j + 1]) + l.colon + self(self, j + 1, ind + l.unit) +
                   l.nl + ind + "}";
        };

        if (obj->members.empty()) {
            const std::size_t inner_begin = obj->begin + 1;
            const std::size_t inner_end = obj->end - 1;
            if (one_line)
                return commit(splice(text_, inner_begin, inner_end,
                                     quoted_literal(key) + l.colon + render(render, i, std::string())),
                              expected);
            const auto outer = line_indentation(text_, obj->begin);
            const auto ind = outer + l.unit;
            const auto member = quoted_literal(key) + l.colon + render(render, i, ind);
            if (blank(text_.substr(inner_begin, inner_end - inner_begin)))
                return commit(splice(text_, inner_begin, inner_end, l.nl + ind + member + l.nl + outer), expected);
            return commit(splice(text_, inner_begin, inner_begin, l.nl + ind + member), expected);
        }

        const jmember& tail = obj->members.back();
        const std::size_t after_value = tail.value->end;
        if (one_line) {
            const std::string sep = l.colon == ": " ? ", " : ",";
            return commit(splice(text_, after_value, after_value,
                                 sep + quoted_literal(key) + l.colon + render(render, i, std::string())),
                          expected);
        }
        std::string ind;
        if (auto lead = indentation_before(text_, tail.key_begin))
            ind = *lead;
        else
            ind = line_indentation(text_, obj->begin) + l.unit;
        const auto member = quoted_literal(key) + l.colon + render(render, i, ind);
        const std::size_t eol = end_of_line_content(text_, after_value);
        const auto rest = std::string_view(text_).substr(after_value, eol - after_value);
        auto rest_trimmed = rest.substr(std::min(rest.size(), rest.find_first_not_of(" \t")));
        // A /* comment */ closed on this line counts as the line's own, like a // one.
        while (rest_trimmed.starts_with("/*") && rest_trimmed.find("*/") != std::string_view::npos) {
            rest_trimmed.remove_prefix(rest_trimmed.find("*/") + 2);
            rest_trimmed.remove_prefix(std::min(rest_trimmed.size(), rest_trimmed.find_first_not_of(" \t")));
        }
        const bool brace_on_line = obj->end - 1 < eol;
        if (!brace_on_line && (rest_trimmed.empty() || rest_trimmed.starts_with("//"))) {
            // `"a": 1 // note` stays on its line with the comma; the new member goes below it.
            std::string out = splice(text_, eol, eol, l.nl + ind + member);
            return commit(splice(out, after_value, after_value, ","), expected);
        }
        return commit(splice(text_, after_value, after_value, "," + l.nl + ind + member), expected);
    }
    return edit_error{0, 0, "unreachable"};
}

std::optional<edit_error> json_document::remove(const key_path& path) {
    if (path.empty() || blank(text_)) return std::nullopt;
    json::value expected = value_;
    json::object* eobj = &expected.as_object();
    const auto root = scanner(text_).document();
    const jnode* obj = root.get();
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
        int count = 0;
        const jmember* m = find_member(*obj, path[i], count);
        if (m == nullptr || m->value->kind != jnode::object) return std::nullopt;
        if (count > 1) return error_at(text_, m->key_begin, fmt::format("\"{}\" appears twice", path[i]));
        obj = m->value.get();
        eobj = &(*eobj)[path[i]].as_object();
    }
    std::size_t index = obj->members.size();
    int count = 0;
    for (std::size_t k = 0; k < obj->members.size(); ++k)
        if (obj->members[k].key == path.back()) {
            index = k;
            ++count;
        }
    if (index == obj->members.size()) return std::nullopt;
    if (count > 1)
        return error_at(text_, obj->members[index].key_begin, fmt::format("\"{}\" appears twice", dotted(path)));
    eobj->erase(path.back());
    const auto& m = obj->members[index];
    if (obj->members.size() == 1) return commit(splice(text_, obj->begin + 1, obj->end - 1, ""), expected);
    if (index + 1 == obj->members.size()) {
        const auto& prev = obj->members[index - 1];
        return commit(splice(text_, prev.comma, m.value->end, ""), expected);
    }
    const auto& next = obj->members[index + 1];
    const auto start = [&](std::size_t offset) {
        return indentation_before(text_, offset) ? line_begin(text_, offset) : offset;
    };
    return commit(splice(text_, start(m.key_begin), start(next.key_begin), ""), expected);
}

} // namespace clipal::app::setup
