#include "shared/redact.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace clipal {

std::string key_fingerprint(std::string_view key) {
    if (key.size() < 8) return "…";
    if (key.size() < 16) return "…" + std::string(key.substr(key.size() - 4));
    return std::string(key.substr(0, 3)) + "…" + std::string(key.substr(key.size() - 4));
}

namespace {

// True when a query parameter's name is "key" in any case or percent-encoding.
bool is_key_param(std::string_view name) {
    std::string decoded;
    for (std::size_t i = 0; i < name.size() && decoded.size() <= 3; ++i) {
        if (name[i] == '%' && i + 2 < name.size()) {
            const auto byte = std::strtol(std::string(name.substr(i + 1, 2)).c_str(), nullptr, 16);
            decoded += static_cast<char>(byte);
            i += 2;
        } else {
            decoded += name[i];
        }
    }
    return decoded.size() == 3 && std::tolower(static_cast<unsigned char>(decoded[0])) == 'k' &&
           std::tolower(static_cast<unsigned char>(decoded[1])) == 'e' &&
           std::tolower(static_cast<unsigned char>(decoded[2])) == 'y';
}

} // namespace

std::string redact_target(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    std::string out(target.substr(0, q + 1));
    std::string_view query = target.substr(q + 1);
    for (bool first = true;; first = false) {
        const auto amp = query.find('&');
        const std::string_view param = query.substr(0, amp);
        const auto eq = param.find('=');
        if (!first) out += '&';
        if (eq != std::string_view::npos && is_key_param(param.substr(0, eq)))
            out.append(param.substr(0, eq + 1)).append(key_fingerprint(param.substr(eq + 1)));
        else
            out += param;
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return out;
}

redactor::redactor(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
    std::erase_if(secrets_, [](const std::string& s) { return s.size() < 4; });
    std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

std::string redactor::redact(std::string_view text) const {
    std::string out(text);
    for (const auto& s : secrets_) {
        const std::string fp = key_fingerprint(s);
        for (auto pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos + fp.size()))
            out.replace(pos, s.size(), fp);
    }
    return out;
}

} // namespace clipal
