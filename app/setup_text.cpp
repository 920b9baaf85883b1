// Positions, line endings, the --dry-run diff (common prefix and suffix trimmed, then an
// LCS over what is left: settings files are small and clipal's edits are local) and the
// masking of credentials in printed lines.
#include "app/setup_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace clipal::app::setup {

std::string dotted(const key_path& path) {
    std::string out;
    for (const auto& k : path) {
        if (!out.empty()) out += '.';
        out += k;
    }
    return out;
}

std::string edit_error::to_string() const {
    if (line <= 0) return message;
    if (column <= 0) return fmt::format("line {}: {}", line, message);
    return fmt::format("line {}, column {}: {}", line, column, message);
}

edit_error error_at(std::string_view text, std::size_t offset, std::string message) {
    offset = std::min(offset, text.size());
    edit_error e;
    e.line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
    e.column = 1 + static_cast<int>(offset - line_begin(text, offset));
    e.message = std::move(message);
    return e;
}

std::string_view newline_of(std::string_view text) {
    const auto nl = text.find('\n');
    return nl != std::string_view::npos && nl > 0 && text[nl - 1] == '\r' ? "\r\n" : "\n";
}

std::size_t line_begin(std::string_view text, std::size_t offset) {
    offset = std::min(offset, text.size());
    const auto nl = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
    return nl == std::string_view::npos ? 0 : nl + 1;
}

std::size_t line_end(std::string_view text, std::size_t offset) {
    const auto nl = text.find('\n', std::min(offset, text.size()));
    return nl == std::string_view::npos ? text.size() : nl;
}

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        const auto end = nl == std::string_view::npos ? text.size() : nl + 1;
        lines.push_back(text.substr(start, end - start));
        start = end;
    }
    return lines;
}

struct diff_op {
    char kind; // ' ', '-', '+'
    std::string_view line;
};

// The edit script from a to b: common prefix and suffix, then an LCS of the middle (or,
// when the middle is too large for the table, all of it removed and added).
std::vector<diff_op> diff_lines(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
    std::size_t prefix = 0;
    while (prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
    std::size_t suffix = 0;
    while (suffix < a.size() - prefix && suffix < b.size() - prefix &&
           a[a.size() - 1 - suffix] == b[b.size() - 1 - suffix])
        ++suffix;
    std::vector<diff_op> ops;
    for (std::size_t i = 0; i < prefix; ++i) ops.push_back({' ', a[i]});
    const std::size_t n = a.size() - prefix - suffix;
    const std::size_t m = b.size() - prefix - suffix;
    if ((n + 1) * (m + 1) > 4'000'000) {
        for (std::size_t i = 0; i < n; ++i) ops.push_back({'-', a[prefix + i]});
        for (std::size_t j = 0; j < m; ++j) ops.push_back({'+', b[prefix + j]});
    } else {
        // lcs[i][j]: length of the LCS of a[i..n) and b[j..m) (middle parts).
        std::vector<std::uint32_t> lcs((n + 1) * (m + 1), 0);
        const auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& { return lcs[i * (m + 1) + j]; };
        for (std::size_t i = n; i-- > 0;)
            for (std::size_t j = m; j-- > 0;)
                at(i, j) = a[prefix + i] == b[prefix + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
        std::size_t i = 0;
        std::size_t j = 0;
        while (i < n || j < m) {
            if (i < n && j < m && a[prefix + i] == b[prefix + j]) {
                ops.push_back({' ', a[prefix + i]});
                ++i;
                ++j;
            } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
                ops.push_back({'-', a[prefix + i]}); // removals before additions, as diff(1) does
                ++i;
            } else {
                ops.push_back({'+', b[prefix + j]});
                ++j;
            }
        }
    }
    for (std::size_t k = a.size() - suffix; k < a.size(); ++k) ops.push_back({' ', a[k]});
    return ops;
}

std::string hunk_range(std::size_t first_line, std::size_t count) {
    // A range of no lines names the line before it (0 at the start of the file).
    if (count == 0) return fmt::format("{},0", first_line - 1);
    if (count == 1) return std::to_string(first_line);
    return fmt::format("{},{}", first_line, count);
}

bool credential_name(std::string_view name) {
    std::string upper;
    for (const char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper.ends_with("ENV_KEY")) return false; // Codex's env_key names a variable, it holds no secret
    return upper.ends_with("KEY") || upper.ends_with("TOKEN") || upper.find("SECRET") != std::string::npos ||
           upper.find("PASSWORD") != std::string::npos;
}

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-'; }

} // namespace

