#include "shared/request_line.hpp"

namespace clipal {

std::size_t leading_empty_lines(std::string_view bytes) {
    const auto start = bytes.find_first_not_of("\r\n");
    return start == std::string_view::npos ? bytes.size() : start;
}

std::optional<std::string_view> first_line(std::string_view bytes) {
    bytes.remove_prefix(leading_empty_lines(bytes));
    const auto eol = bytes.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    return bytes.substr(0, eol);
}

std::optional<std::size_t> head_length(std::string_view bytes) {
    bytes.remove_prefix(leading_empty_lines(bytes));
    const auto end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    return end + 4;
}

std::optional<request_line> parse_request_line(std::string_view line) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos) return std::nullopt;
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos) return std::nullopt;
    return request_line{line.substr(0, sp1), line.substr(sp1 + 1, sp2 - sp1 - 1), line.substr(sp2 + 1)};
}

std::string_view request_target(std::string_view line) {
    const auto parsed = parse_request_line(line);
    return parsed ? parsed->target : std::string_view{};
}

} // namespace clipal