std::string mask_secrets(std::string_view line, const std::vector<std::string>& keep) {
    std::size_t i = 0;
    while (i < line.size()) {
        if (!name_char(line[i])) {
            ++i;
            continue;
        }
        const auto name_start = i;
        while (i < line.size() && name_char(line[i])) ++i;
        const auto name = line.substr(name_start, i - name_start);
        std::size_t p = i;
        if (p < line.size() && (line[p] == '"' || line[p] == '\'')) ++p;
        while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
        if (p >= line.size() || (line[p] != '=' && line[p] != ':') || !credential_name(name)) continue;
        ++p;
        while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
        std::size_t value_start = p;
        std::size_t value_end = p;
        if (p < line.size() && (line[p] == '"' || line[p] == '\'')) {
            const char quote = line[p];
            value_start = p + 1;
            value_end = value_start;
            while (value_end < line.size() && line[value_end] != quote) {
                if (line[value_end] == '\\' && value_end + 1 < line.size()) ++value_end;
                ++value_end;
            }
        } else {
            while (value_end < line.size() && line[value_end] != ' ' && line[value_end] != '\t' &&
                   line[value_end] != '#' && line[value_end] != ',' && line[value_end] != '\r' &&
                   line[value_end] != '\n')
                ++value_end;
        }
        const auto value = line.substr(value_start, value_end - value_start);
        if (value.empty() || std::find(keep.begin(), keep.end(), value) != keep.end()) return std::string(line);
        return std::string(line.substr(0, value_start)) + "****" + std::string(line.substr(value_end));
    }
    return std::string(line);
}

std::string unified_diff(std::string_view before, std::string_view after, std::string_view before_label,
                         std::string_view after_label, const std::vector<std::string>& keep) {
    if (before == after) return {};
    const auto a = split_lines(before);
    const auto b = split_lines(after);
    const auto ops = diff_lines(a, b);
    constexpr std::size_t context = 3;
    std::string out = fmt::format("--- {}\n+++ {}\n", before_label, after_label);
    std::size_t k = 0;
    // Line numbers (1-based) of ops[k] in a and in b.
    std::vector<std::size_t> a_line(ops.size() + 1);
    std::vector<std::size_t> b_line(ops.size() + 1);
    {
        std::size_t la = 1;
        std::size_t lb = 1;
        for (std::size_t i = 0; i < ops.size(); ++i) {
            a_line[i] = la;
            b_line[i] = lb;
            if (ops[i].kind != '+') ++la;
            if (ops[i].kind != '-') ++lb;
        }
        a_line[ops.size()] = la;
        b_line[ops.size()] = lb;
    }
    while (k < ops.size()) {
        while (k < ops.size() && ops[k].kind == ' ') ++k;
        if (k == ops.size()) break;
        const std::size_t start = k > context ? k - context : 0;
        std::size_t end = k; // one past the last change in this hunk
        std::size_t scan = k;
        while (scan < ops.size()) {
            if (ops[scan].kind != ' ') {
                end = scan + 1;
                ++scan;
                continue;
            }
            if (scan - end >= 2 * context) break;
            ++scan;
        }
        const std::size_t stop = std::min(ops.size(), end + context);
        std::size_t old_count = 0;
        std::size_t new_count = 0;
        for (std::size_t i = start; i < stop; ++i) {
            if (ops[i].kind != '+') ++old_count;
            if (ops[i].kind != '-') ++new_count;
        }
        out +=
            fmt::format("@@ -{} +{} @@\n", hunk_range(a_line[start], old_count), hunk_range(b_line[start], new_count));
        for (std::size_t i = start; i < stop; ++i) {
            std::string_view text = ops[i].line;
            const bool has_newline = text.ends_with('\n');
            if (has_newline) text.remove_suffix(1);
            if (text.ends_with('\r')) text.remove_suffix(1);
            out += ops[i].kind;
            out += mask_secrets(text, keep);
            out += '\n';
            if (!has_newline) out += "\\ No newline at end of file\n";
        }
        k = stop;
    }
    return out;
}

} // namespace clipal::app::setup
